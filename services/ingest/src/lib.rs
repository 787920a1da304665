//! The `ingest` service: receives Stytch webhooks signed by Svix, verifies and validates them,
//! publishes each to RabbitMQ with a publisher confirm, and only then answers 2xx (SPEC A1).
//! It needs no database.

pub mod admission;
pub mod dedupe;
pub mod verdict;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use scimsync_platform::amqp::publisher::PublisherConfig;
use scimsync_platform::amqp::topology::full_plan;
use scimsync_platform::amqp::Publisher;
use scimsync_platform::observe::observe;
use scimsync_platform::Settings;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::admission::{admit, Admission};
use crate::dedupe::RecentIds;
use crate::webhook::AppState;

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Serves until `shutdown`, then stops accepting, drains in-flight requests and closes the
/// broker connection (SPEC A4).
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let verifier = scimsync_platform::svix::Verifier::new(
        &settings.ingest.secrets(),
        settings.ingest.timestamp_tolerance_secs,
    )?;
    let publisher_shutdown = CancellationToken::new();
    let publisher = Publisher::start(
        PublisherConfig {
            url: settings.amqp.url.clone(),
            name: "ingest".into(),
            channels: settings.amqp.publisher_channels,
            confirm_timeout: settings.amqp.publish_timeout(),
            plan: full_plan(settings.amqp.delivery_limit),
        },
        publisher_shutdown.clone(),
    );
    let state = Arc::new(AppState {
        verifier,
        publisher: publisher.clone(),
        recent: RecentIds::new(settings.ingest.dedupe_capacity),
        clock: unix_now,
    });
    let admission = Admission::new(
        settings.ingest.max_in_flight,
        Duration::from_secs(settings.ingest.request_timeout_secs),
    );
    let app = router(state, settings.ingest.max_body_bytes, admission);
    tracing::info!(addr = %listener.local_addr()?, "ingest listening");
    axum::serve(scimsync_platform::http::no_delay(listener), app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    publisher.close().await;
    publisher_shutdown.cancel();
    tracing::info!("ingest stopped");
    Ok(())
}

pub fn router(state: Arc<AppState>, max_body_bytes: usize, admission: Admission) -> Router {
    Router::new()
        .route("/webhooks/stytch", post(webhook::receive))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .route_layer(middleware::from_fn_with_state(admission, admit))
        // Traced and counted: the webhook only, not probes and scrapes (noise in both).
        .route_layer(middleware::from_fn(observe))
        .route("/metrics", get(scimsync_platform::http::metrics))
        .route("/healthz", get(scimsync_platform::http::healthz))
        .route("/readyz", get(ready))
        // Unknown paths and methods are refused as JSON, like every other refusal.
        .fallback(scimsync_platform::http::no_such_route)
        .method_not_allowed_fallback(scimsync_platform::http::method_not_allowed)
        .with_state(state)
}

async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, Json<serde_json::Value>) {
    if state.publisher.is_ready() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "broker_unavailable" })),
        )
    }
}
