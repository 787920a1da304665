//! Black-box test harness: real services started in-process against real RabbitMQ and
//! PostgreSQL, each test isolated in its own database and virtual host.
//!
//! Servers come from `make test` (see `deploy/local/infra.sh`); the locations can be changed
//! with `SCIMSYNC_TEST_DATABASE_URL`, `SCIMSYNC_TEST_AMQP_URL` and `SCIMSYNC_TEST_RABBIT_API`.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod app;
pub mod broker;
pub mod browser;
pub mod console;
pub mod env;
pub mod events;
pub mod observe;
pub mod proxy;
pub mod python;
pub mod raw;
pub mod scim;
pub mod settle;
pub mod views;
pub mod wait;
pub mod webhooks;
pub mod workers;

pub use app::TestApp;
pub use env::TestEnv;
pub use wait::wait_until;
