//! A publisher that only reports success once the broker has confirmed the message.
//!
//! A resolved `basic_publish` future only means the frame reached the socket, so every publish
//! here waits for the publisher confirm, with a deadline. Several confirm-mode channels are used
//! round-robin so concurrent publishes never queue behind one lock; a supervisor task keeps the
//! connection up and re-declares the topology after every reconnect.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use super::headers::inject_trace_context;
use super::topology::{declare, Plan};

/// Why a publish did not succeed. Every variant means "try again later" to the caller.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("not connected to the broker")]
    Unavailable,
    #[error("the broker did not confirm within {0:?}")]
    Timeout(Duration),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("no queue is bound for exchange {exchange:?} and routing key {routing_key:?}")]
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    #[error("broker error")]
    Broker(#[source] lapin::Error),
    /// Refused before sending: the broker would close the channel over it, failing every
    /// other publish in flight on that channel.
    #[error("the message cannot be sent: {0}")]
    Invalid(String),
}

/// The longest AMQP short string: message ids, routing keys and exchange names.
pub const MAX_SHORT_STRING: usize = 255;

/// One message to publish. The body is sent as persistent JSON.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub body: &'a [u8],
    pub message_id: Option<&'a str>,
    pub headers: FieldTable,
}

struct Live {
    connection: Connection,
    channels: Vec<Channel>,
}

struct Inner {
    state: RwLock<Option<Arc<Live>>>,
    broken: Notify,
    next: AtomicUsize,
    confirm_timeout: Duration,
    ready: watch::Sender<bool>,
}

#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

#[derive(Clone)]
pub struct PublisherConfig {
    pub url: SecretString,
    pub name: String,
    pub channels: usize,
    pub confirm_timeout: Duration,
    pub plan: Plan,
}

impl Publisher {
    /// Starts the connection supervisor; the publisher becomes ready once connected.
    pub fn start(config: PublisherConfig, shutdown: CancellationToken) -> Self {
        let (ready, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            state: RwLock::new(None),
            broken: Notify::new(),
            next: AtomicUsize::new(0),
            confirm_timeout: config.confirm_timeout,
            ready,
        });
        tokio::spawn(supervise(inner.clone(), config, shutdown));
        Self { inner }
    }

    /// True while connected with confirm-mode channels open.
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    /// Waits until ready, at most `timeout`. Returns whether it is ready.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.ready.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|ready| *ready))
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false)
    }

    /// Publishes and waits for the broker's confirm.
    pub async fn publish(&self, message: Outgoing<'_>) -> Result<(), PublishError> {
        let short = [
            ("message id", message.message_id.unwrap_or_default()),
            ("routing key", message.routing_key),
            ("exchange", message.exchange),
        ];
        if let Some((what, value)) = short.iter().find(|(_, v)| v.len() > MAX_SHORT_STRING) {
            return Err(PublishError::Invalid(format!(
                "the {what} is {} bytes long; AMQP allows {MAX_SHORT_STRING}",
                value.len()
            )));
        }
        let live = self
            .inner
            .state
            .read()
            .map_err(|_| PublishError::Unavailable)?
            .clone()
            .ok_or(PublishError::Unavailable)?;
        let index = self.inner.next.fetch_add(1, Ordering::Relaxed) % live.channels.len();
        let channel = &live.channels[index];
        let mut headers = message.headers;
        inject_trace_context(&mut headers);
        let mut props = BasicProperties::default()
            // 2 = persistent: written to disk before the broker confirms.
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_timestamp(
                chrono::Utc::now()
                    .timestamp()
                    .try_into()
                    .unwrap_or_default(),
            )
            .with_headers(headers);
        if let Some(id) = message.message_id {
            props = props.with_message_id(id.into());
        }
        let started = std::time::Instant::now();
        let publish = async {
            let confirm = channel
                .basic_publish(
                    message.exchange,
                    message.routing_key,
                    // mandatory: an unroutable message comes back to us instead of vanishing.
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    message.body,
                    props,
                )
                .await?;
            confirm.await
        };
        let result = tokio::time::timeout(self.inner.confirm_timeout, publish).await;
        let outcome = match &result {
            Err(_) => "timeout",
            Ok(Err(_)) => "error",
            Ok(Ok(Confirmation::Ack(None))) => "confirmed",
            Ok(Ok(Confirmation::Ack(Some(_)))) => "unroutable",
            Ok(Ok(Confirmation::Nack(_) | Confirmation::NotRequested)) => "nacked",
        };
        crate::metrics::metrics().publish_confirmed(outcome, started.elapsed());
        match result {
            Err(_) => Err(PublishError::Timeout(self.inner.confirm_timeout)),
            Ok(Err(error)) => {
                self.inner.broken.notify_one();
                Err(PublishError::Broker(error))
            }
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_returned)))) => Err(PublishError::Unroutable {
                exchange: message.exchange.to_owned(),
                routing_key: message.routing_key.to_owned(),
            }),
            Ok(Ok(Confirmation::Nack(_))) => Err(PublishError::Nacked),
            // Cannot happen on a confirm-mode channel; treat as not confirmed.
            Ok(Ok(Confirmation::NotRequested)) => Err(PublishError::Nacked),
        }
    }

    /// Closes the connection (used on shutdown after in-flight publishes finished).
    pub async fn close(&self) {
        let live = self.inner.state.write().ok().and_then(|mut s| s.take());
        self.inner.ready.send_replace(false);
        if let Some(live) = live {
            let _ = live.connection.close(200, "shutdown").await;
        }
    }
}

async fn open(config: &PublisherConfig) -> Result<Live, lapin::Error> {
    let connection = super::connect(config.url.expose_secret(), &config.name).await?;
    let mut channels = Vec::with_capacity(config.channels);
    for _ in 0..config.channels.max(1) {
        let channel = connection.create_channel().await?;
        // Confirm mode: the broker acks each message once it is safely stored.
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channels.push(channel);
    }
    if let Some(first) = channels.first() {
        declare(first, &config.plan).await?;
    }
    Ok(Live {
        connection,
        channels,
    })
}

async fn supervise(inner: Arc<Inner>, config: PublisherConfig, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = tokio::select! {
            _ = shutdown.cancelled() => return,
            attempt = open(&config) => attempt,
        };
        match attempt {
            Ok(live) => {
                backoff = Duration::from_millis(100);
                let notify = inner.clone();
                live.connection.on_error(move |error| {
                    tracing::warn!(%error, "broker connection lost");
                    notify.broken.notify_one();
                });
                if let Ok(mut state) = inner.state.write() {
                    *state = Some(Arc::new(live));
                }
                inner.ready.send_replace(true);
                tracing::info!(name = %config.name, "publisher connected");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = inner.broken.notified() => {}
                }
                inner.ready.send_replace(false);
                let old = inner.state.write().ok().and_then(|mut s| s.take());
                if let Some(old) = old {
                    let _ = old.connection.close(320, "reconnecting").await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "cannot connect to the broker");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
