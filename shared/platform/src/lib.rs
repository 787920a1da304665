//! Runtime pieces every scimsync service shares: layered settings, telemetry set-up, the typed
//! AMQP wrapper (publisher with confirms, consumer runtime, topology) and graceful shutdown.

pub mod amqp;
pub mod http;
pub mod metrics;
pub mod observe;
pub mod report;
pub mod request_limits;
pub mod settings;
pub mod shutdown;
pub mod svix;
pub mod telemetry;

pub use settings::Settings;
