//! One telemetry set-up for every binary: JSON or pretty logs, an OpenTelemetry tracer whose
//! spans always carry trace ids (so W3C context can cross the queue), and OTLP export only when
//! an endpoint is configured.

use opentelemetry::trace::{TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::field::VisitOutput as _;
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::fmt::format::{JsonVisitor, Writer};
use tracing_subscriber::fmt::{FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::settings::TelemetrySettings;

/// Keeps the tracer provider alive; dropping it flushes pending spans.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("telemetry shutdown: {error}");
        }
    }
}

/// Installs the global subscriber and propagator, exporting spans over OTLP when
/// `telemetry.otlp_endpoint` is set. Call once, from `main`.
pub fn init(service: &'static str, settings: &TelemetrySettings) -> anyhow::Result<TelemetryGuard> {
    let mut builder = SdkTracerProvider::builder().with_resource(resource(service));
    let exporting = !settings.otlp_endpoint.trim().is_empty();
    if exporting {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(format!(
                "{}/v1/traces",
                settings.otlp_endpoint.trim_end_matches('/')
            ))
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    install(
        service,
        settings,
        builder.build(),
        exporting,
        std::io::stdout,
    )
}

/// The OpenTelemetry resource naming this service.
pub fn resource(service: &'static str) -> Resource {
    Resource::builder().with_service_name(service).build()
}

/// Installs the global subscriber with a given tracer provider and log writer: what [`init`]
/// does, open to tests that export spans to memory and capture log lines.
///
/// Spans always get OpenTelemetry trace ids, which log lines and AMQP headers carry. When the
/// provider exports nothing (`exporting` false), the OpenTelemetry layer skips what only an
/// exported span shows: log lines as span events, busy and idle times, code locations and
/// threads (3-9% of each service's CPU, for nothing to read them; docs/benchmarks.md).
pub fn install<W>(
    service: &'static str,
    settings: &TelemetrySettings,
    provider: SdkTracerProvider,
    exporting: bool,
    writer: W,
) -> anyhow::Result<TelemetryGuard>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    // Spans go to OpenTelemetry at INFO whatever the log level, so quieter logs (`warn`) do not
    // switch tracing off; the log level filters the log lines only. No code here reads
    // OpenTelemetry's own current context (trace context crosses the queue from the tracing
    // span), so entering a span need not activate it.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        .with_context_activation(false)
        .with_tracked_inactivity(exporting)
        .with_location(exporting)
        .with_threads(exporting)
        .with_filter(
            filter_fn(move |meta| meta.level() <= &Level::INFO && (exporting || meta.is_span()))
                // Lets debug and trace call sites stay off without asking the filter.
                .with_max_level_hint(LevelFilter::INFO),
        );

    let filter =
        EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&settings.log_level))?;
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match settings.log_format.as_str() {
        // The span list puts the fields of every enclosing span (event id, organization id,
        // trace id of a message being processed) on each line, even inside nested spans.
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .fmt_fields(JsonSpanFields)
            .with_writer(writer)
            .boxed(),
        _ => tracing_subscriber::fmt::layer().with_writer(writer).boxed(),
    };
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

/// Records the span's trace id in its `trace_id` field (declared `Empty`), so log lines written
/// inside it can be matched with the trace. Call after any `set_parent`.
pub fn record_trace_id(span: &tracing::Span) {
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id != TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// The JSON logs' span fields, as `tracing_subscriber`'s `JsonFields` writes them, with two
/// differences:
/// - the OpenTelemetry fields (`otel.*`, `messaging.*`) are left out: they describe the span for
///   a trace backend, and in each line (twice: `span` and `spans`) they doubled a worker's line
///   to about 1,450 bytes (docs/benchmarks.md, "What the logs cost");
/// - a field recorded later (trace id, event id, status) is appended to the span's JSON object
///   instead of parsing it and writing it again whole. A field recorded twice appears twice;
///   the log line keeps the later value.
#[derive(Debug, Default)]
pub struct JsonSpanFields;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut visitor = JsonVisitor::new(&mut writer);
        fields.record(&mut LogFields(&mut visitor));
        visitor.finish()
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> std::fmt::Result {
        let mut added = String::new();
        let mut visitor = JsonVisitor::new(&mut added);
        fields.record(&mut LogFields(&mut visitor));
        visitor.finish()?;
        append_object(&mut current.fields, &added);
        Ok(())
    }
}

/// Passes on the fields a log line shows (see [`JsonSpanFields`]).
struct LogFields<'a, V>(&'a mut V);

impl<V: Visit> LogFields<'_, V> {
    fn shows(field: &Field) -> bool {
        let name = field.name();
        !(name.starts_with("otel.") || name.starts_with("messaging."))
    }
}

/// Each `Visit` method, passing the field on when a log line shows it.
macro_rules! pass_on {
    ($($method:ident: $value:ty),* $(,)?) => {$(
        fn $method(&mut self, field: &Field, value: $value) {
            if Self::shows(field) {
                self.0.$method(field, value);
            }
        }
    )*};
}

impl<V: Visit> Visit for LogFields<'_, V> {
    pass_on!(
        record_debug: &dyn std::fmt::Debug,
        record_str: &str,
        record_i64: i64,
        record_u64: u64,
        record_bool: bool,
        record_f64: f64,
        record_error: &(dyn std::error::Error + 'static),
    );
}

/// Appends the members of the JSON object `added` to the JSON object `object` (either may be
/// empty text or `{}`).
fn append_object(object: &mut String, added: &str) {
    let Some(members) = added.strip_prefix('{').and_then(|a| a.strip_suffix('}')) else {
        return;
    };
    if members.is_empty() {
        return;
    }
    match object.strip_suffix('}') {
        Some(open) if open.trim_end() != "{" => {
            object.truncate(open.len());
            object.push(',');
        }
        _ => {
            object.clear();
            object.push('{');
        }
    }
    object.push_str(members);
    object.push('}');
}

#[cfg(test)]
mod tests {
    use super::append_object;

    #[test]
    fn appended_members_keep_the_object_valid_json() {
        let cases = [
            ("", r#"{"a":1}"#, r#"{"a":1}"#),
            ("{}", r#"{"a":1}"#, r#"{"a":1}"#),
            (r#"{"a":1}"#, "{}", r#"{"a":1}"#),
            (
                r#"{"a":1}"#,
                r#"{"b":"x}","c":[2]}"#,
                r#"{"a":1,"b":"x}","c":[2]}"#,
            ),
        ];
        for (object, added, expected) in cases {
            let mut object = object.to_owned();
            append_object(&mut object, added);
            assert_eq!(object, expected);
            let parsed: serde_json::Value = serde_json::from_str(&object).expect("valid JSON");
            assert!(parsed.is_object());
        }
    }

    #[test]
    fn a_field_recorded_twice_reads_as_its_later_value() {
        let mut object = r#"{"status":"a"}"#.to_owned();
        append_object(&mut object, r#"{"status":"b"}"#);
        let parsed: serde_json::Value = serde_json::from_str(&object).expect("valid JSON");
        assert_eq!(parsed["status"], "b");
    }
}
