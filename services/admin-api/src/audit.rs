//! The audit trail of people's changes as the admin API serves it (written by
//! `scimsync_db::audit`, which scimctl shares): every change made through the API or the console is
//! recorded with who (the admin token's name and role), when, through which face, what, and the
//! values before and after. Never a secret: a SCIM token is recorded by its id, label and
//! prefix. Written in the transaction of the change where the change is one transaction, so a
//! change is never without its record.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use scimsync_platform::http::{ApiError, QueryParams};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Actor;
use crate::failure::database;
use crate::pagination::{split_page, Filtered};
use crate::{pagination, SharedState};

pub use scimsync_db::audit::{Change, Via};

/// Who made a change, and how.
#[derive(Debug, Clone)]
pub struct By {
    pub actor: Actor,
    pub via: Via,
}

impl By {
    pub fn api(actor: Actor) -> Self {
        Self {
            actor,
            via: Via::Api,
        }
    }

    /// As the audit trail records it.
    pub fn who(&self) -> scimsync_db::audit::Who<'_> {
        scimsync_db::audit::Who {
            name: &self.actor.name,
            role: self.actor.role,
            via: self.via,
        }
    }
}

/// Records a change on `conn` (the change's own transaction, where it has one).
pub async fn record(conn: &impl ConnectionTrait, by: &By, change: Change<'_>) -> Result<(), DbErr> {
    scimsync_db::audit::record(conn, by.who(), change).await
}

#[derive(Debug, Serialize, FromQueryResult, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The admin token's name, or for `via: cli` the operator scimctl ran as.
    pub actor: String,
    /// `operator` or `viewer`.
    pub role: String,
    /// `api`, `console` or `cli` (scimctl).
    pub via: String,
    /// `company.register`, `company.update`, `scim_token.create`, `scim_token.revoke`,
    /// `group.set_level`, `career_automation.add`, `career_automation.delete`,
    /// `user.update`, `user.clear_manager`, `dead_letters.replay`, `dead_letters.purge`,
    /// `event_log.prune` (scimctl).
    pub action: String,
    pub company_id: Option<Uuid>,
    /// What was changed: a user's, group's, token's or automation's id, or a dead-letter queue.
    pub target: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// The admin token's name.
    pub actor: Option<String>,
    pub action: Option<String>,
    pub company_id: Option<Uuid>,
    /// At or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

/// Where a page ended: `<microseconds since 1970>_<id>` of its last entry.
struct Position {
    at: DateTime<Utc>,
    id: i64,
}

impl std::str::FromStr for Position {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (micros, id) = s.split_once('_').ok_or(())?;
        Ok(Self {
            at: DateTime::from_timestamp_micros(micros.parse().map_err(|_| ())?).ok_or(())?,
            id: id.parse().map_err(|_| ())?,
        })
    }
}

/// One page of the trail, newest first.
pub async fn page(state: &SharedState, filter: AuditFilter) -> Result<AuditPage, ApiError> {
    let limit = pagination::limit(filter.limit)?;
    let before: Option<Position> = pagination::cursor(filter.cursor.as_deref())?;
    let mut query = Filtered::new(
        "SELECT id, at, actor, role, via, action, company_id, target, before, after
         FROM admin_audit WHERE $1",
        true,
    );
    if let Some(actor) = filter.actor.filter(|s| !s.is_empty()) {
        query.and(" AND actor = ?", actor);
    }
    if let Some(action) = filter.action.filter(|s| !s.is_empty()) {
        query.and(" AND action = ?", action);
    }
    if let Some(company) = filter.company_id {
        query.and(" AND company_id = ?", company);
    }
    if let Some(since) = filter.since {
        query.and(" AND at >= ?", since);
    }
    if let Some(until) = filter.until {
        query.and(" AND at < ?", until);
    }
    if let Some(before) = before {
        query.and_all(
            " AND (at, id) < (?, ?)",
            [before.at.into(), before.id.into()],
        );
    }
    let rows = AuditEntry::find_by_statement(query.page_statement("at DESC, id DESC", limit))
        .all(&state.db)
        .await
        .map_err(database)?;
    let (entries, next_cursor) = split_page(rows, limit, |e| {
        format!("{}_{}", e.at.timestamp_micros(), e.id)
    });
    Ok(AuditPage {
        entries,
        next_cursor,
    })
}

/// The audit trail of people's changes, newest first, filtered and paginated.
#[utoipa::path(get, operation_id = "list_audit", path = "/api/v1/audit", tag = "audit",
    params(AuditFilter), responses((status = 200, body = AuditPage)))]
pub async fn list(
    State(state): State<SharedState>,
    QueryParams(filter): QueryParams<AuditFilter>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(page(&state, filter).await?))
}
