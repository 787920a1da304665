//! The audit trail of people's changes (`admin_audit`): who (a name and a role), when, through
//! which face (the admin API, the console, or the operator CLI), what, and the values before
//! and after. Never a secret: a SCIM token is recorded by its id, label and prefix. Written in
//! the change's own transaction where the change is one transaction, so a change is never
//! without its record. admin-api and scimctl both write through [`record`].

use scimsync_platform::settings::AdminRole;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use uuid::Uuid;

/// Through which face a change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The JSON admin API.
    Api,
    /// The admin console's pages.
    Console,
    /// The operator CLI, `scimctl`.
    Cli,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Console => "console",
            Self::Cli => "cli",
        }
    }
}

/// Who made a change: a name (an admin token's, or the operator a CLI ran as), a role, a face.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub name: &'a str,
    pub role: AdminRole,
    pub via: Via,
}

/// What changed: an action name, the company, the thing changed, its values before and after.
pub struct Change<'a> {
    pub action: &'a str,
    pub company_id: Option<Uuid>,
    pub target: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Records a change on `conn` (the change's own transaction, where it has one).
pub async fn record(
    conn: &impl ConnectionTrait,
    who: Who<'_>,
    change: Change<'_>,
) -> Result<(), DbErr> {
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO admin_audit (actor, role, via, action, company_id, target, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            who.name.into(),
            who.role.as_str().into(),
            who.via.as_str().into(),
            change.action.into(),
            change.company_id.into(),
            change.target.into(),
            change.before.into(),
            change.after.into(),
        ],
    ))
    .await?;
    Ok(())
}
