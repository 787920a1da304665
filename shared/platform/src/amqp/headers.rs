//! Reading and writing AMQP headers, including W3C trace context (SPEC A5).

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A header as text, whichever string type the publisher used.
pub fn get_str(table: &FieldTable, key: &str) -> Option<String> {
    match table.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// A header as an unsigned number, whichever integer type the publisher used.
pub fn get_u64(table: &FieldTable, key: &str) -> Option<u64> {
    let n: i128 = match table.inner().get(key)? {
        AMQPValue::ShortShortInt(v) => (*v).into(),
        AMQPValue::ShortShortUInt(v) => (*v).into(),
        AMQPValue::ShortInt(v) => (*v).into(),
        AMQPValue::ShortUInt(v) => (*v).into(),
        AMQPValue::LongInt(v) => (*v).into(),
        AMQPValue::LongUInt(v) => (*v).into(),
        AMQPValue::LongLongInt(v) => (*v).into(),
        _ => return None,
    };
    u64::try_from(n).ok()
}

pub fn set_str(table: &mut FieldTable, key: &str, value: impl Into<String>) {
    table.insert(
        ShortString::from(key.to_owned()),
        AMQPValue::LongString(LongString::from(value.into())),
    );
}

pub fn set_u64(table: &mut FieldTable, key: &str, value: u64) {
    let value = i64::try_from(value).unwrap_or(i64::MAX);
    table.insert(
        ShortString::from(key.to_owned()),
        AMQPValue::LongLongInt(value),
    );
}

struct HeaderInjector<'a>(&'a mut FieldTable);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        set_str(self.0, key, value);
    }
}

struct HeaderExtractor<'a>(&'a FieldTable);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match self.0.inner().get(key)? {
            AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
            AMQPValue::ShortString(s) => Some(s.as_str()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0.inner().keys().map(|k| k.as_str()).collect()
    }
}

/// Writes the current span's context as `traceparent`/`tracestate` headers.
pub fn inject_trace_context(table: &mut FieldTable) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(table));
    });
}

/// Makes `span` a child of the trace carried in the headers, if any.
pub fn adopt_trace_context(table: &FieldTable, span: &tracing::Span) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(table))
    });
    // Fails only when the span is disabled; nothing to link then.
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_round_trip() {
        let mut t = FieldTable::default();
        set_str(&mut t, "a", "hello");
        set_u64(&mut t, "n", 42);
        t.insert("small".into(), AMQPValue::LongInt(7));
        assert_eq!(get_str(&t, "a").as_deref(), Some("hello"));
        assert_eq!(get_u64(&t, "n"), Some(42));
        assert_eq!(get_u64(&t, "small"), Some(7));
        assert_eq!(get_u64(&t, "a"), None);
        assert_eq!(get_str(&t, "missing"), None);
    }
}
