//! The SCIM event log of a company, newest first (R16).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use scimsync_platform::http::ApiError;
use scimsync_platform::http::{PathParams, QueryParams};
use sea_orm::FromQueryResult;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::failure::database;
use crate::pagination::{split_page, Filtered};
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
// A misspelt filter is an error, not a silently unfiltered page.
#[serde(deny_unknown_fields)]
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
    PathParams(company_id): PathParams<Uuid>,
    QueryParams(filter): QueryParams<EventFilter>,
) -> Result<Json<EventPage>, ApiError> {
    companies::find(&state, company_id).await?;
    let limit = pagination::limit(filter.limit)?;
    let before: Option<i64> = pagination::cursor(filter.cursor.as_deref())?;
    let mut query = Filtered::new(
        "SELECT id, received_at, event_id, event_type, concern, user_id, stytch_member_id, outcome, detail
         FROM scim_event_log WHERE company_id = $1",
        company_id,
    );
    if let Some(outcome) = filter.outcome.filter(|s| !s.is_empty()) {
        query.and(" AND outcome = ?", outcome);
    }
    if let Some(user_id) = filter.user_id {
        query.and(" AND user_id = ?", user_id);
    }
    if let Some(event_type) = filter.event_type.filter(|s| !s.is_empty()) {
        query.and(" AND event_type = ?", event_type);
    }
    if let Some(since) = filter.since {
        query.and(" AND received_at >= ?", since);
    }
    if let Some(until) = filter.until {
        query.and(" AND received_at < ?", until);
    }
    if let Some(before) = before {
        query.and(" AND id < ?", before);
    }
    let rows = EventView::find_by_statement(query.page_statement("id DESC", limit))
        .all(&state.db)
        .await
        .map_err(database)?;
    let (events, next_cursor) = split_page(rows, limit, |e| e.id.to_string());
    Ok(Json(EventPage {
        events,
        next_cursor,
    }))
}
