//! A refusal or an error, as a page: the status, a title and what to do, never a database's or
//! a broker's own words (those stay in the log, see [`crate::failure`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use scimsync_platform::http::ApiError;

use super::layout;

#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
}

impl Failure {
    pub fn new(status: StatusCode, title: &str, message: &str) -> Self {
        Self {
            status,
            title: title.to_owned(),
            message: message.to_owned(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("No such {what}."),
        )
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        let title = match error.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Not possible",
            StatusCode::SERVICE_UNAVAILABLE => "Try again shortly",
            status if status.is_client_error() => "Check the form",
            _ => "Something went wrong",
        };
        Self {
            status: error.status,
            title: title.to_owned(),
            message: error.message,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = html! {
            main.narrow {
                h1 { (self.title) }
                p.error role="alert" { (self.message) }
                p { a href="/companies" { "Back to the companies" } }
            }
        };
        (self.status, layout::bare(&self.title, body)).into_response()
    }
}
