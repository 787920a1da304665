//! The SQL of one comparison or presence test, on an attribute's own column or on a jsonb
//! expression.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{exists, quote_ident, quote_literal, Builder, Column, ColumnKind, SqlParam, ELEMENT};
use crate::filter::{CompValue, CompareOp};
use crate::schema::{AttrRef, AttrType, Attribute};

impl Builder<'_> {
    pub(super) fn compare(
        &mut self,
        attr: &AttrRef,
        op: CompareOp,
        value: &CompValue,
        element: Option<&str>,
    ) -> String {
        if matches!(value, CompValue::Null) {
            let present = self.present(attr, element);
            return match op {
                CompareOp::Ne => present,
                _ => format!("NOT {present}"),
            };
        }
        let leaf = attr.leaf();
        if let Some(column) = self.column(attr, element) {
            return self.on_column(column, leaf, op, value);
        }
        if let Some(e) = element {
            return self.scalar(&sub_of(e, attr), leaf, op, value);
        }
        if !attr.attr.multi_valued {
            return self.scalar(&self.json(attr, true), leaf, op, value);
        }
        let array = self.json(attr, false);
        let item = sub_of(ELEMENT, attr);
        // `ne` on a multi-valued attribute: no element is equal.
        if op == CompareOp::Ne {
            let eq = self.scalar(&item, leaf, CompareOp::Eq, value);
            return format!("NOT {}", exists(&array, &eq));
        }
        let condition = self.scalar(&item, leaf, op, value);
        exists(&array, &condition)
    }

    pub(super) fn present(&mut self, attr: &AttrRef, element: Option<&str>) -> String {
        if let Some(column) = self.column(attr, element) {
            let c = quote_ident(column.name);
            return match column.kind {
                ColumnKind::Text => format!("({c} IS NOT NULL AND {c} <> '')"),
                ColumnKind::Uuid | ColumnKind::Timestamptz => format!("({c} IS NOT NULL)"),
            };
        }
        if let Some(e) = element {
            return scalar_present(&sub_of(e, attr));
        }
        if !attr.attr.multi_valued {
            let json = self.json(attr, true);
            return match attr.leaf().kind {
                AttrType::Complex => format!(
                    "COALESCE(jsonb_typeof({json}) = 'object' AND {json} <> '{{}}'::jsonb, false)"
                ),
                _ => scalar_present(&json),
            };
        }
        let array = self.json(attr, false);
        match attr.sub {
            Some(_) => exists(&array, &scalar_present(&sub_of(ELEMENT, attr))),
            None => format!(
                "COALESCE(jsonb_array_length(CASE jsonb_typeof({array}) WHEN 'array' THEN {array} END) > 0, false)"
            ),
        }
    }

    fn on_column(
        &mut self,
        column: Column,
        leaf: &Attribute,
        op: CompareOp,
        value: &CompValue,
    ) -> String {
        let c = quote_ident(column.name);
        let CompValue::String(s) = value else {
            return "FALSE".to_owned();
        };
        match column.kind {
            ColumnKind::Text => self.text(&c, leaf.case_exact, op, s),
            ColumnKind::Uuid => match (op, Uuid::parse_str(s)) {
                (CompareOp::Eq | CompareOp::Ne, Ok(id)) => {
                    let p = self.bind(SqlParam::Uuid(id));
                    ordered(&c, op, &p)
                }
                // Not a UUID: equal to no row, so every row is "not equal"; never a cast error.
                (CompareOp::Eq, Err(_)) => "FALSE".to_owned(),
                (CompareOp::Ne, Err(_)) => "TRUE".to_owned(),
                _ => self.text(&format!("{c}::text"), false, op, s),
            },
            ColumnKind::Timestamptz => match time(s) {
                Some(t) => {
                    let p = self.bind(SqlParam::Timestamp(t));
                    ordered(&c, op, &p)
                }
                None => "FALSE".to_owned(),
            },
        }
    }

    /// A comparison of one jsonb scalar.
    fn scalar(&mut self, json: &str, leaf: &Attribute, op: CompareOp, value: &CompValue) -> String {
        match (leaf.kind, value) {
            (AttrType::DateTime, CompValue::String(s)) => match time(s) {
                Some(t) => {
                    let p = self.bind(SqlParam::Timestamp(t));
                    ordered(&format!("({json} #>> '{{}}')::timestamptz"), op, &p)
                }
                None => "FALSE".to_owned(),
            },
            (kind, CompValue::String(s)) if kind.is_textual() => {
                self.text(&format!("({json} #>> '{{}}')"), leaf.case_exact, op, s)
            }
            (AttrType::Boolean, CompValue::Bool(b)) => {
                let p = self.bind(SqlParam::Bool(*b));
                ordered(json, op, &format!("to_jsonb({p}::boolean)"))
            }
            (AttrType::Integer | AttrType::Decimal, CompValue::Number(n)) => {
                let p = self.bind(SqlParam::Text(n.to_string()));
                let number = format!(
                    "(CASE jsonb_typeof({json}) WHEN 'number' THEN ({json} #>> '{{}}')::numeric END)"
                );
                ordered(&number, op, &format!("{p}::numeric"))
            }
            // Resolution rejects every other pairing; match nothing rather than fail.
            _ => "FALSE".to_owned(),
        }
    }

    /// A text comparison, with `lower()` on both sides unless caseExact.
    fn text(&mut self, expr: &str, case_exact: bool, op: CompareOp, s: &str) -> String {
        let wrap = |x: &str| {
            if case_exact {
                x.to_owned()
            } else {
                format!("lower({x})")
            }
        };
        let pattern = match op {
            CompareOp::Co => Some(format!("%{}%", like_escape(s))),
            CompareOp::Sw => Some(format!("{}%", like_escape(s))),
            CompareOp::Ew => Some(format!("%{}", like_escape(s))),
            _ => None,
        };
        match pattern {
            Some(pattern) => {
                let p = self.bind(SqlParam::Text(pattern));
                format!("{} LIKE {} ESCAPE '\\'", wrap(expr), wrap(&p))
            }
            None if op.is_ordering() => {
                let p = self.bind(SqlParam::Text(s.to_owned()));
                ordered(&format!("{} COLLATE \"C\"", wrap(expr)), op, &wrap(&p))
            }
            None => {
                let p = self.bind(SqlParam::Text(s.to_owned()));
                ordered(&wrap(expr), op, &wrap(&p))
            }
        }
    }
}

/// The jsonb expression of the sub-attribute of an element (or the element itself).
fn sub_of(element: &str, attr: &AttrRef) -> String {
    match attr.sub {
        Some(sub) => format!("{element}->{}", quote_literal(sub.name)),
        None => element.to_owned(),
    }
}

/// A jsonb scalar that is there and not null or the empty string.
fn scalar_present(json: &str) -> String {
    format!("(COALESCE({json} #>> '{{}}', '') <> '')")
}

/// `left op right` for eq, ne (NULL-safe, so a missing value is "not equal") and ordering.
fn ordered(left: &str, op: CompareOp, right: &str) -> String {
    let sql_op = match op {
        CompareOp::Ne => "IS DISTINCT FROM",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "=",
    };
    format!("{left} {sql_op} {right}")
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Escapes `LIKE`'s wildcards and its escape character, so the value matches literally.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
