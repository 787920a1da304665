//! Every refusal is a SCIM error body (RFC 7644 §3.12) with `application/scim+json`. Three kinds,
//! as everywhere in scimsync: bad input (4xx, said as it is), try again later (503 with
//! `Retry-After`: the database is out of reach) and a bug (500, logged with its cause chain,
//! never shown: database text never goes back to the client).

use std::time::Duration;

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use scimsync_scim_proto::{ScimError, ScimType};

use crate::SCIM_JSON;

/// A refusal, with the headers it needs.
#[derive(Debug)]
pub struct ScimFailure {
    pub error: ScimError,
    retry_after: Option<u64>,
    challenge: bool,
}

impl From<ScimError> for ScimFailure {
    fn from(error: ScimError) -> Self {
        Self {
            error,
            retry_after: None,
            challenge: false,
        }
    }
}

impl ScimFailure {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
        .into()
    }

    /// Bad input of a SCIM kind (400, or 409 for `uniqueness`).
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(scim_type.status(), Some(scim_type), detail)
    }

    /// The same answer for a missing, malformed, unknown or revoked token.
    pub fn unauthorized() -> Self {
        Self {
            challenge: true,
            ..Self::new(
                401,
                None,
                "a valid bearer token is required (Authorization: Bearer scimsync_...)",
            )
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(404, None, format!("{what} {id} not found"))
    }

    /// The resource's id from the path: one that is not even an id is as unknown as one of
    /// another company's.
    pub fn known_id(what: &str, id: &str) -> Result<uuid::Uuid, Self> {
        id.parse().map_err(|_| Self::not_found(what, id))
    }

    /// More requests in flight than this replica takes: the client may send it again shortly.
    pub fn overloaded() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(503, None, "too many requests in flight; retry later")
        }
    }

    pub fn too_many_requests(wait: Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(
                429,
                None,
                "too many requests for this company; retry after the time given in Retry-After",
            )
        }
    }

    /// A database failure: 503 if it is out of reach (the client may retry as it is), else a
    /// bug, logged with its cause and answered 500 without it.
    pub fn database(error: sea_orm::DbErr) -> Self {
        if scimsync_db::errors::unavailable(&error) {
            tracing::warn!(error = ?error, "database unavailable");
            return Self {
                retry_after: Some(5),
                ..Self::new(503, None, "the directory is unavailable; retry later")
            };
        }
        tracing::error!(error = ?error, "database error");
        Self::new(500, None, "internal error")
    }
}

impl ScimFailure {
    /// A failed write: a unique index's refusal is 409 `uniqueness` (only userName is unique),
    /// a foreign key's is a member that is not (or no longer) a user, a deadlock or
    /// serialisation conflict is 503 (the same request may succeed at once); else as
    /// [`ScimFailure::database`].
    pub fn write(error: sea_orm::DbErr) -> Self {
        use crate::store::WriteConflict;
        match crate::store::conflict(&error) {
            Some(WriteConflict::Unique) => Self::bad(
                ScimType::Uniqueness,
                "userName is already taken by another User of this company (compared case-insensitively)",
            ),
            Some(WriteConflict::MissingReference) => Self::bad(
                ScimType::InvalidValue,
                "a member is not a User of this company (it may just have been deleted)",
            ),
            Some(WriteConflict::Retry) => {
                tracing::warn!(error = ?error, "write conflict; the client may retry");
                Self {
                    retry_after: Some(1),
                    ..Self::new(
                        503,
                        None,
                        "the write met a concurrent change to the same resources; retry it",
                    )
                }
            }
            None => Self::database(error),
        }
    }
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.error).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_JSON),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.challenge {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimsync\""),
            );
        }
        response
    }
}
