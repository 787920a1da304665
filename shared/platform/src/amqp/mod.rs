//! A small typed wrapper over lapin: connections, topology, a confirming publisher and a
//! consumer runtime in which handlers return an [`consumer::Outcome`] and the runtime does the
//! acking, retrying and dead-lettering.

pub mod consumer;
pub mod depth;
pub mod headers;
pub mod publisher;
mod settle;
pub mod topology;
pub mod worker;

use lapin::{Connection, ConnectionProperties};

pub use consumer::{ConsumerConfig, Handler, Incoming, Outcome};
pub use publisher::{Outgoing, PublishError, Publisher};
pub use settle::{dead_letter_kept, Kept};

/// Opens a connection driven by the current tokio runtime.
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(name.into());
    Connection::connect(url, props).await
}
