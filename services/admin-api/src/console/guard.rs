//! The gate every console route but the sign-in form passes: a live session (else a page is
//! redirected to the sign-in form and an asset or a form post refused), the session's CSRF
//! token in every form posted, and the operator role for every change. A viewer sees no
//! button that changes anything, and a change posted anyway is refused here.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use subtle::ConstantTimeEq;

use super::failure::Failure;
use super::session;
use crate::auth::is_read;
use crate::{SharedState, MAX_BODY_BYTES};

/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

pub async fn require_session(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let found = match session::find(&state, request.headers()).await {
        Ok(found) => found,
        Err(error) => return Failure::from(crate::failure::database(error)).into_response(),
    };
    let Some(session) = found else {
        if request.method() == Method::GET && !request.uri().path().starts_with("/assets/") {
            return Redirect::to("/sign-in").into_response();
        }
        return Failure::new(
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            "Sign in to use the console.",
        )
        .into_response();
    };
    let mut request = request;
    if !is_read(request.method()) {
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return Failure::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Form too large",
                    "The form sent more than the console reads.",
                )
                .into_response()
            }
        };
        if !carries_csrf(&parts, &bytes, &session.csrf).await {
            return Failure::new(
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form did not carry this session's CSRF token: it did not come from a \
                 page of this console, or it was opened before you last signed in. Go back, \
                 reload the page and try again.",
            )
            .into_response();
        }
        // A viewer may sign out, and change nothing else.
        if !session.actor.may_change() && parts.uri.path() != "/sign-out" {
            return Failure::new(
                StatusCode::FORBIDDEN,
                "Read only",
                "Your token's role is viewer: you may look, not change. Ask an operator.",
            )
            .into_response();
        }
        request = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}

/// Whether the form in `bytes` carries `expected` in its [`CSRF_FIELD`], compared in constant
/// time. Anything but a URL-encoded form carries none.
async fn carries_csrf(parts: &axum::http::request::Parts, bytes: &Bytes, expected: &str) -> bool {
    let request = Request::from_parts(parts.clone(), axum::body::Body::from(bytes.clone()));
    let Ok(Form(fields)) = Form::<Vec<(String, String)>>::from_request(request, &()).await else {
        return false;
    };
    let presented = fields
        .iter()
        .find(|(name, _)| name == CSRF_FIELD)
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}
