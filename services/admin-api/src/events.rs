//! The SCIM event log of a company, newest first (R16).

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use scimsync_platform::http::ApiError;
use sea_orm::{DbBackend, FromQueryResult, Statement, Value};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{companies, pagination, SharedState};

#[derive(Debug, Serialize, FromQueryResult, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub event_id: String,
    pub event_type: String,
    /// Which worker logged it (`user-upsert`, ...).
    pub concern: String,
    pub user_id: Option<Uuid>,
    pub stytch_member_id: Option<String>,
    pub outcome: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventFilter {
    pub outcome: Option<String>,
    pub user_id: Option<Uuid>,
    pub event_type: Option<String>,
    /// Received at or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Received before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    pub next_cursor: Option<String>,
}

/// The event log, newest first, filtered and paginated.
#[utoipa::path(get, path = "/api/v1/companies/{company_id}/events", tag = "events",
    params(("company_id" = Uuid, Path), EventFilter),
    responses((status = 200, body = EventPage), (status = 404, description = "no such company")))]
pub async fn list(
    State(state): State<SharedState>,
    Path(company_id): Path<Uuid>,
    Query(filter): Query<EventFilter>,
) -> Result<Json<EventPage>, ApiError> {
    companies::find(&state, company_id).await?;
    let limit = pagination::limit(filter.limit)?;
    let before: Option<i64> = pagination::cursor(filter.cursor.as_deref())?;
    let mut sql = "SELECT id, received_at, event_id, event_type, concern, user_id, stytch_member_id, outcome, detail
                   FROM scim_event_log WHERE company_id = $1"
        .to_owned();
    let mut values: Vec<Value> = vec![company_id.into()];
    let mut push = |clause: &str, value: Value| {
        values.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", values.len())));
    };
    if let Some(outcome) = filter.outcome.filter(|s| !s.is_empty()) {
        push(" AND outcome = ?", outcome.into());
    }
    if let Some(user_id) = filter.user_id {
        push(" AND user_id = ?", user_id.into());
    }
    if let Some(event_type) = filter.event_type.filter(|s| !s.is_empty()) {
        push(" AND event_type = ?", event_type.into());
    }
    if let Some(since) = filter.since {
        push(" AND received_at >= ?", since.into());
    }
    if let Some(until) = filter.until {
        push(" AND received_at < ?", until.into());
    }
    if let Some(before) = before {
        push(" AND id < ?", before.into());
    }
    push(" ORDER BY id DESC LIMIT ?", (limit as i64 + 1).into());
    let mut events = EventView::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .all(&state.db)
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let next_cursor = if events.len() as u64 > limit {
        events.truncate(limit as usize);
        events.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(Json(EventPage {
        events,
        next_cursor,
    }))
}
