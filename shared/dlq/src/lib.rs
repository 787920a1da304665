//! Dead letters (SPEC A6), read and settled over the broker's AMQP connection: counts by queue,
//! reason, event type and company ([`list`]), a look at them ([`show`]), putting them back to
//! work ([`replay`]) and deleting them ([`purge`]), each for the letters a [`filter::Filter`]
//! selects. `scimctl dlq` and the admin console's dead-letter pages are two faces of this one
//! library. How a queue is read without losing or looping is explained in [`reader`].

pub mod filter;
pub mod letter;
pub mod list;
pub mod purge;
pub mod queues;
pub mod reader;
pub mod replay;
pub mod show;

pub use filter::Filter;
pub use letter::DeadLetter;
pub use queues::{all_queues, resolve, DeadLetterQueue, UnknownQueue};

/// Why an operation on dead letters stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Open(#[from] reader::OpenError),
    #[error("the broker failed while dead letters were read or settled")]
    Broker(#[from] lapin::Error),
    #[error("the rate must be a positive number of messages per second")]
    InvalidRate,
    #[error(transparent)]
    Crash(#[from] replay::SimulatedCrash),
}
