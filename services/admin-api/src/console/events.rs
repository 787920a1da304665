//! A company's event log: filters (outcome, type, user, time), newest first, a page at a time,
//! each row linking to its user.

use axum::extract::{Query, State};
use axum::Extension;
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{html, Markup};
use scimsync_platform::http::PathParams;
use serde::Deserialize;
use uuid::Uuid;

use super::failure::Failure;
use super::layout::{self, CompanyHead, Ctx, Tab};
use super::session::Session;
use super::users::encode;
use crate::events::{EventFilter, EventView};
use crate::SharedState;

/// The outcomes the workers write (README, "Event log"), for the filter's list.
const OUTCOMES: &[&str] = &[
    "created",
    "updated",
    "adopted",
    "deactivated",
    "reactivated",
    "unchanged",
    "stale_ignored",
    "rejected_duplicate_email",
    "rejected_email_domain",
    "member_not_found",
    "missing_email",
    "ignored_non_scim_source",
    "memberships_synced",
    "membership_added",
    "membership_removed",
    "level_changed",
    "group_created",
    "group_updated",
    "group_deleted",
    "ignored_default_group_delete",
    "unparseable_group_event",
    "manager_linked",
    "manager_pending",
    "manager_unchanged",
    "skipped_circular_manager",
    "manager_not_found",
];

#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    cursor: Option<String>,
}

/// A `datetime-local` field's value (no zone: read as UTC), or RFC 3339.
fn moment(text: &str) -> Result<Option<DateTime<Utc>>, Failure> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(at.and_utc()));
        }
    }
    Err(Failure::new(
        axum::http::StatusCode::BAD_REQUEST,
        "Check the form",
        "A time must be a date and time such as 2026-12-07T09:30 (UTC).",
    ))
}

pub async fn page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams(company_id): PathParams<Uuid>,
    Query(query): Query<LogQuery>,
) -> Result<Markup, Failure> {
    let company = crate::companies::find(&state, company_id).await?;
    let user_id = match query.user_id.trim() {
        "" => None,
        text => Some(text.parse::<Uuid>().map_err(|_| {
            Failure::new(
                axum::http::StatusCode::BAD_REQUEST,
                "Check the form",
                "The user must be a user's id, as on their page.",
            )
        })?),
    };
    let filter = EventFilter {
        outcome: Some(query.outcome.clone()),
        concern: None,
        event_type: Some(query.event_type.trim().to_owned()),
        user_id,
        since: moment(&query.since)?,
        until: moment(&query.until)?,
        cursor: query.cursor.clone(),
        limit: Some(50),
    };
    let page = crate::events::page(&state, company_id, filter).await?;
    let user = match user_id {
        Some(id) => crate::users::load(&state, company_id, id).await.ok(),
        None => None,
    };
    let next = page.next_cursor.as_ref().map(|cursor| {
        format!(
            "?outcome={}&event_type={}&user_id={}&since={}&until={}&cursor={}",
            encode(&query.outcome),
            encode(&query.event_type),
            encode(&query.user_id),
            encode(&query.since),
            encode(&query.until),
            encode(cursor)
        )
    });
    let ctx = Ctx {
        session: &session,
        tab: Tab::Events,
        company: Some(CompanyHead {
            id: company_id,
            name: &company.name,
        }),
    };
    let body = html! {
        form.filters method="get" role="search" {
            label { "Outcome"
                select name="outcome" {
                    option value="" selected[query.outcome.is_empty()] { "Any" }
                    @for outcome in OUTCOMES {
                        option value=(outcome) selected[query.outcome == *outcome] { (outcome) }
                    }
                }
            }
            label { "Event type" input type="text" name="event_type" value=(query.event_type) placeholder="scim.member.create"; }
            label { "User id" input type="text" name="user_id" value=(query.user_id); }
            label { "Since (UTC)" input type="datetime-local" name="since" value=(query.since); }
            label { "Until (UTC)" input type="datetime-local" name="until" value=(query.until); }
            button.secondary type="submit" { "Filter" }
            a href={ "/companies/" (company_id) "/events" } { "Clear" }
        }
        @if let Some(user) = &user {
            p { "Events of " a href={ "/companies/" (company_id) "/users/" (user.id) } { (user.email) } "." }
        }
        (rows(company_id, &page.events, user_id))
        @if let Some(next) = next {
            p.pager { a href=(next) rel="next" { "Older events →" } }
        }
    };
    Ok(layout::page(&ctx, "Event log", body))
}

/// Event-log rows, newest first, each linking to its user. Rows that deactivated `focus` (the
/// user whose history this is) are highlighted.
pub fn rows(company_id: Uuid, events: &[EventView], focus: Option<Uuid>) -> Markup {
    html! {
        @if events.is_empty() {
            p.muted { "No event matches." }
        } @else {
            div.table-wrap {
                table.responsive {
                    thead { tr { th { "Received" } th { "Type" } th { "Worker" } th { "Outcome" } th { "User" } th { "Detail" } } }
                    tbody {
                        @for e in events {
                            tr class=[(focus.is_some() && e.outcome == "deactivated").then_some("highlight")] {
                                td data-label="Received" { (layout::time(e.received_at)) }
                                td data-label="Type" { code { (e.event_type) } " " span.muted { "(" (e.door) ")" } }
                                td data-label="Worker" { (e.concern) }
                                td data-label="Outcome" { (layout::outcome(&e.outcome)) }
                                td data-label="User" {
                                    @match e.user_id {
                                        Some(id) => a href={ "/companies/" (company_id) "/users/" (id) } {
                                            (e.stytch_member_id.as_deref().unwrap_or("user"))
                                        },
                                        None => (layout::dash()),
                                    }
                                    @if !e.user_ids.is_empty() {
                                        " " span.muted { "+" (e.user_ids.len()) " others" }
                                    }
                                }
                                td data-label="Detail" {
                                    details { summary { "Detail" } (layout::json(&e.detail)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
