//! A queue-fed worker is one implementation of [`Worker`]: its name, its queue and bindings, how
//! it reads a message, how it applies a batch. [`super::runtime::run`] does everything else: the topology (its
//! queue, dead-letter queue and delay tiers), its publisher (retries, dead letters, follow-up
//! messages), its health endpoint, prefetch, batching, settlement, trace context, metrics and
//! shutdown.
//!
//! Like crates.io's `BackgroundJob`, a job kind is one trait implementation; unlike it, the
//! trait also carries what the broker needs (the queue and the routing keys bound to it), and
//! the only way to apply messages is a batch (an idle worker applies a batch of one), so a
//! worker has one code path. The system's own workers are listed once, as
//! `scimsync_schema::Concern`; `docs/adding-a-worker.md` says what else names them.

use std::future::Future;

use scimsync_schema::topology::WorkQueue;

use super::batch::Batch;
use super::message::{Incoming, Outcome};

/// A worker fed by its own queue. Implementations must be idempotent: delivery is at least
/// once, and a batch that fails may be applied again item by item.
pub trait Worker: Send + Sync + 'static {
    /// Its name, in connection names and logs (a system worker's concern name).
    const NAME: &'static str;
    /// Its queue and the routing keys bound to it, declared at start with the queue's
    /// dead-letter queue and delay tiers (SPEC A2).
    const QUEUE: WorkQueue;
    /// A message as the worker applies it.
    type Item: Send + Sync + 'static;

    /// Reads one message, inside its span: the item to apply, or the outcome the message
    /// already has (a dead letter for one it cannot read, an ack for one that asks nothing of
    /// it).
    fn decode(
        &self,
        message: &Incoming,
    ) -> impl Future<Output = Result<Self::Item, Outcome>> + Send;

    /// Applies the items of the messages that were waiting together (one, when the queue is
    /// idle) and returns one outcome per item, in order: the runtime gives each its message's.
    /// Effects must be committed before it returns (SPEC A3).
    fn apply(&self, batch: Batch<Self::Item>) -> impl Future<Output = Vec<Outcome>> + Send;
}
