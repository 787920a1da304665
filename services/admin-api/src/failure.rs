//! What a database error means for the caller of the admin API.

use axum::http::StatusCode;
use scimsync_db::errors;
use scimsync_platform::http::ApiError;
use sea_orm::DbErr;

/// A database that cannot be reached is "try again later" (503, `Retry-After`), not a bug: an
/// administrator's page, or a script's call, works again once PostgreSQL is back. Anything
/// else is a 500 with the cause chain logged.
pub fn database(error: DbErr) -> ApiError {
    if errors::unavailable(&error) {
        tracing::warn!(%error, "database unavailable; answering 503");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database cannot be reached; try again shortly",
        );
    }
    ApiError::internal(&error)
}
