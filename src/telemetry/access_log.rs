//! One line per request: a flat JSON object in JSON mode, a short summary line in text mode.
//!
//! The JSON line is written by its own writer, not as a `tracing` message, so every field sits
//! at the top level where `jq`, Loki or Vector find it (`{"timestamp", "level", "target":
//! "access", "request_id", "status", …}`) instead of inside an escaped `fields.message` string.
//! The fields are what an operator greps for; keys and upstream credentials never appear (only
//! the key's configured name).
//!
//! Adding a field is adding it to [`AccessRecord`]; absent optional fields are left out of the
//! line.

use super::logging::{LogFormat, LogWriter};
use serde::Serialize;
use std::fmt;
use std::sync::OnceLock;

/// One upstream attempt as it ended.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The channel label (`provider/model#n`).
    pub channel: String,
    /// `ok`, `status_503`, `connect_error`, …
    pub outcome: String,
    /// How long the attempt took until it committed or failed.
    pub duration_ms: u64,
    /// The change of the channel's health it caused (`ejected`, `cooldown_rate_limited`,
    /// `disabled`, `recovered`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<&'static str>,
}

/// Everything one access-log line says about a request.
#[derive(Serialize, Debug, Default)]
pub struct AccessRecord<'a> {
    /// The request id echoed to the client.
    pub request_id: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// Request path without the query (which may hold `?key=`).
    pub path: &'a str,
    /// The recognised endpoint (`chat_completions`, `messages`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<&'a str>,
    /// Status sent to the client.
    pub status: u16,
    /// The client key's name, when authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    /// The public model asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    /// The channel that answered (or the last one tried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'a str>,
    /// The provider of that channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<&'a str>,
    /// Upstream attempts made.
    pub attempts: usize,
    /// Every attempt in order, with its outcome and duration.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tried: &'a [AttemptRecord],
    /// Codes of what conversions changed or dropped.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub warnings: &'a [&'static str],
    /// The upstream's own finish reason, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<&'a str>,
    /// The upstream's own request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_request_id: Option<&'a str>,
    /// The client hung up mid-stream; usage was read from the upstream afterwards.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub aborted: bool,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// Total time in milliseconds.
    #[serde(serialize_with = "micros")]
    pub duration_ms: f64,
    /// Time to the first answer byte in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_micros")]
    pub ttft_ms: Option<f64>,
    /// Input tokens (all buckets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Output tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// What a prepaid account was charged, as an exact USD decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<String>,
    /// Why the request failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

/// Milliseconds to the microsecond: more digits are timer noise and make lines hard to read.
fn micros<S: serde::Serializer>(ms: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((ms * 1000.0).round() / 1000.0)
}

fn opt_micros<S: serde::Serializer>(ms: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => micros(ms, s),
        None => s.serialize_none(),
    }
}

/// The flat JSON line: the record's fields next to the same time, level and target every other
/// JSON log line has, so one collector rule reads both.
#[derive(Serialize)]
struct JsonLine<'r, 'a> {
    #[serde(serialize_with = "rfc3339_now")]
    timestamp: (),
    level: &'static str,
    target: &'static str,
    #[serde(flatten)]
    record: &'r AccessRecord<'a>,
}

fn rfc3339_now<S: serde::Serializer>(_: &(), s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_micros(std::time::SystemTime::now()))
}

/// Where access lines go once logging is set up.
struct Sink {
    format: LogFormat,
    writer: LogWriter,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends access lines to `writer` in `format` (called by [`super::logging::init`]).
pub(crate) fn install(format: LogFormat, writer: LogWriter) {
    let _ = SINK.set(Sink { format, writer });
}

/// The record as one flat JSON object and a newline.
pub fn json_line(record: &AccessRecord<'_>) -> Result<Vec<u8>, serde_json::Error> {
    let mut line = Vec::with_capacity(512);
    serde_json::to_writer(&mut line, &JsonLine { timestamp: (), level: "INFO", target: "access", record })?;
    line.push(b'\n');
    Ok(line)
}

/// Emits the record at info level on target `access` (so `RUST_LOG=access=off` silences it).
pub fn emit(record: &AccessRecord<'_>) {
    // Serialising costs more than the rest of the hook: skip it when the line would be dropped.
    if !tracing::enabled!(target: "access", tracing::Level::INFO) {
        return;
    }
    match SINK.get() {
        Some(Sink { format: LogFormat::Json, writer }) => match json_line(record) {
            Ok(line) => {
                if let Err(e) = writer.write_line(&line) {
                    tracing::warn!(target: "access", "cannot write access record: {e}");
                }
            }
            Err(e) => tracing::warn!(target: "access", "cannot serialise access record: {e}"),
        },
        // Text mode, or a library user that set up its own subscriber: a `tracing` event.
        _ => tracing::info!(target: "access", "{record}"),
    }
}

/// The human summary: `POST /v1/chat/completions 200 12.3ms model=… key=… tokens=5/3 id=…`.
impl fmt::Display for AccessRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {:.1}ms", self.method, self.path, self.status, self.duration_ms)?;
        if let Some(ttft) = self.ttft_ms {
            write!(f, " ttft={ttft:.1}ms")?;
        }
        if self.stream {
            f.write_str(" stream")?;
        }
        let named = [("model", self.model), ("channel", self.channel), ("key", self.key)];
        for (name, value) in named {
            if let Some(v) = value {
                write!(f, " {name}={v}")?;
            }
        }
        if self.attempts > 1 {
            write!(f, " attempts={}", self.attempts)?;
        }
        if self.input_tokens.is_some() || self.output_tokens.is_some() {
            let show = |t: Option<u64>| t.map_or_else(|| "-".to_owned(), |n| n.to_string());
            write!(f, " tokens={}/{}", show(self.input_tokens), show(self.output_tokens))?;
        }
        if let Some(e) = self.error {
            write!(f, " error={e:?}")?;
        }
        write!(f, " id={}", self.request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessRecord<'static> {
        AccessRecord {
            request_id: "req_1",
            method: "POST",
            path: "/v1/chat/completions",
            endpoint: Some("chat_completions"),
            status: 200,
            key: Some("tester"),
            model: Some("m"),
            attempts: 2,
            stream: true,
            duration_ms: 12.340_000_000_000_2,
            input_tokens: Some(5),
            output_tokens: Some(3),
            ..AccessRecord::default()
        }
    }

    #[test]
    fn json_line_is_one_flat_object() {
        let line = json_line(&record()).unwrap_or_default();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(line.ends_with(b"\n"));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
        assert_eq!(v["target"], "access");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["request_id"], "req_1");
        assert_eq!(v["status"], 200);
        assert_eq!(v["input_tokens"], 5);
        assert_eq!(v["duration_ms"].as_f64(), Some(12.34));
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z') && t.contains('T')), "{v}");
        assert!(v.get("fields").is_none() && v.get("message").is_none());
        assert!(v.get("channel").is_none() && v.get("error").is_none(), "absent fields are left out: {v}");
    }

    #[test]
    fn text_line_is_a_short_summary() {
        let text = record().to_string();
        assert_eq!(text, "POST /v1/chat/completions 200 12.3ms stream model=m key=tester attempts=2 tokens=5/3 id=req_1");
        let failed = AccessRecord { status: 401, error: Some("bad key"), ..AccessRecord::default() };
        assert!(failed.to_string().contains(" 401 ") && failed.to_string().contains("error=\"bad key\""));
    }
}
