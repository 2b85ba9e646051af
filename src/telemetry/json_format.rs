//! JSON log lines that are flat: `{"timestamp", "level", "target", "message", …fields}`.
//!
//! tracing-subscriber's own JSON nests the fields under `fields` and, for Pingora's `log`
//! records, copies the dependency's source path and module into every line (`log.file`,
//! `log.module_path`). This formatter puts every field at the top level like the access log,
//! takes the real target of a `log` record from `log.target`, and drops the other `log.*`
//! metadata.

use serde::ser::{SerializeMap, Serializer as _};
use serde_json::Value;
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The flat JSON event format.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlatJson;

/// An event's fields, in the order they were recorded.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    log_target: Option<String>,
    rest: Vec<(&'static str, Value)>,
}

impl Fields {
    fn put(&mut self, name: &'static str, value: Value) {
        match name {
            "message" => self.message = Some(value.as_str().map_or_else(|| value.to_string(), str::to_owned)),
            "log.target" => self.log_target = value.as_str().map(str::to_owned),
            n if n.starts_with("log.") => {}
            n => self.rest.push((n.strip_prefix("r#").unwrap_or(n), value)),
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field.name(), Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field.name(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field.name(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field.name(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field.name(), Value::from(value));
    }
}

/// The JSON object for one event, without the newline.
fn line(timestamp: &str, level: &str, target: &str, fields: &Fields) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::new(&mut out);
    let mut map = ser.serialize_map(None)?;
    map.serialize_entry("timestamp", timestamp)?;
    map.serialize_entry("level", level)?;
    map.serialize_entry("target", fields.log_target.as_deref().unwrap_or(target))?;
    if let Some(message) = &fields.message {
        map.serialize_entry("message", message)?;
    }
    for (name, value) in &fields.rest {
        map.serialize_entry(name, value)?;
    }
    map.end()?;
    // serde_json writes only UTF-8.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let timestamp = humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string();
        let text = line(&timestamp, meta.level().as_str(), meta.target(), &fields).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_flat_and_log_metadata_is_dropped() {
        let mut f = Fields::default();
        f.put("message", Value::String("Server starting".into()));
        f.put("log.target", Value::String("pingora_core::server".into()));
        f.put("log.file", Value::String("/root/.cargo/registry/src/pingora-core/src/server/mod.rs".into()));
        f.put("log.line", Value::from(643));
        f.put("addr", Value::String("127.0.0.1:1".into()));
        f.put("r#type", Value::from(1));
        let text = line("2026-01-01T00:00:00Z", "INFO", "log", &f).unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(v["target"], "pingora_core::server");
        assert_eq!(v["message"], "Server starting");
        assert_eq!((v["addr"].as_str(), v["type"].as_u64()), (Some("127.0.0.1:1"), Some(1)));
        assert!(!text.contains(".rs") && !text.contains("log."), "{text}");
        assert!(text.starts_with("{\"timestamp\":\"2026-01-01T00:00:00Z\",\"level\":\"INFO\""), "{text}");
    }
}
