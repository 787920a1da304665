//! The audit trail of people's changes, newest first: the whole trail, or one company's.

use axum::extract::{Query, State};
use axum::Extension;
use maud::{html, Markup};
use sea_orm::EntityTrait;
use serde::Deserialize;
use uuid::Uuid;

use super::failure::Failure;
use super::layout::{self, CompanyHead, Ctx, Tab};
use super::session::Session;
use super::users::encode;
use crate::audit::AuditFilter;
use crate::SharedState;

const ACTIONS: &[&str] = &[
    "company.register",
    "company.update",
    "scim_token.create",
    "scim_token.revoke",
    "group.set_level",
    "career_automation.add",
    "career_automation.delete",
    "user.update",
    "user.clear_manager",
    "dead_letters.replay",
    "dead_letters.purge",
];

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    company_id: Option<Uuid>,
    cursor: Option<String>,
}

pub async fn page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    Query(query): Query<AuditQuery>,
) -> Result<Markup, Failure> {
    let company = match query.company_id {
        Some(id) => Some(crate::companies::find(&state, id).await?),
        None => None,
    };
    let page = crate::audit::page(
        &state,
        AuditFilter {
            actor: Some(query.actor.trim().to_owned()),
            action: Some(query.action.clone()),
            company_id: query.company_id,
            cursor: query.cursor.clone(),
            limit: Some(50),
            ..AuditFilter::default()
        },
    )
    .await?;
    // Companies by id, to name them: there are few, and the trail names many of them.
    let names: std::collections::HashMap<Uuid, String> =
        scimsync_db::entity::company::Entity::find()
            .all(&state.db)
            .await
            .map_err(crate::failure::database)?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
    let company_param = query
        .company_id
        .map(|id| id.to_string())
        .unwrap_or_default();
    let next = page.next_cursor.as_ref().map(|cursor| {
        format!(
            "?actor={}&action={}&company_id={}&cursor={}",
            encode(&query.actor),
            encode(&query.action),
            encode(&company_param),
            encode(cursor)
        )
    });
    let ctx = Ctx {
        session: &session,
        tab: Tab::Audit,
        company: company.as_ref().map(|c| CompanyHead {
            id: c.id,
            name: &c.name,
        }),
    };
    let body = html! {
        p.muted { "Every change people made through the admin API or this console: who, when, what, the values before and after. Secrets never appear here." }
        form.filters method="get" role="search" {
            @if let Some(id) = query.company_id { input type="hidden" name="company_id" value=(id); }
            label { "Who (token name)" input type="text" name="actor" value=(query.actor); }
            label { "Action"
                select name="action" {
                    option value="" selected[query.action.is_empty()] { "Any" }
                    @for action in ACTIONS {
                        option value=(action) selected[query.action == *action] { (action) }
                    }
                }
            }
            button.secondary type="submit" { "Filter" }
        }
        @if page.entries.is_empty() {
            p.muted { "No change recorded." }
        } @else {
            div.table-wrap {
                table.responsive {
                    thead { tr { th { "When" } th { "Who" } th { "Action" } th { "Company" } th { "Before" } th { "After" } } }
                    tbody {
                        @for e in &page.entries {
                            tr {
                                td data-label="When" { (layout::time(e.at)) }
                                td data-label="Who" { (e.actor) " " span.muted { "(" (e.role) ", " (e.via) ")" } }
                                td data-label="Action" { code { (e.action) } }
                                td data-label="Company" {
                                    @match e.company_id {
                                        Some(id) => a href={ "/companies/" (id) } {
                                            (names.get(&id).map(String::as_str).unwrap_or("company"))
                                        },
                                        None => (layout::dash()),
                                    }
                                }
                                td data-label="Before" { @match &e.before { Some(v) => (layout::json(v)), None => (layout::dash()) } }
                                td data-label="After" { @match &e.after { Some(v) => (layout::json(v)), None => (layout::dash()) } }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p.pager { a href=(next) rel="next" { "Older changes →" } }
        }
    };
    Ok(layout::page(&ctx, "Audit trail", body))
}
