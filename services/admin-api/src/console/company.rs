//! A company's page: its SCIM status (last sync, users per level and per default group), its
//! events per hour over the last week, and the doors it uses: its Stytch organisation, and the
//! SCIM door's tenant URL and tokens (created here and shown once, listed with their last use,
//! revoked). Operators also edit its name and allowed email domains here.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use scimsync_platform::http::PathParams;
use sea_orm::{DbBackend, FromQueryResult, Statement};
use serde::Deserialize;
use uuid::Uuid;

use super::failure::Failure;
use super::layout::{self, CompanyHead, Ctx, Tab};
use super::session::Session;
use super::{chart, companies::domains};
use crate::audit::{By, Via};
use crate::companies::{CompanyPatch, CompanyView};
use crate::failure::database;
use crate::scim_tokens::CreatedToken;
use crate::SharedState;

#[derive(Debug, FromQueryResult)]
struct LevelCount {
    permission_level: String,
    active: bool,
    n: i64,
}

fn by(session: &Session) -> By {
    By {
        actor: session.actor.clone(),
        via: Via::Console,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub done: Option<String>,
}

pub async fn page(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams(company_id): PathParams<Uuid>,
    Query(query): Query<PageQuery>,
) -> Result<Markup, Failure> {
    render(&state, &session, company_id, query.done.as_deref(), None).await
}

async fn render(
    state: &SharedState,
    session: &Session,
    company_id: Uuid,
    done: Option<&str>,
    created: Option<&CreatedToken>,
) -> Result<Markup, Failure> {
    let company = CompanyView::from(crate::companies::find(state, company_id).await?);
    let status = crate::status::scim_status(state, company_id).await?;
    let levels = LevelCount::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT permission_level, active, count(*) AS n FROM users WHERE company_id = $1
         GROUP BY 1, 2",
        [company_id.into()],
    ))
    .all(&state.db)
    .await
    .map_err(database)?;
    let count = |level: &str| -> i64 {
        levels
            .iter()
            .filter(|l| l.active && l.permission_level == level)
            .map(|l| l.n)
            .sum()
    };
    let inactive: i64 = levels.iter().filter(|l| !l.active).map(|l| l.n).sum();
    let (start, hours) = chart::hours(state, company_id).await?;
    let tokens = scimsync_db::scim_tokens::list(&state.db, company_id)
        .await
        .map_err(database)?;
    let operator = session.actor.may_change();
    let ctx = Ctx {
        session,
        tab: Tab::Overview,
        company: Some(CompanyHead {
            id: company.id,
            name: &company.name,
        }),
    };
    let body = html! {
        (layout::notice(done))
        @if let Some(created) = created {
            section.card aria-labelledby="new-token" {
                h2 #new-token { "New SCIM token" }
                p { "Copy it into the identity provider's " b { "Secret Token" } " field now: it is shown this once, and stored only as a hash." }
                div.secret {
                    label for="token-value" { "Token " (created.label) }
                    input #token-value type="text" readonly value=(created.token) aria-describedby="new-token";
                    button.secondary type="button" data-copy="token-value" hidden { "Copy" }
                }
            }
        }
        h2 { "SCIM status" }
        div.stats {
            div.stat {
                b.small { @match status.last_sync_at { Some(at) => (layout::time(at)), None => "never" } }
                span { "Last sync" }
            }
            div.stat { b { (count("admin")) } span { "Admin" } }
            div.stat { b { (count("full_access")) } span { "Full Access" } }
            div.stat { b { (count("manager")) } span { "Manager" } }
            div.stat { b { (count("basic")) } span { "Basic" } }
            div.stat { b { (inactive) } span { "Deactivated" } }
            @for group in &status.groups {
                div.stat { b { (group.active_users) } span { "Active in " (group.name) } }
            }
        }
        h2 { "Events per hour, last 7 days" }
        div.card { div.chart-wrap { (chart::svg(start, &hours)) } }
        h2 { "Doors" }
        div.grid {
            section.card aria-labelledby="door-stytch" {
                h3 #door-stytch { "Stytch" }
                @match &company.stytch_organization_id {
                    Some(org) => p { "Organization " code { (org) } },
                    None => p.muted { "No Stytch organization: this company provisions only through the SCIM door." },
                }
            }
            section.card aria-labelledby="door-scim" {
                h3 #door-scim { "SCIM 2.0" }
                dl.fields {
                    dt { "Tenant URL" }
                    dd {
                        @match &state.console.scim_tenant_url {
                            Some(url) => code { (url) },
                            None => span.muted {
                                "Not known here: set " code { "SCIMSYNC__SCIM__PUBLIC_URL" }
                                " to the address identity providers reach the SCIM service at."
                            },
                        }
                    }
                    dt { "Active tokens" } dd { (tokens.iter().filter(|t| t.revoked_at.is_none()).count()) " of at most " (scimsync_db::scim_tokens::MAX_ACTIVE) }
                }
            }
        }
        h3 { "SCIM tokens" }
        @if tokens.is_empty() {
            p.muted { "No token yet." }
        } @else {
            div.table-wrap {
                table.responsive {
                    thead { tr { th { "Label" } th { "Token" } th { "Created" } th { "Last used" } th { "State" } } }
                    tbody {
                        @for t in &tokens {
                            tr {
                                td data-label="Label" { (layout::text(Some(&t.label))) }
                                td data-label="Token" { code { (t.prefix) "…" } }
                                td data-label="Created" { (layout::time(t.created_at)) }
                                td data-label="Last used" { (layout::maybe_time(t.last_used_at, "never")) }
                                td data-label="State" {
                                    @match t.revoked_at {
                                        Some(at) => { span.badge.quiet { "revoked" } " " (layout::time(at)) },
                                        None => {
                                            span.badge.good { "active" } " "
                                            @if operator {
                                                form.inline method="post" action={ "/companies/" (company.id) "/tokens/" (t.id) "/revoke" } {
                                                    (layout::csrf(session))
                                                    button.danger type="submit" aria-label={ "Revoke token " (t.prefix) } { "Revoke" }
                                                }
                                            }
                                        },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if operator {
            form.filters method="post" action={ "/companies/" (company.id) "/tokens" } {
                (layout::csrf(session))
                label { "New token's label" input type="text" name="label" maxlength="256" placeholder="Entra production"; }
                button type="submit" { "Create SCIM token" }
            }
            h2 { "Edit" }
            form.stack.card method="post" action={ "/companies/" (company.id) } {
                (layout::csrf(session))
                label { "Name" input type="text" name="name" required maxlength="256" value=(company.name); }
                label {
                    "Allowed email domains (comma-separated; empty allows every domain)"
                    input type="text" name="allowed_email_domains" value=(company.allowed_email_domains.join(", "));
                }
                div { button type="submit" { "Save" } }
            }
        } @else {
            h2 { "Allowed email domains" }
            p { @if company.allowed_email_domains.is_empty() { span.muted { "Every domain." } } @else { (company.allowed_email_domains.join(", ")) } }
        }
    };
    Ok(layout::page(&ctx, &company.name, body))
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    name: String,
    #[serde(default)]
    allowed_email_domains: String,
}

pub async fn edit(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams(company_id): PathParams<Uuid>,
    Form(form): Form<EditForm>,
) -> Response {
    let patch = CompanyPatch {
        name: Some(form.name),
        allowed_email_domains: Some(domains(&form.allowed_email_domains)),
    };
    match crate::companies::update(&state, &by(&session), company_id, patch).await {
        Ok(_) => Redirect::to(&format!("/companies/{company_id}?done=saved")).into_response(),
        Err(error) => Failure::from(error).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    label: String,
}

/// Creates a token and shows it on this answer only (not a redirect: the secret must not sit in
/// a URL or be shown again by a reload of another page).
pub async fn create_token(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams(company_id): PathParams<Uuid>,
    Form(form): Form<TokenForm>,
) -> Response {
    let label = Some(form.label.trim()).filter(|l| !l.is_empty());
    let created =
        match crate::scim_tokens::create_token(&state, &by(&session), company_id, label).await {
            Ok(created) => created,
            Err(error) => return Failure::from(error).into_response(),
        };
    match render(&state, &session, company_id, None, Some(&created)).await {
        Ok(page) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], page).into_response(),
        Err(failure) => failure.into_response(),
    }
}

pub async fn revoke_token(
    State(state): State<SharedState>,
    Extension(session): Extension<Session>,
    PathParams((company_id, token_id)): PathParams<(Uuid, Uuid)>,
) -> Response {
    match crate::scim_tokens::revoke_token(&state, &by(&session), company_id, token_id).await {
        Ok(true) => Redirect::to(&format!("/companies/{company_id}?done=revoked")).into_response(),
        Ok(false) => Failure::not_found("active SCIM token").into_response(),
        Err(error) => Failure::from(error).into_response(),
    }
}
