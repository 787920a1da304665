//! The SCIM event log of a company, newest first (R16): by the time ingest received each event,
//! not by the order rows were written, since an event replayed from a dead-letter queue, or
//! retried for hours, is logged long after it was received. Rows received in the same
//! microsecond come newest written first.

use std::str::FromStr;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use scimsync_platform::http::ApiError;
use scimsync_platform::http::{PathParams, QueryParams};
use scimsync_schema::{Concern, EventOutcome, UnknownName};
use sea_orm::FromQueryResult;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
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
    /// The door the event came through: `stytch` (a webhook) or `scim` (the SCIM service).
    pub door: String,
    /// The user the event is about, when it is about one.
    pub user_id: Option<Uuid>,
    /// Other users the event changed (members of a deleted group, a manager gaining a report).
    pub user_ids: Vec<Uuid>,
    pub stytch_member_id: Option<String>,
    pub outcome: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
// Read from the query string: utoipa would declare them path parameters otherwise.
#[into_params(parameter_in = Query)]
// A misspelt filter is an error, not a silently unfiltered page.
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// Rows with this outcome; any other value is refused (`invalid_query`, naming `outcome`).
    #[param(schema_with = outcome_names)]
    pub outcome: Option<String>,
    /// Rows this worker logged; any other value is refused (`invalid_query`, naming `concern`).
    #[param(schema_with = concern_names)]
    pub concern: Option<String>,
    /// Rows about this user, and rows that changed them among others.
    pub user_id: Option<Uuid>,
    pub event_type: Option<String>,
    /// Received at or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Received before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A query parameter naming one of a closed set (`None` or empty: no filter). A value outside
/// the set is refused naming the parameter and listing the valid values: filtering on a
/// misspelt outcome would answer an empty page that looks like "nothing happened".
fn named<T: FromStr<Err = UnknownName>>(
    param: &str,
    value: Option<String>,
) -> Result<Option<T>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    value.parse().map(Some).map_err(|unknown: UnknownName| {
        ApiError::bad_request(
            "invalid_query",
            format!(
                "{param}: {:?} is not one of the valid values: {}",
                unknown.text,
                unknown.known.join(", ")
            ),
        )
        .with_field(Some(param))
    })
}

/// A string parameter whose values are `names`, for `/openapi.json`.
fn one_of(names: impl Iterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .build()
}

fn outcome_names() -> Object {
    one_of(EventOutcome::ALL.iter().map(|o| o.as_str()))
}

fn concern_names() -> Object {
    one_of(Concern::ALL.iter().map(|c| c.as_str()))
}

/// Where a page ended: the last row's receive time, to the microsecond PostgreSQL keeps, and its
/// id. Written `<microseconds since 1970>_<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub received_at: DateTime<Utc>,
    pub id: i64,
}

impl Position {
    fn of(event: &EventView) -> Self {
        Self {
            received_at: event.received_at,
            id: event.id,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.received_at.timestamp_micros(), self.id)
    }
}

impl std::str::FromStr for Position {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (micros, id) = s.split_once('_').ok_or(())?;
        let micros = micros.parse().map_err(|_| ())?;
        Ok(Self {
            received_at: DateTime::from_timestamp_micros(micros).ok_or(())?,
            id: id.parse().map_err(|_| ())?,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    pub next_cursor: Option<String>,
}

/// The event log, newest first, filtered and paginated.
#[utoipa::path(get, operation_id = "list_events", path = "/api/v1/companies/{company_id}/events", tag = "events",
    params(("company_id" = Uuid, Path), EventFilter),
    responses((status = 200, body = EventPage), (status = 400, description = "a filter outside its valid values (`invalid_query`, naming it)"), (status = 404, description = "no such company")))]
pub async fn list(
    State(state): State<SharedState>,
    PathParams(company_id): PathParams<Uuid>,
    QueryParams(filter): QueryParams<EventFilter>,
) -> Result<Json<EventPage>, ApiError> {
    Ok(Json(page(&state, company_id, filter).await?))
}

/// One page of the company's event log, newest first.
pub async fn page(
    state: &SharedState,
    company_id: Uuid,
    filter: EventFilter,
) -> Result<EventPage, ApiError> {
    let outcome: Option<EventOutcome> = named("outcome", filter.outcome)?;
    let concern: Option<Concern> = named("concern", filter.concern)?;
    companies::find(state, company_id).await?;
    let limit = pagination::limit(filter.limit)?;
    let before: Option<Position> = pagination::cursor(filter.cursor.as_deref())?;
    let mut query = Filtered::new(
        "SELECT id, received_at, event_id, event_type, concern, door, user_id, user_ids,
                stytch_member_id, outcome, detail
         FROM scim_event_log WHERE company_id = $1",
        company_id,
    );
    if let Some(outcome) = outcome {
        query.and(" AND outcome = ?", outcome.as_str());
    }
    if let Some(concern) = concern {
        query.and(" AND concern = ?", concern.as_str());
    }
    if let Some(user_id) = filter.user_id {
        // Every row that changed the user: the rows about them, and the rows that changed them
        // among others (a group deleted, a level set), found through the GIN index on
        // `user_ids` (its predicate repeated, so the planner can use it).
        query.and_all(
            " AND (user_id = ? OR (user_ids <> '{}' AND user_ids @> ARRAY[?]::uuid[]))",
            [user_id.into(), user_id.into()],
        );
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
        // A row comparison, so the index on (company, ..., received_at, id) reads from there on.
        query.and_all(
            " AND (received_at, id) < (?, ?)",
            [before.received_at.into(), before.id.into()],
        );
    }
    let order = "received_at DESC, id DESC";
    let rows = EventView::find_by_statement(query.page_statement(order, limit))
        .all(&state.db)
        .await
        .map_err(database)?;
    let (events, next_cursor) = split_page(rows, limit, |e| Position::of(e).to_string());
    Ok(EventPage {
        events,
        next_cursor,
    })
}
