//! HTTP pieces shared by the services: the JSON error type, the health and metrics endpoints.
//!
//! Every refusal is JSON naming the problem. Three families: bad input (400/401/413: the
//! sender must change something), try again later (503: Svix retries) and bugs (500).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: Option<&str>) -> Self {
        self.field = field.map(str::to_owned);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let Some(field) = self.field {
            body["field"] = json!(field);
        }
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        response
    }
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// A bug or an outage we cannot classify: logged with its whole cause chain, answered 500
    /// (or 503 when the database is unreachable) without leaking internals.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        let chain = crate::report::chain(error);
        tracing::error!(error = %chain, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the service logs",
        )
    }
}

/// The listener every HTTP server here accepts on: each accepted connection gets `TCP_NODELAY`,
/// so a response written in more than one piece is not held back by Nagle's algorithm until the
/// client's delayed acknowledgement (up to 40 ms on Linux).
pub fn no_delay(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    })
}

/// Serves `GET /healthz` (workers' liveness probe) and `GET /metrics` on `listen` until
/// shutdown; an empty address disables both.
pub async fn serve_health(
    listen: &str,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
    if listen.trim().is_empty() {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "health endpoint listening");
    let app = axum::Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/metrics", axum::routing::get(metrics))
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed);
    Ok(Some(tokio::spawn(async move {
        if let Err(error) = axum::serve(no_delay(listener), app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
        {
            tracing::warn!(%error, "health endpoint stopped");
        }
    })))
}

/// Liveness: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `Json<T>` whose rejections are [`ApiError`]s (JSON naming the problem) instead of axum's
/// plain-text ones: a body that is not JSON, or nests deeper than a parser reads
/// ([`scimsync_schema::limits::MAX_JSON_DEPTH`]), is `malformed_json` (400) as at ingest; JSON
/// of the wrong shape is `invalid_body` (422); a body over the router's limit is
/// `payload_too_large` (413).
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    Json<T>: axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        let (parts, body) = request.into_parts();
        let bytes = axum::body::Bytes::from_request(
            axum::extract::Request::from_parts(parts.clone(), body),
            state,
        )
        .await
        .map_err(|rejection| {
            let status = rejection.status();
            let code = match status {
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                _ => "invalid_body",
            };
            ApiError::new(status, code, rejection.body_text())
        })?;
        // Before parsing: serde_json would stop at the same depth, but with a message about its
        // own recursion.
        if scimsync_schema::limits::nests_too_deep(&bytes) {
            return Err(ApiError::bad_request(
                "malformed_json",
                format!(
                    "the body nests arrays or objects more than {} levels deep",
                    scimsync_schema::limits::MAX_JSON_DEPTH
                ),
            ));
        }
        let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection @ JsonRejection::JsonSyntaxError(_)) => Err(ApiError::bad_request(
                "malformed_json",
                rejection.body_text(),
            )),
            Err(rejection) => Err(ApiError::new(
                rejection.status(),
                "invalid_body",
                rejection.body_text(),
            )),
        }
    }
}

/// An extractor from the request's head (path, query) that wraps axum's and turns its
/// rejection into an [`ApiError`] with `code`, keeping axum's status and message.
macro_rules! refusing_as_json {
    ($(#[$doc:meta])* $name:ident wraps $inner:ident, $rejection:ident, $code:literal) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<S, T> axum::extract::FromRequestParts<S> for $name<T>
        where
            axum::extract::$inner<T>: axum::extract::FromRequestParts<
                S,
                Rejection = axum::extract::rejection::$rejection,
            >,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut axum::http::request::Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                axum::extract::$inner::<T>::from_request_parts(parts, state)
                    .await
                    .map(|axum::extract::$inner(value)| Self(value))
                    .map_err(|r| ApiError::new(r.status(), $code, r.body_text()))
            }
        }
    };
}

refusing_as_json!(
    /// `Path<T>` whose rejections are [`ApiError`]s: a malformed id in the URL is refused as
    /// JSON naming it (`invalid_path`), like every other refusal, not as axum's plain text.
    PathParams wraps Path, PathRejection, "invalid_path"
);

refusing_as_json!(
    /// `Query<T>` whose rejections are [`ApiError`]s (`invalid_query`, naming the parameter).
    QueryParams wraps Query, QueryRejection, "invalid_query"
);

/// For `Router::fallback`: a path no route serves, refused as JSON.
pub async fn no_such_route(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {}", uri.path()),
    )
}

/// For `Router::method_not_allowed_fallback`: a route asked with a method it does not serve.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not served on {}", uri.path()),
    )
}

/// Prometheus scrape endpoint: every metric of this process.
pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(),
    )
}
