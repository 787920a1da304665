//! Seeing what the services report: spans kept in memory, log lines captured, and samples read
//! from a Prometheus scrape.
//!
//! The span collector is ours rather than the SDK's `InMemorySpanExporter`: that one sits
//! behind the SDK's `testing` feature, and enabling a feature from this crate would build the
//! SDK (and every crate above it) twice, once for the services alone and once for the tests.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use scimsync_platform::settings::TelemetrySettings;
use scimsync_platform::telemetry::{self, TelemetryGuard};
use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;
use uuid::Uuid;

use crate::app::{DEADLINE, SECRET};
use crate::webhooks::signed_request;
use crate::{wait_until, TestApp};

/// Keeps every finished span.
#[derive(Debug, Clone, Default)]
pub struct Spans(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Spans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().expect("spans").extend(batch);
        Ok(())
    }
}

impl Spans {
    pub fn finished(&self) -> Vec<SpanData> {
        self.0.lock().expect("spans").clone()
    }

    /// Finished spans with this name.
    pub fn named(&self, name: &str) -> Vec<SpanData> {
        self.finished()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }
}

/// Keeps every log line written.
#[derive(Debug, Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Logs {
    /// Waits for the JSON log line with this message written inside the span of this event.
    pub async fn line(&self, message: &str, event_id: &str) -> Value {
        wait_until(
            &format!("log line {message:?} of {event_id}"),
            DEADLINE,
            || async {
                self.json_lines().into_iter().find(|line| {
                    line["fields"]["message"] == message && line["span"]["event_id"] == event_id
                })
            },
        )
        .await
    }

    /// Every JSON log line so far.
    pub fn json_lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("logs").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

/// Installs the services' telemetry (JSON logs, OpenTelemetry layer) as the global subscriber,
/// with spans and log lines kept in memory. Once per process: one such test per test binary.
/// `exporting` is what the services pass when an OTLP endpoint is set; without one, they keep
/// trace ids but do not fill in what only an exported span shows.
pub fn capture(exporting: bool) -> (Spans, Logs, TelemetryGuard) {
    let spans = Spans::default();
    let logs = Logs::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(telemetry::resource("scimsync-tests"))
        // Simple (synchronous) export: a span is visible as soon as it ends.
        .with_simple_exporter(spans.clone())
        .build();
    let settings = TelemetrySettings {
        log_format: "json".into(),
        log_level: "info".into(),
        otlp_endpoint: String::new(),
    };
    let guard = telemetry::install(
        "scimsync-tests",
        &settings,
        provider,
        exporting,
        logs.clone(),
    )
    .expect("install telemetry");
    (spans, logs, guard)
}

/// Posts a signed webhook, with a W3C `traceparent` header if given, and expects it accepted.
pub async fn post_traced(app: &TestApp, body: &Value, traceparent: Option<&str>) {
    let bytes = serde_json::to_vec(body).expect("json");
    let id = format!("msg_{}", Uuid::new_v4().simple());
    let mut request = signed_request(
        &app.http,
        &app.ingest_url,
        &id,
        Utc::now().timestamp(),
        &bytes,
        SECRET,
    );
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.expect("post");
    assert_eq!(response.status(), 202);
}

/// The value of one series (`name{labels}` exactly as exposed) in a Prometheus scrape.
pub fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}
