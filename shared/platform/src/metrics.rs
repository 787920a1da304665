//! Prometheus metrics (SPEC A5), shared by every service and served as text on `GET /metrics`.
//!
//! One registry per process, behind a `OnceLock`: the code that records (the consumer runtime,
//! the publisher, the HTTP layer, handlers) is spread over crates that do not otherwise share
//! state, and threading a handle through every config struct would change them all for no gain.
//! In production each process is one service, so a process-wide registry is a per-service one.
//!
//! Label values are kept to small sets (queue names, event types, reason codes, HTTP routes and
//! status codes); free text such as error messages never becomes a label.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The content type of [`render`]'s output (OpenMetrics text, which Prometheus scrapes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PublishLabels {
    /// `confirmed`, `nacked`, `unroutable`, `timeout` or `error`.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub queue: String,
    pub event_type: String,
    /// What the worker decided: `ack`, `retry`, `dead_letter`, or `panic` (it failed to decide).
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub queue: String,
    pub event_type: String,
    /// The handler's own word for what it did (`created`, `updated`, `stale`, ...).
    pub result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandlerLabels {
    pub queue: String,
    pub event_type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeadLetterLabels {
    pub queue: String,
    pub reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// The error code the sender got (`schema_violation`, `invalid_signature`, `overloaded`, ...).
    pub error: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScimRequestLabels {
    /// `Users`, `Groups`, `ServiceProviderConfig`, ... (`unmatched` otherwise).
    pub resource: String,
    pub method: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RelayLabels {
    /// `confirmed` or `failed`.
    pub outcome: &'static str,
}

/// Every metric family; see `docs/operations.md` for what each is for.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub webhooks_refused: Family<RefusalLabels, Counter>,
    pub http_duration: Histograms<RouteLabels>,
    pub publish_confirm: Histograms<PublishLabels>,
    pub events: Family<EventLabels, Counter>,
    pub results: Family<ResultLabels, Counter>,
    pub handler_duration: Histograms<HandlerLabels>,
    pub retries: Family<QueueLabels, Counter>,
    pub dead_letters: Family<DeadLetterLabels, Counter>,
    pub in_flight: Family<QueueLabels, Gauge>,
    pub batch_sizes: Histograms<QueueLabels>,
    pub queue_messages: Family<QueueLabels, Gauge>,
    pub queue_consumers: Family<QueueLabels, Gauge>,
    pub scim_requests: Family<ScimRequestLabels, Counter>,
    pub scim_throttled: Counter,
    pub outbox_relayed: Family<RelayLabels, Counter>,
    pub outbox_rows: Gauge,
    pub outbox_oldest_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
}

fn latency_buckets() -> Histogram {
    // 1 ms .. ~16 s: a confirm or a handler slower than that is an outage, not a tail.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn batch_buckets() -> Histogram {
    // 1, 2, 4 .. 128 messages.
    Histogram::new(exponential_buckets(1.0, 2.0, 8))
}

impl Metrics {
    fn new() -> Self {
        let mut m = Self {
            registry: Registry::default(),
            http_requests: Family::default(),
            webhooks_refused: Family::default(),
            http_duration: Family::new_with_constructor(latency_buckets),
            publish_confirm: Family::new_with_constructor(latency_buckets),
            events: Family::default(),
            results: Family::default(),
            handler_duration: Family::new_with_constructor(latency_buckets),
            retries: Family::default(),
            dead_letters: Family::default(),
            in_flight: Family::default(),
            batch_sizes: Family::new_with_constructor(batch_buckets),
            queue_messages: Family::default(),
            queue_consumers: Family::default(),
            scim_requests: Family::default(),
            scim_throttled: Counter::default(),
            outbox_relayed: Family::default(),
            outbox_rows: Gauge::default(),
            outbox_oldest_seconds: Gauge::default(),
        };
        // Counters get their `_total` suffix from the encoder.
        m.registry.register(
            "scimsync_http_requests",
            "HTTP requests answered, by route and status code",
            m.http_requests.clone(),
        );
        m.registry.register(
            "scimsync_webhooks_refused",
            "Webhooks ingest refused, by the error code the sender got",
            m.webhooks_refused.clone(),
        );
        m.registry.register(
            "scimsync_http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            m.http_duration.clone(),
        );
        m.registry.register(
            "scimsync_publish_confirm_seconds",
            "Time from publishing a message to the broker's confirm, by outcome",
            m.publish_confirm.clone(),
        );
        m.registry.register(
            "scimsync_events",
            "Messages handled by a worker, by queue, event type and handler outcome",
            m.events.clone(),
        );
        m.registry.register(
            "scimsync_event_results",
            "What a worker did with an applied event, in the handler's words",
            m.results.clone(),
        );
        m.registry.register(
            "scimsync_handler_duration_seconds",
            "Time a handler spent on one message, by queue and event type",
            m.handler_duration.clone(),
        );
        m.registry.register(
            "scimsync_retries",
            "Transient failures scheduled for a delayed retry, by queue",
            m.retries.clone(),
        );
        m.registry.register(
            "scimsync_dead_letters",
            "Messages moved to a dead-letter queue by a worker, by queue and reason",
            m.dead_letters.clone(),
        );
        m.registry.register(
            "scimsync_in_flight_messages",
            "Messages a worker is processing right now, by queue",
            m.in_flight.clone(),
        );
        m.registry.register(
            "scimsync_batch_messages",
            "Messages a worker handled together in one batch, by queue",
            m.batch_sizes.clone(),
        );
        m.registry.register(
            "scimsync_queue_messages",
            "Messages ready in a queue (work, dead-letter and delay queues), sampled by workers",
            m.queue_messages.clone(),
        );
        m.registry.register(
            "scimsync_queue_consumers",
            "Consumers attached to a queue, sampled by workers",
            m.queue_consumers.clone(),
        );
        m.registry.register(
            "scimsync_scim_requests",
            "SCIM requests answered, by resource, method and status code",
            m.scim_requests.clone(),
        );
        m.registry.register(
            "scimsync_scim_throttled",
            "SCIM requests refused with 429 by a company's rate limit",
            m.scim_throttled.clone(),
        );
        m.registry.register(
            "scimsync_outbox_relayed",
            "Outbox messages the relay published (confirmed) or could not (failed, kept)",
            m.outbox_relayed.clone(),
        );
        m.registry.register(
            "scimsync_outbox_messages",
            "Messages waiting in the SCIM outbox, sampled by the scim service",
            m.outbox_rows.clone(),
        );
        m.registry.register(
            "scimsync_outbox_oldest_seconds",
            "Age of the oldest message waiting in the SCIM outbox",
            m.outbox_oldest_seconds.clone(),
        );
        m
    }

    pub fn http_request(&self, route: &str, status: u16, elapsed: Duration) {
        let route = route.to_owned();
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.clone(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    pub fn webhook_refused(&self, error: &'static str) {
        self.webhooks_refused
            .get_or_create(&RefusalLabels { error })
            .inc();
    }

    pub fn batch_handled(&self, queue: &str, messages: usize) {
        self.batch_sizes
            .get_or_create(&queue_labels(queue))
            .observe(messages as f64);
    }

    pub fn publish_confirmed(&self, outcome: &'static str, elapsed: Duration) {
        self.publish_confirm
            .get_or_create(&PublishLabels { outcome })
            .observe(elapsed.as_secs_f64());
    }

    pub fn event_handled(
        &self,
        queue: &str,
        event_type: &str,
        outcome: &'static str,
        elapsed: Duration,
    ) {
        self.events
            .get_or_create(&EventLabels {
                queue: queue.to_owned(),
                event_type: event_type.to_owned(),
                outcome,
            })
            .inc();
        self.handler_duration
            .get_or_create(&HandlerLabels {
                queue: queue.to_owned(),
                event_type: event_type.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// For handlers: records the domain result of an applied event.
    pub fn event_result(&self, queue: &str, event_type: &str, result: &str) {
        self.results
            .get_or_create(&ResultLabels {
                queue: queue.to_owned(),
                event_type: event_type.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    pub fn retried(&self, queue: &str) {
        self.retries.get_or_create(&queue_labels(queue)).inc();
    }

    pub fn dead_lettered(&self, queue: &str, reason: &str) {
        self.dead_letters
            .get_or_create(&DeadLetterLabels {
                queue: queue.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts a message as in flight until the returned guard is dropped (even by a panic).
    pub fn in_flight(&self, queue: &str) -> InFlight {
        let gauge = self.in_flight.get_or_create(&queue_labels(queue)).clone();
        gauge.inc();
        InFlight(gauge)
    }

    pub fn queue_sampled(&self, queue: &str, messages: u32, consumers: u32) {
        self.queue_messages
            .get_or_create(&queue_labels(queue))
            .set(i64::from(messages));
        self.queue_consumers
            .get_or_create(&queue_labels(queue))
            .set(i64::from(consumers));
    }
}

fn queue_labels(queue: &str) -> QueueLabels {
    QueueLabels {
        queue: queue.to_owned(),
    }
}

pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Every metric in the OpenMetrics text format.
pub fn render() -> String {
    let mut text = String::new();
    // Writing to a String cannot fail; an error here would only drop the scrape.
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &metrics().registry) {
        tracing::warn!(%error, "could not encode metrics");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_appear_in_the_text_format() {
        let m = metrics();
        m.event_handled(
            "q.test",
            "scim.member.create",
            "ack",
            Duration::from_millis(3),
        );
        m.dead_lettered("q.test", "unknown_organization");
        {
            let _guard = m.in_flight("q.test");
            assert!(render().contains(r#"scimsync_in_flight_messages{queue="q.test"} 1"#));
        }
        let text = render();
        assert!(
            text.contains(
                r#"scimsync_events_total{queue="q.test",event_type="scim.member.create",outcome="ack"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"scimsync_dead_letters_total{queue="q.test",reason="unknown_organization"} 1"#
        ));
        assert!(text.contains(r#"scimsync_in_flight_messages{queue="q.test"} 0"#));
        assert!(text.contains("scimsync_handler_duration_seconds_bucket"));
        assert!(text.ends_with("# EOF\n"));
    }
}
