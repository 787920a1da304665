//! Walking a dead-letter queue once, losing nothing and never looping (SPEC A6).
//!
//! A walk reads the messages that were ready when it started (`message_count` of a passive
//! declare: the snapshot), one `basic.get` each, and decides for each one:
//!
//! - **keep** (looked at, skipped by a filter, dry run): a copy goes to the tail of the same
//!   queue, and the original is acknowledged only once the broker confirmed the copy. The walk
//!   stops after the snapshot count, so it never meets its own copies, and a crash between copy
//!   and ack at worst leaves a duplicate dead letter, never a missing one.
//! - **remove** (replayed and confirmed elsewhere, purged): acknowledge.
//! - **hold** (a replay whose publish failed): keep it unacknowledged and return it
//!   (`nack`, requeue) only when the walk is over, so it cannot come round again in this walk.
//!
//! Why copies rather than returning every message with `nack(requeue)` at the end: on a
//! quorum queue each return counts towards the delivery limit, which RabbitMQ 4 sets to 20 by
//! default, and a dead-letter queue has no dead-letter exchange of its own: twenty looks would
//! silently drop a dead letter. A copy is a new message with a fresh count. It also keeps the
//! tool's memory flat (nothing is held for the whole walk) and does not depend on where a
//! requeued message lands (head or tail differs between broker versions).

use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::publisher_confirm::{Confirmation, PublisherConfirm};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};

use scimsync_platform::amqp::headers::set_str;
use scimsync_schema::headers as h;

use super::letter::{DeadLetter, DeadLetteredBy};

/// Copies awaiting their confirm before their originals are acknowledged.
const PIPELINE: usize = 64;
/// How long a replayed copy may wait for its confirm before it counts as failed.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// One dead letter taken from the queue and not yet settled.
pub struct Letter {
    pub info: DeadLetter,
    delivery: Delivery,
}

impl Letter {
    pub fn body(&self) -> &[u8] {
        &self.delivery.data
    }

    pub fn properties(&self) -> &BasicProperties {
        &self.delivery.properties
    }
}

/// The properties of a kept copy: the same (message id, headers with trace context,
/// persistence). A broker dead letter also gets our dead-letter headers, derived from its
/// `x-death`: the broker owns `x-death`, and a copy published by a client cannot count on the
/// broker keeping it as it was, while our headers are plain application headers.
fn kept_properties(letter: &Letter) -> BasicProperties {
    let properties = letter.delivery.properties.clone();
    let info = &letter.info;
    if info.dead_lettered_by != DeadLetteredBy::Broker {
        return properties;
    }
    let mut headers = properties.headers().clone().unwrap_or_default();
    set_str(&mut headers, h::DL_REASON, info.reason.clone());
    let pairs = [
        (h::DL_DETAIL, info.detail.clone()),
        (h::DL_FAILED_AT, info.failed_at.map(|t| t.to_rfc3339())),
        (h::DL_ORIGINAL_EXCHANGE, info.original_exchange.clone()),
        (
            h::DL_ORIGINAL_ROUTING_KEY,
            info.original_routing_key.clone(),
        ),
    ];
    for (key, value) in pairs {
        if let Some(value) = value {
            set_str(&mut headers, key, value);
        }
    }
    properties.with_headers(headers)
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("queue {0:?} does not exist on this virtual host (its worker never started here)")]
    Missing(String),
    #[error("cannot read queue {queue:?}")]
    Broker {
        queue: String,
        #[source]
        source: lapin::Error,
    },
}

/// Why a publish did not succeed; the dead letter then stays.
#[derive(Debug, thiserror::Error)]
pub enum PublishFailure {
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("no queue is bound for routing key {0:?}")]
    Unroutable(String),
    #[error("no confirm within {0:?}")]
    Timeout(Duration),
    #[error("broker error")]
    Broker(#[source] lapin::Error),
}

pub struct Reader {
    connection: Connection,
    channel: Channel,
    queue: String,
    snapshot: u64,
    remaining: u64,
    pending: Vec<(PublisherConfirm, Delivery)>,
    held: Vec<Delivery>,
}

impl Reader {
    pub async fn open(url: &str, queue: &str) -> Result<Self, OpenError> {
        let broker = |source| OpenError::Broker {
            queue: queue.to_owned(),
            source,
        };
        let connection = scimsync_platform::amqp::connect(url, "scimctl")
            .await
            .map_err(broker)?;
        let channel = connection.create_channel().await.map_err(broker)?;
        // Confirm mode: a copy counts as stored only once the broker says so.
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(broker)?;
        let declared = channel
            .queue_declare(
                queue,
                // Passive: inspect the queue, never create it (a typo must not make a queue).
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await;
        let declared = match declared {
            Ok(declared) => declared,
            Err(error) => {
                let _ = connection.close(200, "no such queue").await;
                return Err(match error {
                    lapin::Error::ProtocolError(e)
                        if *e.kind() == AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND) =>
                    {
                        OpenError::Missing(queue.to_owned())
                    }
                    other => broker(other),
                });
            }
        };
        let snapshot = u64::from(declared.message_count());
        Ok(Self {
            connection,
            channel,
            queue: queue.to_owned(),
            snapshot,
            remaining: snapshot,
            pending: Vec::new(),
            held: Vec::new(),
        })
    }

    /// Messages ready when the walk started: the most it will read.
    pub fn snapshot(&self) -> u64 {
        self.snapshot
    }

    /// The next dead letter of the snapshot, or `None` when the walk is over.
    pub async fn next(&mut self) -> Result<Option<Letter>, lapin::Error> {
        if self.remaining == 0 {
            return Ok(None);
        }
        self.remaining -= 1;
        // no_ack = false: the message stays the broker's until we settle it.
        let got = self
            .channel
            .basic_get(&self.queue, BasicGetOptions { no_ack: false })
            .await?;
        let Some(got) = got else {
            // Someone else emptied the queue meanwhile.
            self.remaining = 0;
            return Ok(None);
        };
        let delivery = got.delivery;
        let info = DeadLetter::parse(&self.queue, &delivery.properties, &delivery.data);
        Ok(Some(Letter { info, delivery }))
    }

    /// Leaves the dead letter in the queue (as a confirmed copy at the tail).
    pub async fn keep(&mut self, letter: Letter) -> Result<(), lapin::Error> {
        let properties = kept_properties(&letter);
        let Letter { delivery, .. } = letter;
        let confirm = self
            .channel
            .basic_publish(
                "",
                &self.queue,
                // mandatory: if the queue vanished the copy comes back and the original stays.
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &delivery.data,
                properties,
            )
            .await;
        match confirm {
            Ok(confirm) => self.pending.push((confirm, delivery)),
            Err(error) => {
                self.held.push(delivery);
                return Err(error);
            }
        }
        if self.pending.len() >= PIPELINE {
            self.flush().await?;
        }
        Ok(())
    }

    /// Removes the dead letter for good.
    pub async fn remove(&mut self, letter: Letter) -> Result<(), lapin::Error> {
        letter.delivery.ack(BasicAckOptions::default()).await
    }

    /// Keeps the dead letter unsettled until the walk ends, then returns it to the queue.
    pub fn hold(&mut self, letter: Letter) {
        self.held.push(letter.delivery);
    }

    /// Publishes a message (mandatory, persistent) and waits for the broker's confirm.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishFailure> {
        let publish = async {
            self.channel
                .basic_publish(
                    exchange,
                    routing_key,
                    // mandatory: an unroutable copy is reported, not silently dropped.
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    body,
                    // 2 = persistent: stored on disk before the broker confirms.
                    properties.with_delivery_mode(2),
                )
                .await?
                .await
        };
        match tokio::time::timeout(CONFIRM_TIMEOUT, publish).await {
            Err(_) => Err(PublishFailure::Timeout(CONFIRM_TIMEOUT)),
            Ok(Err(error)) => Err(PublishFailure::Broker(error)),
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_)))) => {
                Err(PublishFailure::Unroutable(routing_key.to_owned()))
            }
            Ok(Ok(Confirmation::Nack(_) | Confirmation::NotRequested)) => {
                Err(PublishFailure::Nacked)
            }
        }
    }

    /// Acknowledges originals whose copies are confirmed; holds the others.
    async fn flush(&mut self) -> Result<(), lapin::Error> {
        for (confirm, delivery) in std::mem::take(&mut self.pending) {
            match confirm.await {
                Ok(Confirmation::Ack(None)) => delivery.ack(BasicAckOptions::default()).await?,
                Ok(_) | Err(_) => {
                    tracing::warn!(queue = %self.queue, "a copy was not confirmed; the original stays");
                    self.held.push(delivery);
                }
            }
        }
        Ok(())
    }

    /// Settles everything still open and closes the connection.
    pub async fn finish(mut self) -> Result<(), lapin::Error> {
        let flushed = self.flush().await;
        for delivery in std::mem::take(&mut self.held) {
            // requeue = true, and only now that the walk is over: it cannot be read again by it.
            let options = BasicNackOptions {
                requeue: true,
                ..Default::default()
            };
            if let Err(error) = delivery.nack(options).await {
                tracing::warn!(%error, "could not return a dead letter; the broker returns it on close");
            }
        }
        let _ = self.channel.close(200, "walk done").await;
        let _ = self.connection.close(200, "walk done").await;
        flushed
    }

    /// Closes the connection without settling anything, as a crash would: the broker returns
    /// every unacknowledged message to the queue.
    pub async fn abandon(self) {
        let _ = self.connection.close(200, "abandoned").await;
    }

    /// Deletes every ready message at once; returns how many.
    pub async fn purge_all(self) -> Result<u64, lapin::Error> {
        let purged = self
            .channel
            .queue_purge(&self.queue, QueuePurgeOptions::default())
            .await;
        let _ = self.connection.close(200, "purged").await;
        Ok(u64::from(purged?))
    }
}
