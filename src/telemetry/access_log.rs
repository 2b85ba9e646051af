//! One JSON line per request on stdout, through `tracing`.
//!
//! The fields are what an operator greps for; keys and upstream credentials never appear
//! (only the key's configured name).

use serde::Serialize;

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
    pub endpoint: Option<&'a str>,
    /// Status sent to the client.
    pub status: u16,
    /// The client key's name, when authenticated.
    pub key: Option<&'a str>,
    /// The public model asked for.
    pub model: Option<&'a str>,
    /// The channel that answered (or the last one tried).
    pub channel: Option<&'a str>,
    /// Upstream attempts made.
    pub attempts: usize,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// Total time in milliseconds.
    pub duration_ms: f64,
    /// Time to the first answer byte in milliseconds.
    pub ttft_ms: Option<f64>,
    /// Input tokens (all buckets).
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
    /// Why the request failed, if it did.
    pub error: Option<&'a str>,
}

/// Emits the record as one JSON line at info level on target `access`.
pub fn emit(record: &AccessRecord<'_>) {
    // Serialising costs more than the rest of the hook: skip it when the line would be dropped.
    if !tracing::enabled!(target: "access", tracing::Level::INFO) {
        return;
    }
    match serde_json::to_string(record) {
        Ok(line) => tracing::info!(target: "access", "{line}"),
        Err(e) => tracing::warn!(target: "access", "cannot serialise access record: {e}"),
    }
}
