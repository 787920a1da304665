//! A company's SCIM groups: kind, level, active members; operators set a custom group's level
//! (its members are recomputed at once) and attach or remove its career automations.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use scimsync_db::entity::career_automation;
use scimsync_platform::http::PathParams;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use uuid::Uuid;

use super::failure::Failure;
use super::layout::{self, CompanyHead, Ctx, Tab};
use super::session::Session;
use crate::audit::{By, Via};
use crate::failure::database;
use crate::SharedState;

const LEVELS: [(&str, &str); 5] = [
    ("", "No level (Basic)"),
    ("basic", "Basic"),
    ("manager", "Manager"),
    ("full_access", "Full Access"),
    ("admin", "Admin"),
];

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams(company_id): PathParams<Uuid>,
    Query(query): Query<PageQuery>,
) -> Result<Markup, Failure> {
    let company = crate::companies::find(&state, company_id).await?;
    let groups = crate::groups::all(&state, company_id).await?;
    let automations = career_automation::Entity::find()
        .filter(career_automation::Column::CompanyId.eq(company_id))
        .order_by_asc(career_automation::Column::CreatedAt)
        .all(&state.db)
        .await
        .map_err(database)?;
    let operator = session.actor.may_change();
    let ctx = Ctx {
        session: &session,
        tab: Tab::Groups,
        company: Some(CompanyHead {
            id: company_id,
            name: &company.name,
        }),
    };
    let body = html! {
        (layout::notice(query.done.as_deref()))
        @if groups.is_empty() {
            p.muted { "No SCIM group yet: groups appear as the identity provider sends them." }
        }
        @for g in &groups {
            @let name = g.name.clone().unwrap_or_else(|| g.idp_group_id.clone());
            @let custom = g.kind == "custom";
            section.card aria-label=(name) {
                h2 { (name) " "
                    span.badge.quiet { (match g.kind.as_str() { "default_admin" => "default: Admin", "default_full_access" => "default: Full Access", _ => "custom" }) }
                    @if g.deleted { " " span.badge.warn { "deleted in the IdP" } }
                }
                dl.fields {
                    dt { "Active members" } dd { (g.active_members) }
                    dt { "Level granted" }
                    dd {
                        @match g.kind.as_str() {
                            "default_admin" => (layout::level("admin")),
                            "default_full_access" => (layout::level("full_access")),
                            _ => @match &g.permission_level {
                                Some(level) => (layout::level(level)),
                                None => span.muted { "none" },
                            },
                        }
                    }
                    dt { "IdP group id" } dd { code { (g.idp_group_id) } }
                }
                @if custom && operator && !g.deleted {
                    form.filters method="post" action={ "/companies/" (company_id) "/groups/" (g.id) "/level" } {
                        (layout::csrf(&session))
                        label { "Level for members of " (name)
                            select name="permission_level" {
                                @for (value, label) in LEVELS {
                                    option value=(value) selected[g.permission_level.as_deref().unwrap_or("") == value] { (label) }
                                }
                            }
                        }
                        button type="submit" { "Set level" }
                    }
                }
                @if custom {
                    h3 { "Career automations" }
                    @let mine: Vec<_> = automations.iter().filter(|a| a.group_id == g.id).collect();
                    @if mine.is_empty() { p.muted { "None." } }
                    ul {
                        @for a in &mine {
                            li {
                                (a.name) " "
                                @if operator {
                                    form.inline method="post" action={ "/companies/" (company_id) "/groups/" (g.id) "/automations/" (a.id) "/delete" } {
                                        (layout::csrf(&session))
                                        button.danger type="submit" aria-label={ "Remove " (a.name) } { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                    @if operator && !g.deleted {
                        form.filters method="post" action={ "/companies/" (company_id) "/groups/" (g.id) "/automations" } {
                            (layout::csrf(&session))
                            label { "New automation for " (name) input type="text" name="name" required maxlength="256"; }
                            button.secondary type="submit" { "Attach" }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&ctx, "Groups", body))
}

fn by(session: &Session) -> By {
    By {
        actor: session.actor.clone(),
        via: Via::Console,
    }
}

#[derive(Debug, Deserialize)]
pub struct LevelForm {
    #[serde(default)]
    permission_level: String,
}

pub async fn set_level(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams((company_id, group_id)): PathParams<(Uuid, Uuid)>,
    Form(form): Form<LevelForm>,
) -> Response {
    let level = Some(form.permission_level).filter(|l| !l.is_empty());
    match crate::groups::set_group_level(&state, &by(&session), company_id, group_id, level).await {
        Ok(_) => {
            Redirect::to(&format!("/companies/{company_id}/groups?done=level")).into_response()
        }
        Err(error) => Failure::from(error).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct AutomationForm {
    name: String,
}

pub async fn add_automation(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams((company_id, group_id)): PathParams<(Uuid, Uuid)>,
    Form(form): Form<AutomationForm>,
) -> Response {
    match crate::groups::attach_automation(&state, &by(&session), company_id, group_id, &form.name)
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/companies/{company_id}/groups?done=automation")).into_response()
        }
        Err(error) => Failure::from(error).into_response(),
    }
}

pub async fn delete_automation(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams((company_id, group_id, automation_id)): PathParams<(Uuid, Uuid, Uuid)>,
) -> Response {
    match crate::groups::detach_automation(
        &state,
        &by(&session),
        company_id,
        group_id,
        automation_id,
    )
    .await
    {
        Ok(()) => Redirect::to(&format!(
            "/companies/{company_id}/groups?done=automation-deleted"
        ))
        .into_response(),
        Err(error) => Failure::from(error).into_response(),
    }
}
