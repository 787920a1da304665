//! The companies page: every company with its sync health at a glance (last sync, events and
//! rejections in the last 24 hours, dead letters, pending manager links), a search, and the
//! registration form.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use sea_orm::{DbBackend, FromQueryResult, Statement};
use serde::Deserialize;
use uuid::Uuid;

use super::failure::Failure;
use super::layout::{self, Ctx, Tab};
use super::session::Session;
use crate::audit::{By, Via};
use crate::companies::NewCompany;
use crate::failure::database;
use crate::SharedState;

/// A company and its health.
#[derive(Debug, FromQueryResult)]
pub struct Health {
    pub id: Uuid,
    pub name: String,
    pub stytch_organization_id: Option<String>,
    pub last_scim_sync_at: Option<DateTime<Utc>>,
    pub active_users: i64,
    pub events_24h: i64,
    pub rejected_24h: i64,
    pub pending_links: i64,
}

/// Events are counted once each, whatever number of workers logged them; a rejection is an
/// event a worker refused (R3, R4, R14 and their kin).
const HEALTH: &str = "
SELECT c.id, c.name, c.stytch_organization_id, c.last_scim_sync_at,
       (SELECT count(*) FROM users u WHERE u.company_id = c.id AND u.active) AS active_users,
       coalesce(e.events, 0) AS events_24h, coalesce(e.rejected, 0) AS rejected_24h,
       (SELECT count(*) FROM manager_links l
        WHERE l.company_id = c.id AND l.status = 'pending') AS pending_links
FROM companies c
LEFT JOIN LATERAL (
    SELECT count(DISTINCT l.event_id) AS events,
           count(DISTINCT l.event_id) FILTER (
               WHERE l.outcome LIKE 'rejected\\_%' OR l.outcome LIKE 'skipped\\_%'
                  OR l.outcome LIKE 'unparseable\\_%'
                  OR l.outcome IN ('missing_email', 'member_not_found', 'manager_not_found')
           ) AS rejected
    FROM scim_event_log l
    WHERE l.company_id = c.id AND l.received_at > now() - interval '24 hours'
) e ON true
WHERE $2 = '' OR c.name ILIKE '%' || $1 || '%' OR c.stytch_organization_id = $2
   OR c.id::text = $2
ORDER BY lower(c.name), c.id";

/// Companies matching `search` (part of a name, an exact organization id or company id).
pub async fn health(state: &SharedState, search: &str) -> Result<Vec<Health>, Failure> {
    // LIKE's own wildcards in a search are taken literally.
    let search = search.trim();
    let pattern = search
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Health::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        HEALTH,
        [pattern.into(), search.into()],
    ))
    .all(&state.db)
    .await
    .map_err(|e| database(e).into())
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    pub done: Option<String>,
}

pub async fn page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Markup, Failure> {
    let companies = health(&state, &query.q).await?;
    let dead = state.dead_letters.by_company(&state).await;
    let ctx = Ctx {
        session: &session,
        tab: Tab::Companies,
        company: None,
    };
    let body = html! {
        (layout::notice(query.done.as_deref()))
        form.filters method="get" action="/companies" role="search" {
            label { "Search" input type="search" name="q" value=(query.q) placeholder="Name, organization or id"; }
            button.secondary type="submit" { "Search" }
        }
        @if companies.is_empty() {
            p.muted { "No company matches." }
        } @else {
            div.table-wrap {
                table.responsive {
                    caption.muted { "Sync health: events and rejections over the last 24 hours" }
                    thead { tr {
                        th { "Company" } th { "Doors" } th { "Last sync" } th.num { "Active users" }
                        th.num { "Events 24 h" } th.num { "Rejected 24 h" } th.num { "Dead letters" }
                        th.num { "Pending manager links" }
                    } }
                    tbody {
                        @for c in &companies {
                            tr {
                                td data-label="Company" { a href={ "/companies/" (c.id) } { (c.name) } }
                                td data-label="Doors" {
                                    @if c.stytch_organization_id.is_some() { span.badge.quiet { "Stytch" } " " }
                                    span.badge.quiet { "SCIM" }
                                }
                                td data-label="Last sync" {
                                    @match c.last_scim_sync_at {
                                        Some(at) => span title=(at.to_rfc3339()) { (layout::ago(at)) },
                                        None => span.muted { "never" },
                                    }
                                }
                                td.num data-label="Active users" { (c.active_users) }
                                td.num data-label="Events 24 h" { (c.events_24h) }
                                td.num data-label="Rejected 24 h" {
                                    @if c.rejected_24h > 0 { span.badge.bad { (c.rejected_24h) } } @else { "0" }
                                }
                                td.num data-label="Dead letters" { (dead_letters_of(&dead, c)) }
                                td.num data-label="Pending manager links" { (c.pending_links) }
                            }
                        }
                    }
                }
            }
        }
        @if session.actor.may_change() {
            h2 { "Register a company" }
            form.stack.card method="post" action="/companies" {
                (layout::csrf(&session))
                label { "Name" input type="text" name="name" required maxlength="256" autocomplete="off"; }
                label {
                    "Stytch organization id (empty for a company that provisions only through the SCIM door)"
                    input type="text" name="stytch_organization_id" autocomplete="off";
                }
                label {
                    "Allowed email domains (comma-separated; empty allows every domain)"
                    input type="text" name="allowed_email_domains" placeholder="example.com, example.org" autocomplete="off";
                }
                div { button type="submit" { "Register" } }
            }
        }
    };
    Ok(layout::page(&ctx, "Companies", body))
}

/// A company's dead letters, as the counts name it (by organization id or by id); a dash when
/// the broker could not be read.
fn dead_letters_of(counts: &Option<BTreeMap<String, u64>>, company: &Health) -> Markup {
    let Some(counts) = counts else {
        return html! { span.muted title="the broker could not be read" { "?" } };
    };
    let by_org = company
        .stytch_organization_id
        .as_ref()
        .and_then(|org| counts.get(org))
        .copied()
        .unwrap_or(0);
    let by_id = counts.get(&company.id.to_string()).copied().unwrap_or(0);
    let n = by_org + by_id;
    if n > 0 {
        html! { span.badge.bad { (n) } }
    } else {
        html! { "0" }
    }
}

/// Splits a comma- or line-separated list of domains.
pub fn domains(text: &str) -> Vec<String> {
    text.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    name: String,
    #[serde(default)]
    stytch_organization_id: String,
    #[serde(default)]
    allowed_email_domains: String,
}

pub async fn register(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Form(form): Form<RegisterForm>,
) -> Response {
    let org = form.stytch_organization_id.trim();
    let input = NewCompany {
        name: form.name,
        stytch_organization_id: (!org.is_empty()).then(|| org.to_owned()),
        allowed_email_domains: domains(&form.allowed_email_domains),
    };
    let by = By {
        actor: session.actor.clone(),
        via: Via::Console,
    };
    match crate::companies::register(&state, &by, input).await {
        Ok(company) => {
            Redirect::to(&format!("/companies/{}?done=registered", company.id)).into_response()
        }
        Err(error) => Failure::from(error).into_response(),
    }
}
