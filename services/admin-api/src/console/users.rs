//! A company's users: a filtered list, and a user's page with every mapped field, groups,
//! manager and reports, and their event history, so "why was this user deactivated?" is one
//! click from the list. Operators clear a manager here (R15).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use scimsync_platform::http::PathParams;
use serde::Deserialize;
use uuid::Uuid;

use super::events::rows as event_rows;
use super::failure::Failure;
use super::layout::{self, CompanyHead, Ctx, Tab};
use super::session::Session;
use crate::audit::{By, Via};
use crate::events::EventFilter;
use crate::users::{UserFilter, UserView};
use crate::SharedState;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    active: String,
    #[serde(default)]
    level: String,
    cursor: Option<String>,
}

const LEVELS: [(&str, &str); 4] = [
    ("admin", "Admin"),
    ("full_access", "Full Access"),
    ("manager", "Manager"),
    ("basic", "Basic"),
];

pub async fn list(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams(company_id): PathParams<Uuid>,
    Query(query): Query<ListQuery>,
) -> Result<Markup, Failure> {
    let company = crate::companies::find(&state, company_id).await?;
    let filter = UserFilter {
        email_contains: Some(query.email.trim().to_owned()),
        active: match query.active.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        permission_level: Some(query.level.clone()),
        cursor: query.cursor.clone(),
        ..UserFilter::default()
    };
    let page = crate::users::search(&state, company_id, filter).await?;
    let ctx = Ctx {
        session: &session,
        tab: Tab::Users,
        company: Some(CompanyHead {
            id: company_id,
            name: &company.name,
        }),
    };
    let next = page.next_cursor.as_ref().map(|cursor| {
        format!(
            "?email={}&active={}&level={}&cursor={}",
            encode(&query.email),
            encode(&query.active),
            encode(&query.level),
            encode(cursor)
        )
    });
    let body = html! {
        form.filters method="get" role="search" {
            label { "Email contains" input type="search" name="email" value=(query.email); }
            label { "Active"
                select name="active" {
                    option value="" selected[query.active.is_empty()] { "Any" }
                    option value="yes" selected[query.active == "yes"] { "Active" }
                    option value="no" selected[query.active == "no"] { "Deactivated" }
                }
            }
            label { "Level"
                select name="level" {
                    option value="" selected[query.level.is_empty()] { "Any" }
                    @for (value, label) in LEVELS {
                        option value=(value) selected[query.level == value] { (label) }
                    }
                }
            }
            button.secondary type="submit" { "Filter" }
        }
        @if page.users.is_empty() {
            p.muted { "No user matches." }
        } @else {
            div.table-wrap {
                table.responsive {
                    thead { tr { th { "Name" } th { "Email" } th { "Level" } th { "State" } th { "Added" } } }
                    tbody {
                        @for u in &page.users {
                            tr {
                                td data-label="Name" { a href={ "/companies/" (company_id) "/users/" (u.id) } { (full_name(u)) } }
                                td data-label="Email" { (u.email) }
                                td data-label="Level" { (layout::level(&u.permission_level)) }
                                td data-label="State" { (state_badge(u)) }
                                td data-label="Added" { (layout::time(u.date_added)) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p.pager { a href=(next) rel="next" { "Next page →" } }
        }
    };
    Ok(layout::page(&ctx, "Users", body))
}

/// A value for a query string.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn full_name(u: &UserView) -> String {
    let name = format!("{} {}", u.first_name, u.last_name);
    let name = name.trim();
    if name.is_empty() {
        u.email.clone()
    } else {
        name.to_owned()
    }
}

fn state_badge(u: &UserView) -> Markup {
    if u.active {
        html! { span.badge.good { "active" } }
    } else {
        html! { span.badge.warn { "deactivated" } }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams((company_id, user_id)): PathParams<(Uuid, Uuid)>,
    Query(query): Query<PageQuery>,
) -> Result<Markup, Failure> {
    let company = crate::companies::find(&state, company_id).await?;
    let user = crate::users::load(&state, company_id, user_id).await?;
    let manager = match user.manager_id {
        Some(id) => crate::users::load(&state, company_id, id).await.ok(),
        None => None,
    };
    let reports = crate::users::reports_of(&state, company_id, user_id).await?;
    let history = crate::events::page(
        &state,
        company_id,
        EventFilter {
            user_id: Some(user_id),
            limit: Some(100),
            ..EventFilter::default()
        },
    )
    .await?;
    // Why deactivated: the newest row of the user's history that says so.
    let why = (!user.active)
        .then(|| {
            history
                .events
                .iter()
                .find(|e| e.outcome == "deactivated" || e.outcome == "group_deleted")
        })
        .flatten();
    let ctx = Ctx {
        session: &session,
        tab: Tab::Users,
        company: Some(CompanyHead {
            id: company_id,
            name: &company.name,
        }),
    };
    let groups = user.groups.as_array().cloned().unwrap_or_default();
    let fields: [(&str, Option<&str>); 18] = [
        ("Email", Some(user.email.as_str())),
        ("First name", Some(user.first_name.as_str())),
        ("Last name", Some(user.last_name.as_str())),
        ("Job title", user.job_title.as_deref()),
        ("Department", user.department.as_deref()),
        ("Division", user.division.as_deref()),
        ("Country", user.country.as_deref()),
        ("City", user.city.as_deref()),
        ("Street address", user.street_address.as_deref()),
        ("State / province", user.region.as_deref()),
        ("Postal code", user.postal_code.as_deref()),
        ("Business phone", user.business_phone.as_deref()),
        ("Mobile phone", user.mobile_phone.as_deref()),
        ("Fax", user.fax_phone.as_deref()),
        ("Employee number", user.employee_number.as_deref()),
        ("Stytch member id", user.stytch_member_id.as_deref()),
        (
            "Stytch organization id",
            user.stytch_organization_id.as_deref(),
        ),
        ("IdP external id", user.external_id.as_deref()),
    ];
    let body = html! {
        (layout::notice(query.done.as_deref()))
        p { (layout::level(&user.permission_level)) " " (state_badge(&user))
            @if user.scim_provisioned { " " span.badge.quiet { "SCIM provisioned" } } }
        @if !user.active {
            section.card.why aria-labelledby="why" {
                h2 #why { "Why deactivated" }
                p { "Deactivated " (layout::maybe_time(user.deactivated_at, "at an unknown time")) "." }
                @match why {
                    Some(event) => {
                        p { "By " code { (event.event_type) } " received " (layout::time(event.received_at))
                            " (" (event.concern) ", " (event.door) " door): " (layout::outcome(&event.outcome)) }
                        (layout::json(&event.detail))
                    },
                    None => p.muted { "No event in the log says so: the user may have been deactivated by hand, or the rows were pruned." },
                }
            }
        }
        div.grid {
            section.card aria-labelledby="fields" {
                h2 #fields { "Fields" }
                dl.fields {
                    @for (label, value) in fields {
                        dt { (label) } dd { (layout::text(value)) }
                    }
                    dt { "Added" } dd { (layout::time(user.date_added)) }
                    dt { "Deactivated" } dd { (layout::maybe_time(user.deactivated_at, "—")) }
                }
            }
            div {
                section.card aria-labelledby="groups" {
                    h2 #groups { "Groups" }
                    @if groups.is_empty() { p.muted { "In no SCIM group." } }
                    ul {
                        @for g in &groups {
                            li { (g["name"].as_str().or(g["idp_group_id"].as_str()).unwrap_or("?"))
                                " " span.badge.quiet { (g["kind"].as_str().unwrap_or("custom")) } }
                        }
                    }
                }
                section.card aria-labelledby="manager" {
                    h2 #manager { "Manager" }
                    @match &manager {
                        Some(m) => {
                            p { a href={ "/companies/" (company_id) "/users/" (m.id) } { (full_name(m)) } " · " (m.email) }
                            @if session.actor.may_change() {
                                form.inline method="post" action={ "/companies/" (company_id) "/users/" (user_id) "/clear-manager" } {
                                    (layout::csrf(&session))
                                    button.danger type="submit" { "Clear manager" }
                                }
                                p.muted { "A cleared manager stays cleared while the identity provider keeps sending the same value (R15)." }
                            }
                        },
                        None => p.muted { "No manager." },
                    }
                    h3 { "Direct reports" }
                    @if reports.is_empty() { p.muted { "None." } }
                    ul {
                        @for r in &reports {
                            li { a href={ "/companies/" (company_id) "/users/" (r.id) } { (full_name(r)) } " · " (r.email) }
                        }
                    }
                }
            }
        }
        h2 { "Event history" }
        p { a href={ "/companies/" (company_id) "/events?user_id=" (user_id) } { "Open in the event log" } }
        (event_rows(company_id, &history.events, Some(user_id)))
    };
    Ok(layout::page(&ctx, &full_name(&user), body))
}

pub async fn clear_manager(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams((company_id, user_id)): PathParams<(Uuid, Uuid)>,
) -> Response {
    let by = By {
        actor: session.actor.clone(),
        via: Via::Console,
    };
    match crate::users::clear_manager_of(&state, &by, company_id, user_id).await {
        Ok(_) => Redirect::to(&format!(
            "/companies/{company_id}/users/{user_id}?done=manager-cleared"
        ))
        .into_response(),
        Err(error) => Failure::from(error).into_response(),
    }
}
