//! The admin API: companies, users, the SCIM event log and sync status, as JSON under `/api/v1`,
//! documented in an OpenAPI document at `/openapi.json`; and the console, the same for people,
//! as server-rendered pages at `/`. Reads and writes PostgreSQL; talks to the broker only for
//! the console's dead-letter pages (and the dead-letter counts of its companies page).

pub mod audit;
pub mod auth;
pub mod companies;
pub mod console;
pub mod events;
pub mod failure;
pub mod fields;
pub mod groups;
pub mod hosts;
pub mod openapi;
pub mod pagination;
pub mod scim_tokens;
pub mod status;
pub mod users;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Json, Router};
use scimsync_platform::request_limits::{self, JsonRefusalListener};
use scimsync_platform::settings::{DatabaseSettings, GroupSettings};
use scimsync_platform::Settings;
use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::Access;

pub struct AppState {
    pub db: DatabaseConnection,
    pub groups: GroupSettings,
    /// The configured admin tokens.
    pub access: Arc<Access>,
    pub console: console::Config,
    /// The broker, for the dead-letter pages only.
    pub amqp_url: SecretString,
    pub dead_letters: console::dead_letters::Cache,
}

pub type SharedState = Arc<AppState>;

/// The largest request body read: ingest's default bound for a webhook. The largest valid body,
/// a company with a thousand email domains, is a quarter of it.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Serves until `shutdown`, then drains in-flight requests.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Without a token the API is open to whoever reaches it: fine on loopback for development,
    // never on an address others can reach.
    let address = listener.local_addr()?;
    let access = Access::new(settings.admin.named_tokens()?);
    if access.is_open() && !address.ip().is_loopback() {
        anyhow::bail!(
            "admin-api would serve {address} without authentication: set SCIMSYNC__ADMIN__TOKENS \
             (or SCIMSYNC__ADMIN__TOKEN), or listen on a loopback address \
             (SCIMSYNC__ADMIN__LISTEN=127.0.0.1:8081)"
        );
    }
    let db = connect(&settings.database).await?;
    let state = Arc::new(AppState {
        db: db.clone(),
        groups: settings.groups.clone(),
        access: Arc::new(access),
        console: console::Config::from_settings(&settings),
        amqp_url: settings.amqp.url.clone(),
        dead_letters: console::dead_letters::Cache::default(),
    });
    let app = router(state, settings.admin.allowed_hosts());
    tracing::info!(addr = %listener.local_addr()?, "admin-api listening");
    let listener = JsonRefusalListener(scimsync_platform::http::no_delay(listener));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    db.close().await?;
    Ok(())
}

/// The admin API's pool. Its statements are planned for each call's parameters rather than once
/// for all (PostgreSQL's generic plan after five calls of a prepared statement): companies range
/// from ten people to a hundred thousand, so a plan made for none of them in particular filtered
/// a large company's event log in 100 ms instead of 40. An admin read plans in about a
/// millisecond.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, sea_orm::DbErr> {
    scimsync_db::connect_with(settings, &[("plan_cache_mode", "force_custom_plan")]).await
}

pub fn router(state: SharedState, allowed_hosts: Vec<String>) -> Router {
    let api = Router::new()
        .route("/companies", get(companies::list).post(companies::create))
        .route(
            "/companies/{company_id}",
            axum::routing::patch(companies::patch),
        )
        .route("/audit", get(audit::list))
        .route("/companies/{company_id}/users", get(users::list))
        .route(
            "/companies/{company_id}/users/{user_id}",
            get(users::get).patch(users::patch),
        )
        .route(
            "/companies/{company_id}/users/{user_id}/manager",
            axum::routing::delete(users::clear_manager),
        )
        .route(
            "/companies/{company_id}/users/{user_id}/reports",
            get(users::reports),
        )
        .route("/companies/{company_id}/events", get(events::list))
        .route("/companies/{company_id}/scim/status", get(status::get))
        .route(
            "/companies/{company_id}/scim/tokens",
            get(scim_tokens::list).post(scim_tokens::create),
        )
        .route(
            "/companies/{company_id}/scim/tokens/{token_id}",
            axum::routing::delete(scim_tokens::revoke),
        )
        .route("/companies/{company_id}/groups", get(groups::list))
        .route(
            "/companies/{company_id}/groups/{group_id}",
            axum::routing::put(groups::set_level),
        )
        .route(
            "/companies/{company_id}/groups/{group_id}/career-automations",
            get(groups::list_automations).post(groups::add_automation),
        )
        .route(
            "/companies/{company_id}/groups/{group_id}/career-automations/{automation_id}",
            axum::routing::delete(groups::delete_automation),
        )
        .layer(middleware::from_fn_with_state(
            state.access.clone(),
            auth::require_token,
        ))
        // Outside the auth check, so refused requests are traced and counted too.
        .route_layer(middleware::from_fn(scimsync_platform::observe::observe));
    Router::new()
        .nest("/api/v1", api)
        .merge(console::router(state.clone()))
        .route("/healthz", get(scimsync_platform::http::healthz))
        .route("/metrics", get(scimsync_platform::http::metrics))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        // Unknown paths and methods are refused as JSON too.
        .fallback(scimsync_platform::http::no_such_route)
        .method_not_allowed_fallback(scimsync_platform::http::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            Arc::new(allowed_hosts),
            hosts::require_allowed_host,
        ))
        // Outermost: a URI too long is refused before anything reads it.
        .layer(middleware::from_fn(request_limits::limit_uri))
        .with_state(state)
}
