//! The worker's small HTTP endpoint for liveness probes.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Serves `GET /healthz` on `listen` until shutdown; an empty address disables it.
pub async fn serve(listen: &str, shutdown: CancellationToken) -> std::io::Result<Option<JoinHandle<()>>> {
    if listen.trim().is_empty() {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "health endpoint listening");
    let app = Router::new().route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }));
    Ok(Some(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
            tracing::warn!(%error, "health endpoint stopped");
        }
    })))
}
