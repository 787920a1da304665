//! What a database error means for the caller of the admin API.

use axum::http::StatusCode;
use scimsync_db::errors;
use scimsync_platform::http::ApiError;
use sea_orm::DbErr;

/// A database that cannot be reached is "try again later" (503, `Retry-After`), not a bug: an
/// administrator's page, or a script's call, works again once PostgreSQL is back. A value
/// PostgreSQL refuses is the request's fault (400). Anything else is a 500 with the cause chain
/// logged. No answer carries the database's error text.
pub fn database(error: DbErr) -> ApiError {
    if errors::unavailable(&error) {
        tracing::warn!(%error, "database unavailable; answering 503");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database cannot be reached; try again shortly",
        );
    }
    if errors::bad_value(&error) {
        // A value the caller sent that PostgreSQL cannot take (a NUL character in a filter, say):
        // the request, not the service, is at fault. The database's own words stay in the log:
        // they describe the server (its encoding, its statements), not the request.
        tracing::info!(%error, "the database refused a value of the request; answering 400");
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_value",
            "the database refused a value of the request, such as a NUL character (\\u0000)",
        );
    }
    ApiError::internal(&error)
}
