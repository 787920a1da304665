//! The sign-in form, the one console page open to all, and signing out.
//!
//! The form has no session yet to hold a CSRF token, so it uses a double-submit token: a random
//! value set as an HttpOnly, SameSite=Strict cookie and repeated in the form; both must match.
//! Its style is inline (the stylesheet, like every asset, needs a session), allowed by its hash
//! in this page's Content-Security-Policy, never by `'unsafe-inline'`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::failure::Failure;
use super::session::{self, COOKIE, SIGN_IN_COOKIE};
use crate::SharedState;

/// The sign-in page's whole style.
const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\
main{max-width:26rem;margin:12vh auto;padding:2rem;background:#fff;border:1px solid #d6dae1;border-radius:8px}\
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;font-weight:600;margin:.5rem 0 .25rem}\
input{width:100%;box-sizing:border-box;padding:.6rem;font:inherit;border:1px solid #8a93a3;border-radius:4px}\
input:focus,button:focus{outline:3px solid #2f6fed;outline-offset:2px}\
button{margin-top:1rem;padding:.6rem 1.2rem;font:inherit;font-weight:600;color:#fff;background:#2f5fd0;border:0;border-radius:4px;cursor:pointer}\
.error{color:#a4161a;font-weight:600}.hint{color:#545c6b;font-size:.9rem}";

/// This page's policy: [`super::headers::CSP`] with the inline style's hash.
fn policy() -> HeaderValue {
    let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    let csp =
        super::headers::CSP.replace("style-src 'self'", &format!("style-src 'sha256-{hash}'"));
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static(super::headers::CSP))
}

fn render(state: &SharedState, csrf: &str, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · scimsync console" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { "scimsync console" }
                    form method="post" action="/sign-in" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="token" { "Admin token" }
                        input #token name="token" type="password" autocomplete="current-password"
                            required[!state.access.is_open()] autofocus
                            aria-describedby="token-hint";
                        @if state.access.is_open() {
                            p.hint #token-hint {
                                "No admin token is configured (local development): leave it empty to sign in as the operator "
                                code { "local" } "."
                            }
                        } @else {
                            p.hint #token-hint { "The token an operator gave you. It is exchanged for a session; this page never stores it." }
                        }
                        @if let Some(error) = error {
                            p.error role="alert" { (error) }
                        }
                        button type="submit" { "Sign in" }
                    }
                }
            }
        }
    }
}

/// Answers the form with a fresh double-submit token.
fn respond(
    state: &SharedState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let csrf = session::random_token();
    let secure = session::secure(state, headers);
    let mut response = (status, render(state, &csrf, error)).into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_SECURITY_POLICY, policy());
    out.append(
        header::SET_COOKIE,
        session::set_cookie(SIGN_IN_COOKIE, &csrf, 3600, secure),
    );
    response
}

pub async fn form(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = session::find(&state, &headers).await {
        return Redirect::to("/companies").into_response();
    }
    respond(&state, &headers, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct SignIn {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

pub async fn sign_in(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let expected = session::cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if form.csrf.is_empty() || !bool::from(form.csrf.as_bytes().ct_eq(expected.as_bytes())) {
        return respond(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some("This form expired or did not come from this console. Try again."),
        );
    }
    let Some(actor) = state.access.authenticate(form.token.trim()) else {
        tracing::info!("console sign-in refused: unknown token");
        return respond(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("That token is not one this console knows."),
        );
    };
    let id = match session::start(&state, &actor).await {
        Ok(id) => id,
        Err(error) => return Failure::from(crate::failure::database(error)).into_response(),
    };
    tracing::info!(actor = %actor.name, role = actor.role.as_str(), "console sign-in");
    let secure = session::secure(&state, &headers);
    let mut response = Redirect::to("/companies").into_response();
    let out = response.headers_mut();
    out.append(
        header::SET_COOKIE,
        session::set_cookie(COOKIE, &id, state.console.session_ttl_secs(), secure),
    );
    out.append(
        header::SET_COOKIE,
        session::set_cookie(SIGN_IN_COOKIE, "", 0, secure),
    );
    response
}

pub async fn sign_out(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    if let Err(error) = session::end(&state, &headers).await {
        return Failure::from(crate::failure::database(error)).into_response();
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(COOKIE, "", 0, session::secure(&state, &headers)),
    );
    response
}
