//! Wire and queue types shared by every scimsync service.
//!
//! This crate owns the shapes that cross a process boundary: the Stytch webhook envelope and
//! member payload (SPEC §5), the versioned messages we put on RabbitMQ, the names of the
//! broker topology, the AMQP header names, and the closed sets of names other crates read
//! (concerns, event-log outcomes, dead-letter reasons). It has no I/O, so every service and tool can
//! depend on it cheaply.

pub mod change;
pub mod company;
pub mod concern;
pub mod dead_letter;
pub mod duplicate_keys;
pub mod email;
pub mod event_log;
pub mod headers;
pub mod idp_group;
pub mod lenient;
pub mod limits;
pub mod message;
mod names;
pub mod publishable;
pub mod stytch;
pub mod topology;

pub use concern::Concern;
pub use dead_letter::DeadLetterReason;
pub use event_log::EventOutcome;
pub use message::{QueueMessage, StytchWebhook};
pub use names::UnknownName;
pub use stytch::{Envelope, Member, SchemaError};
