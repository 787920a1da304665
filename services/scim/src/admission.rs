//! A bound on requests in flight (`scim.max_in_flight`): beyond it a request is answered 503
//! with `Retry-After` at once, instead of queueing for a database connection behind the others
//! until every client times out. Identity providers retry a 503 later.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ScimFailure;

#[derive(Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
}

impl Admission {
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }
}

/// Middleware, outside authentication (which may read the database too).
pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let Ok(_slot) = admission.slots.clone().try_acquire_owned() else {
        // Per request, and a flood is many: not logged (the request metrics count the 503s).
        return ScimFailure::overloaded().into_response();
    };
    next.run(request).await
}
