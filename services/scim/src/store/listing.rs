//! A list request as SQL: the company, the filter (translated by scim-proto, every value a bind
//! parameter), the order and the page.
//!
//! `id`, `userName`, `externalId`, `meta.created`, `meta.lastModified` and a group's
//! `displayName` are compared on their own columns, so a lookup by any of them is an index
//! probe on `(company_id, ...)` however large the company. A filter or `sortBy` naming the
//! attribute another table holds (a user's `groups`, a group's `members`) reads the row with
//! that attribute joined in; no other request pays for the join.

use scimsync_scim_proto::filter::ResolvedFilter;
use scimsync_scim_proto::schema::{GROUP_RESOURCE, USER_RESOURCE};
use scimsync_scim_proto::sql::{order_by, to_sql, Column, ColumnKind, SqlParam, SqlTable};
use scimsync_scim_proto::{AttrRef, Page, ResourceType};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value as DbValue};
use uuid::Uuid;

use super::{Row, ROW};

/// A resource type's table.
pub struct Table {
    pub rt: &'static ResourceType,
    name: &'static str,
    columns: &'static [Column],
    /// The attribute another table holds.
    joined: &'static str,
    /// The jsonb object holding it, for the row `t`.
    joined_sql: &'static str,
}

pub static USERS: Table = Table {
    rt: &USER_RESOURCE,
    name: "directory_users",
    columns: &[
        Column::new("id", "id", ColumnKind::Uuid),
        Column::new("userName", "user_name", ColumnKind::Text),
        Column::new("externalId", "external_id", ColumnKind::Text),
        Column::new("meta.created", "created_at", ColumnKind::Timestamptz),
        Column::new(
            "meta.lastModified",
            "last_modified",
            ColumnKind::Timestamptz,
        ),
    ],
    joined: "groups",
    joined_sql: "jsonb_build_object('groups', COALESCE((
        SELECT jsonb_agg(jsonb_build_object('value', m.group_id::text, 'display', g.display_name))
        FROM directory_group_members m JOIN directory_groups g ON g.id = m.group_id
        WHERE m.user_id = t.id), '[]'::jsonb))",
};

pub static GROUPS: Table = Table {
    rt: &GROUP_RESOURCE,
    name: "directory_groups",
    columns: &[
        Column::new("id", "id", ColumnKind::Uuid),
        Column::new("displayName", "display_name", ColumnKind::Text),
        Column::new("externalId", "external_id", ColumnKind::Text),
        Column::new("meta.created", "created_at", ColumnKind::Timestamptz),
        Column::new(
            "meta.lastModified",
            "last_modified",
            ColumnKind::Timestamptz,
        ),
    ],
    joined: "members",
    joined_sql: "jsonb_build_object('members', COALESCE((
        SELECT jsonb_agg(jsonb_build_object('value', m.user_id::text, 'type', 'User'))
        FROM directory_group_members m WHERE m.group_id = t.id), '[]'::jsonb))",
};

/// The order asked for with `sortBy` / `sortOrder`.
#[derive(Debug, Clone, Copy)]
pub struct Sort {
    pub attr: AttrRef,
    pub descending: bool,
}

/// A list request, its parameters checked.
#[derive(Debug, Clone)]
pub struct Query {
    pub filter: Option<ResolvedFilter>,
    pub sort: Option<Sort>,
    pub page: Page,
}

fn names(filter: &ResolvedFilter, attribute: &str) -> bool {
    match filter {
        ResolvedFilter::Compare { attr, .. }
        | ResolvedFilter::Present(attr)
        | ResolvedFilter::ValuePath { attr, .. } => attr.attr.name == attribute,
        ResolvedFilter::Not(inner) => names(inner, attribute),
        ResolvedFilter::And(parts) | ResolvedFilter::Or(parts) => {
            parts.iter().any(|p| names(p, attribute))
        }
    }
}

impl Table {
    fn needs_join(&self, q: &Query) -> bool {
        q.filter.as_ref().is_some_and(|f| names(f, self.joined))
            || q.sort.is_some_and(|s| s.attr.attr.name == self.joined)
    }

    fn sql_table(&self, join: bool) -> SqlTable<'static> {
        SqlTable {
            resource_column: if join { "doc" } else { "resource" },
            columns: self.columns,
        }
    }

    /// `FROM ... AS x WHERE <company and filter>`, and its bind values ($1 is the company).
    fn source_and_filter(&self, company_id: Uuid, q: &Query) -> (String, Vec<DbValue>) {
        let join = self.needs_join(q);
        let source = if join {
            format!(
                "(SELECT t.*, t.resource || {} AS doc FROM {} AS t WHERE t.company_id = $1)",
                self.joined_sql, self.name
            )
        } else {
            self.name.to_owned()
        };
        let mut sql = format!("FROM {source} AS x WHERE x.company_id = $1");
        let mut values: Vec<DbValue> = vec![company_id.into()];
        if let Some(filter) = &q.filter {
            let fragment = to_sql(filter, &self.sql_table(join), 2);
            sql.push_str(&format!(" AND ({})", fragment.sql));
            values.extend(fragment.params.into_iter().map(db_value));
        }
        (sql, values)
    }

    fn order(&self, q: &Query) -> String {
        match q.sort {
            Some(sort) => {
                let direction = if sort.descending { "DESC" } else { "ASC" };
                let table = self.sql_table(self.needs_join(q));
                format!(
                    "ORDER BY {} {direction} NULLS LAST, x.id",
                    order_by(&sort.attr, &table)
                )
            }
            // Ids are UUIDv7, so this is creation order, and stable from page to page.
            None => "ORDER BY x.id".to_owned(),
        }
    }

    /// The statement of one page (public so a test can EXPLAIN exactly what a request runs).
    pub fn page_statement(&self, company_id: Uuid, q: &Query) -> Statement {
        let (from_where, mut values) = self.source_and_filter(company_id, q);
        let n = values.len();
        let columns = ROW
            .split(", ")
            .map(|c| format!("x.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} {from_where} {} LIMIT ${} OFFSET ${}",
            self.order(q),
            n + 1,
            n + 2
        );
        values.push(i64::try_from(q.page.count).unwrap_or(i64::MAX).into());
        values.push(i64::try_from(q.page.offset()).unwrap_or(i64::MAX).into());
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    fn count_statement(&self, company_id: Uuid, q: &Query) -> Statement {
        let (from_where, values) = self.source_and_filter(company_id, q);
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT count(*) AS n {from_where}"),
            values,
        )
    }

    /// One page of the company's resources that match, and how many match in all.
    pub async fn list(
        &self,
        conn: &impl ConnectionTrait,
        company_id: Uuid,
        q: &Query,
    ) -> Result<(Vec<Row>, u64), DbErr> {
        let rows = if q.page.count == 0 {
            Vec::new()
        } else {
            Row::find_by_statement(self.page_statement(company_id, q))
                .all(conn)
                .await?
        };
        // A first page that is not full holds every match: no count needed (Entra's lookups).
        if q.page.count > 0 && q.page.offset() == 0 && (rows.len() as u64) < q.page.count {
            let total = rows.len() as u64;
            return Ok((rows, total));
        }
        let total: i64 = conn
            .query_one(self.count_statement(company_id, q))
            .await?
            .map(|r| r.try_get("", "n"))
            .transpose()?
            .unwrap_or(0);
        Ok((rows, u64::try_from(total).unwrap_or(0)))
    }
}

fn db_value(p: SqlParam) -> DbValue {
    match p {
        SqlParam::Text(s) => s.into(),
        SqlParam::Bool(b) => b.into(),
        SqlParam::Uuid(u) => u.into(),
        SqlParam::Timestamp(t) => t.into(),
    }
}
