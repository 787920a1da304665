//! The console's assets, embedded in the binary: one stylesheet, one small script (the copy
//! button; every page works without it) and the icon. Nothing is fetched from elsewhere. Like
//! every page, they need a session.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::failure::Failure;

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../assets/favicon.svg"),
    ),
];

pub async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(asset, _, _)| *asset == name) {
        Some((_, content_type, body)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, *content_type),
                // Private: only a signed-in browser has it.
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            *body,
        )
            .into_response(),
        None => Failure::not_found("asset").into_response(),
    }
}
