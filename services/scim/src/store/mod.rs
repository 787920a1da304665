//! The directory's tables (`directory_users`, `directory_groups`, `directory_group_members`):
//! the SCIM resources this service keeps, per company. Every statement names the company, so
//! no id, filter or path reaches another company's rows (SPEC §7).
//!
//! A write that changes a resource bumps its `version` (the ETag) and moves `last_modified`
//! strictly forward, also when the clock does not ([`NEXT_MODIFIED`]): the workers order a
//! resource's changes by it (R17).

pub mod groups;
pub mod listing;
pub mod users;

use chrono::{DateTime, Utc};
use sea_orm::{sqlx, ConnectionTrait, DbBackend, DbErr, FromQueryResult, RuntimeErr, Statement};
use serde_json::Value;
use uuid::Uuid;

/// The next `last_modified` of a row: now, or just after the last one if the clock is behind
/// it (a transaction that started before the previous write committed).
pub(crate) const NEXT_MODIFIED: &str = "GREATEST(now(), last_modified + interval '1 microsecond')";

/// A stored resource: its SCIM id, the resource as stored (canonical names, without `id`,
/// `meta` and, for a group, `members`) and what `meta` says of it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Row {
    pub id: Uuid,
    pub resource: Value,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
}

/// The columns a [`Row`] is read from.
pub(crate) const ROW: &str = "id, resource, version, created_at, last_modified";

/// How a read locks the row it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// A plain read.
    None,
    /// For a write that keeps the row: it does not block a membership being added, whose
    /// foreign key check takes a key-share lock on the user.
    Update,
    /// For a delete.
    Delete,
}

impl Lock {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Update => " FOR NO KEY UPDATE",
            Self::Delete => " FOR UPDATE",
        }
    }
}

/// The company's allowed email domains (R4); empty when it allows any.
pub async fn allowed_domains(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
) -> Result<Vec<String>, DbErr> {
    let row = conn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT allowed_email_domains AS domains FROM companies WHERE id = $1",
            [company_id.into()],
        ))
        .await?;
    match row {
        Some(row) => row.try_get("", "domains"),
        None => Ok(Vec::new()),
    }
}

/// What a failed write means for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteConflict {
    /// A unique index refused the row (userName taken in the company).
    Unique,
    /// A foreign key refused the row (a member that is not, or no longer, a user).
    MissingReference,
    /// PostgreSQL broke a deadlock or a serialisation conflict: the same request may succeed
    /// when made again.
    Retry,
}

/// Classifies a write's error by its SQLSTATE; `None` for anything else.
pub fn conflict(error: &DbErr) -> Option<WriteConflict> {
    let code = match error {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(db))) => db.code()?,
        _ => return None,
    };
    match &*code {
        "23505" => Some(WriteConflict::Unique),
        "23503" => Some(WriteConflict::MissingReference),
        "40P01" | "40001" => Some(WriteConflict::Retry),
        _ => None,
    }
}

/// A text column's value from the resource: a non-empty string, or NULL.
pub(crate) fn text(resource: &Value, name: &str) -> Option<String> {
    resource
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
