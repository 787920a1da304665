//! Per-company rate limit (SPEC §6): a token bucket per company, generous by default, and a
//! `429` with `Retry-After` beyond it, so one tenant's IdP cannot starve the others. Microsoft
//! asks an endpoint to sustain at least 25 requests a second per tenant; the default allows
//! several times that. The bucket is per replica: N replicas allow N times the rate.
//!
//! `governor` keeps the buckets (a generic cell-rate algorithm, lock-free per key): the
//! well-kept crate for exactly this, rather than a bucket map of our own.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::auth::Tenant;
use crate::error::ScimFailure;

pub struct Throttle {
    limiter: DefaultKeyedRateLimiter<Uuid>,
    clock: DefaultClock,
}

impl Throttle {
    /// `per_second` requests a second per company, bursts of `burst`; both at least 1.
    pub fn new(per_second: u32, burst: u32) -> Arc<Self> {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Arc::new(Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        })
    }

    /// `Err(wait)` when the company is over its rate.
    pub fn check(&self, company_id: Uuid) -> Result<(), Duration> {
        self.limiter
            .check_key(&company_id)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets companies idle long enough to have a full bucket again, so the map does not grow
    /// with every company ever seen.
    pub fn prune(&self) {
        self.limiter.retain_recent();
    }
}

/// Middleware, after authentication: a request over its company's rate gets 429.
pub async fn limit(
    State(throttle): State<Arc<Throttle>>,
    request: Request,
    next: Next,
) -> Result<Response, ScimFailure> {
    if let Some(tenant) = request.extensions().get::<Tenant>() {
        if let Err(wait) = throttle.check(tenant.company_id) {
            crate::metrics::throttled();
            return Err(ScimFailure::too_many_requests(wait));
        }
    }
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_company_over_its_burst_waits_and_others_do_not() {
        let throttle = Throttle::new(1, 3);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        for _ in 0..3 {
            assert!(throttle.check(a).is_ok());
        }
        let wait = throttle.check(a).expect_err("over the burst");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            throttle.check(b).is_ok(),
            "another company has its own bucket"
        );
    }
}
