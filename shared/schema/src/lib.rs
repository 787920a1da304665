//! Wire and queue types shared by every scimsync service.
//!
//! This crate owns the shapes that cross a process boundary: the Stytch webhook envelope and
//! member payload (SPEC §5), the versioned messages we put on RabbitMQ, the names of the
//! broker topology, and the AMQP header names. It has no I/O, so every service and tool can
//! depend on it cheaply.

pub mod change;
pub mod company;
pub mod duplicate_keys;
pub mod email;
pub mod headers;
pub mod idp_group;
pub mod lenient;
pub mod limits;
pub mod message;
pub mod publishable;
pub mod stytch;
pub mod topology;

pub use message::{QueueMessage, StytchWebhook};
pub use stytch::{Envelope, Member, SchemaError};
