//! Translating a resolved filter into a parameterised PostgreSQL condition for a table that
//! keeps each resource as a row with the canonical resource in a `jsonb` column, plus some
//! attributes in indexed columns of their own.
//!
//! - Every value is a bind parameter (`$n`, numbered from the caller's start); the SQL text
//!   holds only the caller's column names (quoted), the schema's attribute names and fixed
//!   keywords.
//! - An attribute with its own column is compared on that column, so `userName eq "x"` is
//!   `lower("user_name") = lower($1)` (an expression index probe, userName not being
//!   caseExact) and `id eq "x"` is `"id" = $1` (an index probe); a value that is not a UUID
//!   compared with a uuid column matches nothing instead of failing the query.
//! - Everything else reads the jsonb column; a multi-valued attribute matches through
//!   `EXISTS (SELECT 1 FROM jsonb_array_elements(...) AS e(v) WHERE ...)`.
//! - Meaning matches [`crate::filter::ResolvedFilter::matches`]: `caseExact` honoured,
//!   `co` / `sw` / `ew` as `LIKE` with `%`, `_` and `\` escaped, `pr` present and not null or
//!   empty, `ne` and `not (...)` match a row that lacks the attribute (SQL's NULL is folded to
//!   false under `NOT`), ordering of strings by code point (`COLLATE "C"`), of numbers as
//!   numeric and of dateTimes as timestamptz.

mod compare;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::filter::ResolvedFilter;
use crate::schema::AttrRef;

/// The SQL type of an attribute's own column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `text` (compared with `lower()` on both sides when the attribute is not caseExact).
    Text,
    /// `uuid` (a literal that is not a UUID matches nothing).
    Uuid,
    /// `timestamptz`.
    Timestamptz,
}

/// An attribute stored in a column of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The attribute's canonical path, e.g. `userName`, `meta.lastModified` (compared
    /// case-insensitively with the filter's resolved path).
    pub attribute: &'static str,
    /// The column name (quoted in the SQL).
    pub name: &'static str,
    /// Its type.
    pub kind: ColumnKind,
}

impl Column {
    /// A column for an attribute.
    pub const fn new(attribute: &'static str, name: &'static str, kind: ColumnKind) -> Self {
        Self {
            attribute,
            name,
            kind,
        }
    }
}

/// Where the resources live: the jsonb column and the attributes with columns of their own.
#[derive(Debug, Clone, Copy)]
pub struct SqlTable<'a> {
    /// The `jsonb` column holding the canonical resource (e.g. `resource`).
    pub resource_column: &'static str,
    /// Attributes with columns of their own.
    pub columns: &'a [Column],
}

/// A bind value, in the order of the placeholders.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    /// A `text` value (also numbers, cast with `::numeric` in the SQL).
    Text(String),
    /// A `boolean`.
    Bool(bool),
    /// A `uuid`.
    Uuid(Uuid),
    /// A `timestamptz`.
    Timestamp(DateTime<Utc>),
}

/// A condition to put after `WHERE` (or `AND`), with its bind values for `$first..`.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFragment {
    /// The SQL text.
    pub sql: String,
    /// The values of `$first`, `$first + 1`, ... in order.
    pub params: Vec<SqlParam>,
}

/// Translates `filter` for `table`, numbering placeholders from `first_param` (1 for a query
/// with no other parameters).
pub fn to_sql(filter: &ResolvedFilter, table: &SqlTable<'_>, first_param: usize) -> SqlFragment {
    let mut b = Builder {
        table: *table,
        params: Vec::new(),
        first: first_param,
    };
    let sql = b.filter(filter, None);
    SqlFragment {
        sql,
        params: b.params,
    }
}

/// The alias of one element of a multi-valued attribute inside `EXISTS (...)`.
const ELEMENT: &str = "e.v";

pub(crate) struct Builder<'a> {
    table: SqlTable<'a>,
    params: Vec<SqlParam>,
    first: usize,
}

impl Builder<'_> {
    /// Adds a bind value and returns its placeholder.
    pub(crate) fn bind(&mut self, p: SqlParam) -> String {
        self.params.push(p);
        format!("${}", self.first + self.params.len() - 1)
    }

    /// `element` is the jsonb expression of the current element inside a value filter.
    fn filter(&mut self, f: &ResolvedFilter, element: Option<&str>) -> String {
        match f {
            ResolvedFilter::Compare { attr, op, value } => self.compare(attr, *op, value, element),
            ResolvedFilter::Present(attr) => self.present(attr, element),
            ResolvedFilter::Not(inner) => {
                format!("NOT COALESCE(({}), false)", self.filter(inner, element))
            }
            ResolvedFilter::And(parts) => self.join(parts, " AND ", element),
            ResolvedFilter::Or(parts) => self.join(parts, " OR ", element),
            ResolvedFilter::ValuePath { attr, filter } => {
                let inner = self.filter(filter, Some(ELEMENT));
                exists(&self.json(attr, false), &inner)
            }
        }
    }

    fn join(&mut self, parts: &[ResolvedFilter], sep: &str, element: Option<&str>) -> String {
        let parts: Vec<String> = parts.iter().map(|p| self.filter(p, element)).collect();
        format!("({})", parts.join(sep))
    }

    /// The column of an attribute that has one (never inside a value filter).
    pub(crate) fn column(&self, attr: &AttrRef, element: Option<&str>) -> Option<Column> {
        if element.is_some() {
            return None;
        }
        let path = attr.path();
        self.table
            .columns
            .iter()
            .find(|c| c.attribute.eq_ignore_ascii_case(&path))
            .copied()
    }

    /// The jsonb expression of the attribute (with its sub-attribute when `with_sub` and the
    /// attribute is single-valued).
    pub(crate) fn json(&self, attr: &AttrRef, with_sub: bool) -> String {
        let mut out = quote_ident(self.table.resource_column);
        if let Some(urn) = attr.container() {
            out.push_str(&format!("->{}", quote_literal(urn)));
        }
        out.push_str(&format!("->{}", quote_literal(attr.attr.name)));
        if let (true, Some(sub)) = (with_sub, attr.sub) {
            out.push_str(&format!("->{}", quote_literal(sub.name)));
        }
        out
    }
}

/// The `ORDER BY` expression for `sortBy` (RFC 7644 §3.4.2.3): the attribute's own column, or
/// its jsonb text (a multi-valued attribute sorts by its primary element, else its first),
/// with `lower()` unless caseExact. Append `ASC` / `DESC` and a tie-breaker such as `id`.
pub fn order_by(attr: &AttrRef, table: &SqlTable<'_>) -> String {
    let b = Builder {
        table: *table,
        params: Vec::new(),
        first: 1,
    };
    let leaf = attr.leaf();
    let text = match (b.column(attr, None), attr.attr.multi_valued) {
        (Some(c), _) => return lower_unless(quote_ident(c.name), leaf.case_exact, c.kind),
        (None, false) => format!("({} #>> '{{}}')", b.json(attr, true)),
        (None, true) => {
            let array = b.json(attr, false);
            let sub = attr
                .sub
                .or_else(|| attr.attr.sub("value"))
                .map_or(String::new(), |s| format!("->{}", quote_literal(s.name)));
            format!(
                "(SELECT e.v{sub} #>> '{{}}' FROM jsonb_array_elements(CASE jsonb_typeof({array}) \
                 WHEN 'array' THEN {array} END) WITH ORDINALITY AS e(v, n) \
                 ORDER BY COALESCE(e.v->'primary' = 'true'::jsonb, false) DESC, e.n LIMIT 1)"
            )
        }
    };
    match leaf.kind {
        crate::schema::AttrType::DateTime => format!("{text}::timestamptz"),
        crate::schema::AttrType::Integer | crate::schema::AttrType::Decimal => {
            format!("{text}::numeric")
        }
        _ if leaf.case_exact => format!("{text} COLLATE \"C\""),
        _ => format!("lower({text}) COLLATE \"C\""),
    }
}

fn lower_unless(column: String, case_exact: bool, kind: ColumnKind) -> String {
    match kind {
        ColumnKind::Text if !case_exact => format!("lower({column})"),
        _ => column,
    }
}

/// `EXISTS` over the elements of `json` (an array, or a lone object taken as one element).
pub(crate) fn exists(json: &str, condition: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof({json}) \
         WHEN 'array' THEN {json} WHEN 'object' THEN jsonb_build_array({json}) END) \
         AS e(v) WHERE {condition})"
    )
}

/// A SQL identifier, double-quoted.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal for the schema's own names (attribute names and URNs, never input).
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests;
