//! One telemetry set-up for every binary: JSON or pretty logs, an OpenTelemetry tracer whose
//! spans always carry trace ids (so W3C context can cross the queue), and OTLP export only when
//! an endpoint is configured.

use opentelemetry::trace::{TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
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
    if !settings.otlp_endpoint.trim().is_empty() {
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
    install(service, settings, builder.build(), std::io::stdout)
}

/// The OpenTelemetry resource naming this service.
pub fn resource(service: &'static str) -> Resource {
    Resource::builder().with_service_name(service).build()
}

/// Installs the global subscriber with a given tracer provider and log writer: what [`init`]
/// does, open to tests that export spans to memory and capture log lines.
pub fn install<W>(
    service: &'static str,
    settings: &TelemetrySettings,
    provider: SdkTracerProvider,
    writer: W,
) -> anyhow::Result<TelemetryGuard>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    // Spans go to OpenTelemetry at INFO whatever the log level, so quieter logs (`warn`) do not
    // switch tracing off; the log level filters the log lines only.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        .with_filter(LevelFilter::INFO);

    let filter =
        EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&settings.log_level))?;
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match settings.log_format.as_str() {
        // The span list puts the fields of every enclosing span (event id, organization id,
        // trace id of a message being processed) on each line, even inside nested spans.
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
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
