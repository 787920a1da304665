//! A small typed wrapper over lapin: connections, topology, a confirming publisher and the
//! worker runtime, in which a [`Worker`] decodes messages and applies batches of them and the
//! runtime does the acking, retrying and dead-lettering.

pub mod batch;
mod consumer;
pub mod depth;
pub mod headers;
mod message;
pub mod publisher;
pub mod runtime;
mod settle;
pub mod topology;
pub mod worker;

use lapin::{Connection, ConnectionProperties};

pub use batch::{Batch, Side, Sides};
pub use message::{Incoming, Outcome};
pub use publisher::{Outgoing, PublishError, Publisher};
pub use settle::{dead_letter_kept, Kept};
pub use worker::Worker;

/// Opens a connection driven by the current tokio runtime.
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(name.into());
    Connection::connect(url, props).await
}
