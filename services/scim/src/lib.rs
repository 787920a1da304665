//! The `scim` service: the SCIM 2.0 server identity providers (Entra ID, Okta, ...) provision
//! straight into (SPEC §1, §6, §7). It is the SCIM protocol's system of record: users, groups
//! and memberships as SCIM resources, with the ids it assigns and their versions, per company.
//! Every write commits the resource and an outbox row together and is answered after the
//! commit; the relay publishes the row to the same queue the Stytch door feeds, and the
//! workers apply it with the same rules (R1-R17).
//!
//! The bearer token says which company; every query is scoped to it.

pub mod admission;
pub mod auth;
pub mod body;
pub mod changes;
pub mod conditional;
pub mod context;
pub mod discovery;
pub mod domains;
pub mod error;
pub mod groups;
pub mod input;
pub mod mapping;
pub mod metrics;
pub mod outbox;
pub mod params;
pub mod render;
pub mod search;
pub mod store;
pub mod throttle;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use scimsync_platform::amqp::publisher::PublisherConfig;
use scimsync_platform::amqp::topology::full_plan;
use scimsync_platform::amqp::Publisher;
use scimsync_platform::settings::ScimSettings;
use scimsync_platform::Settings;
use sea_orm::DatabaseConnection;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The media type of every SCIM answer (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// Where the protocol's endpoints live: the tenant URL is `https://HOST/scim/v2`.
pub const BASE_PATH: &str = "/scim/v2";

pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: ScimSettings,
    pub publisher: Publisher,
}

pub type SharedState = Arc<AppState>;

/// Serves until `shutdown`, then stops accepting, drains in-flight requests, and stops the
/// relay (rows it did not publish stay in the outbox for the next start or another replica).
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let db = scimsync_db::connect(&settings.database).await?;
    let background = CancellationToken::new();
    let publisher = Publisher::start(
        PublisherConfig {
            url: settings.amqp.url.clone(),
            name: "scim".into(),
            channels: settings.amqp.publisher_channels,
            confirm_timeout: settings.amqp.publish_timeout(),
            plan: full_plan(settings.amqp.delivery_limit),
        },
        background.clone(),
    );
    let relay = outbox::Relay {
        db: db.clone(),
        publisher: publisher.clone(),
        batch: settings.scim.relay_batch,
        lease: Duration::from_secs(settings.scim.relay_lease_secs),
        poll: Duration::from_millis(settings.scim.relay_poll_ms),
    };
    let relay = tokio::spawn(relay.run(background.clone()));
    tokio::spawn(outbox::sample_depth(
        db.clone(),
        Duration::from_secs(5),
        background.clone(),
    ));
    let tokens = auth::Tokens::new(db.clone());
    tokio::spawn(tokens.clone().listen(background.clone()));
    let throttle = throttle::Throttle::new(settings.scim.rate_per_second, settings.scim.rate_burst);
    let state = Arc::new(AppState {
        db: db.clone(),
        settings: settings.scim.clone(),
        publisher: publisher.clone(),
    });
    let admission = admission::Admission::new(settings.scim.max_in_flight);
    let app = router(state, tokens, throttle, admission);
    tracing::info!(addr = %listener.local_addr()?, "scim listening");
    axum::serve(scimsync_platform::http::no_delay(listener), app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    background.cancel();
    let _ = relay.await;
    publisher.close().await;
    db.close().await?;
    tracing::info!("scim stopped");
    Ok(())
}

pub fn router(
    state: SharedState,
    tokens: Arc<auth::Tokens>,
    throttle: Arc<throttle::Throttle>,
    admission: admission::Admission,
) -> Router {
    // Routes spelled out under the base path rather than nested: a nested router's requests
    // have the prefix stripped from their URI, and logs, traces and error details would name
    // `/Users` where the client asked for `/scim/v2/Users`.
    let at = |path: &str| format!("{BASE_PATH}{path}");
    let protocol = Router::new()
        .route(
            &at("/ServiceProviderConfig"),
            get(discovery::service_provider_config),
        )
        .route(&at("/Schemas"), get(discovery::schemas))
        .route(&at("/Schemas/{id}"), get(discovery::schema))
        .route(&at("/ResourceTypes"), get(discovery::resource_types))
        .route(&at("/ResourceTypes/{id}"), get(discovery::resource_type))
        .route(&at("/Users"), get(search::users).post(users::create))
        .route(&at("/Users/.search"), post(search::search_users))
        .route(
            &at("/Users/{id}"),
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route(&at("/Groups"), get(search::groups).post(groups::create))
        .route(&at("/Groups/.search"), post(search::search_groups))
        .route(
            &at("/Groups/{id}"),
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route(&at("/.search"), post(search::search_root))
        .method_not_allowed_fallback(discovery::method_not_allowed)
        // Each layer wraps the ones above it, so a request meets them from the bottom up:
        // observe, count, admission, span, authentication, throttle, then the handler.
        // Innermost: the rate is per company, which only authentication knows; a request over
        // its company's rate never reaches a handler.
        .route_layer(middleware::from_fn_with_state(throttle, throttle::limit))
        .route_layer(middleware::from_fn_with_state(tokens, auth::authenticate))
        // Outside authentication, so its span is the one authentication names the company in.
        .route_layer(middleware::from_fn(context::request_span))
        // Before authentication, which may read the database too.
        .route_layer(middleware::from_fn_with_state(admission, admission::admit))
        .route_layer(middleware::from_fn(metrics::count))
        // Outermost, outside authentication, so refused requests are traced and counted too.
        .route_layer(middleware::from_fn(scimsync_platform::observe::observe));
    Router::new()
        .merge(protocol)
        .route("/healthz", get(scimsync_platform::http::healthz))
        .route("/readyz", get(ready))
        .route("/metrics", get(scimsync_platform::http::metrics))
        .fallback(discovery::no_such_route)
        .with_state(state)
}

/// Ready while the database answers: that is what a write needs. The broker is not: with it
/// down, writes still commit and wait in the outbox, and taking every replica out of service
/// would turn a broker outage into an outage of provisioning.
async fn ready(State(state): State<SharedState>) -> (StatusCode, Json<serde_json::Value>) {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "broker": state.publisher.is_ready() })),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "database_unavailable" })),
        ),
    }
}
