//! Prometheus metrics, registered once in a registry the admin listener renders.
//!
//! Names follow the OpenTelemetry GenAI semantic conventions where one exists
//! (`gen_ai.server.request.duration` → `gen_ai_server_request_duration`, attributes with `.`
//! as `_`), so dashboards built for those conventions work unchanged; everything else is
//! `switchyard_*`. Every label value comes from the config or a fixed list (endpoint, protocol,
//! status, outcome): never a key, a request id or a model name a client typed, so the number of
//! series stays bounded whatever clients send.

use std::time::Duration;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Whole-request latency buckets (seconds), from sub-millisecond local answers to long streams.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// `gen_ai.server.time_to_first_token` buckets as the convention advises.
const TTFT_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
/// `gen_ai.server.time_per_output_token` buckets as the convention advises.
const TPOT_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];
/// `gen_ai.client.token.usage` buckets as the convention advises (powers of 4).
const TOKEN_BUCKETS: &[f64] = &[
    1.0,
    4.0,
    16.0,
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];
/// The gateway's own time per request: tens of microseconds when all is well.
const OVERHEAD_BUCKETS: &[f64] =
    &[0.000_025, 0.000_05, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// `switchyard_requests_total{endpoint,inbound,model,provider,channel,status,status_class}`.
    pub requests: IntCounterVec,
    /// `gen_ai_server_request_duration`: head to last byte, requests that named a known model.
    pub request_duration: HistogramVec,
    /// `gen_ai_server_time_to_first_token`: head to the first answer byte sent to the client.
    pub ttft: HistogramVec,
    /// `gen_ai_server_time_per_output_token`: streamed time after the first byte per further
    /// output token.
    pub time_per_output_token: HistogramVec,
    /// `gen_ai_client_token_usage{gen_ai_token_type=input|output}`: tokens per request.
    pub token_usage: HistogramVec,
    /// `switchyard_tokens_total{model,provider,kind}`: running totals by kind.
    pub tokens: IntCounterVec,
    /// `switchyard_upstream_attempts_total{provider,channel,outcome}`.
    pub attempts: IntCounterVec,
    /// `switchyard_failovers_total{channel,reason}`: an attempt that failed and was followed
    /// by another channel.
    pub failovers: IntCounterVec,
    /// `switchyard_gateway_overhead_seconds{endpoint,stream}`: time not spent waiting on an
    /// upstream (see [`Observation::overhead`]).
    pub overhead: HistogramVec,
    /// `switchyard_open_streams`: streamed answers being relayed right now.
    pub open_streams: IntGauge,
    /// `switchyard_channel_disables_total{channel}`: channels disabled because the provider
    /// refused their credentials.
    pub channel_disables: IntCounterVec,
    /// `switchyard_channel_ejections_total{channel,reason}`: channels taken out of rotation
    /// for a cooldown (`ejected`, `cooldown_rate_limited`).
    pub channel_ejections: IntCounterVec,
}

/// Why the metrics could not be set up (a duplicate or invalid definition: a programming error).
#[derive(Debug, thiserror::Error)]
#[error("metrics setup failed: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// One upstream attempt, as the metrics see it.
#[derive(Clone, Copy, Debug)]
pub struct AttemptObservation<'a> {
    /// The channel label from the config (`provider/model#n`).
    pub channel: &'a str,
    /// `ok`, `status_503`, `connect_error`, …
    pub outcome: &'a str,
    /// The health change the attempt caused (`ejected`, `disabled`, …), if any.
    pub health: Option<&'a str>,
}

/// Token counts of one request by kind; cache and reasoning counts are subsets of input and
/// output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Every prompt token.
    pub input: u64,
    /// Every output token, reasoning included.
    pub output: u64,
    /// Prompt tokens read from a cache.
    pub cache_read: u64,
    /// Prompt tokens written to a cache.
    pub cache_write: u64,
    /// Reasoning (thinking) tokens.
    pub reasoning: u64,
}

/// Everything the metrics record about one finished request; built by the gateway's logging
/// hook so that this module knows no gateway type.
#[derive(Clone, Debug, Default)]
pub struct Observation<'a> {
    /// The stable endpoint name (`chat_completions`, `models`, `health`, …); empty if unknown.
    pub endpoint: &'a str,
    /// The client's protocol (`openai_chat`, `openai_responses`, `anthropic`, `gemini`).
    pub inbound: &'a str,
    /// The public model id from the config; empty when none was resolved.
    pub model: &'a str,
    /// The provider name from the config; empty when no upstream was tried.
    pub provider: &'a str,
    /// The channel that answered or was tried last.
    pub channel: &'a str,
    /// The status sent to the client (499: the client went away).
    pub status: u16,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// Head to last byte.
    pub total: Duration,
    /// Head to the first answer byte.
    pub ttft: Option<Duration>,
    /// Time spent inside upstream attempts (connect, send, wait, and for whole answers the
    /// body).
    pub upstream: Duration,
    /// Every attempt in order.
    pub attempts: &'a [AttemptObservation<'a>],
    /// Tokens, when the upstream reported usage.
    pub tokens: Option<TokenCounts>,
}

impl Observation<'_> {
    /// The gateway's own share of the latency: for a stream, time to first byte minus upstream
    /// time (what the gateway added before the client saw anything; the relay afterwards
    /// waits on the upstream); otherwise total minus upstream time.
    pub fn overhead(&self) -> Duration {
        let span = match (self.stream, self.ttft) {
            (true, Some(ttft)) => ttft,
            _ => self.total,
        };
        span.saturating_sub(self.upstream)
    }
}

/// `2xx`, `4xx`, …; `499` (client gone) is its own class so it does not look like a client
/// error the gateway answered.
pub fn status_class(status: u16) -> &'static str {
    match status {
        499 => "client_closed",
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

/// `gen_ai.operation.name` for an endpoint: the convention's values where one fits.
pub fn operation_name(endpoint: &str) -> &str {
    match endpoint {
        "chat_completions" | "responses" | "messages" => "chat",
        "generate_content" | "stream_generate_content" => "generate_content",
        other => other,
    }
}

fn histogram(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> Result<HistogramVec, prometheus::Error> {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels)
}

const GEN_AI: &[&str] = &["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"];

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "switchyard_requests_total",
                "Requests finished, by endpoint, inbound protocol, model, provider and status",
            ),
            &["endpoint", "inbound", "model", "provider", "channel", "status", "status_class"],
        )?;
        let request_duration = histogram(
            "gen_ai_server_request_duration",
            "Seconds from request head to last byte (OpenTelemetry gen_ai.server.request.duration)",
            LATENCY_BUCKETS,
            &[GEN_AI, &["error_type"]].concat(),
        )?;
        let ttft = histogram(
            "gen_ai_server_time_to_first_token",
            "Seconds from request head to the first answer byte sent to the client",
            TTFT_BUCKETS,
            GEN_AI,
        )?;
        let time_per_output_token = histogram(
            "gen_ai_server_time_per_output_token",
            "Seconds per output token after the first, streamed answers",
            TPOT_BUCKETS,
            GEN_AI,
        )?;
        let token_usage = histogram(
            "gen_ai_client_token_usage",
            "Tokens per request by type (input, output)",
            TOKEN_BUCKETS,
            &[GEN_AI, &["gen_ai_token_type"]].concat(),
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "switchyard_tokens_total",
                "Tokens by kind: input, output; cache_read and cache_write are part of input, reasoning part of output",
            ),
            &["model", "provider", "kind"],
        )?;
        let attempts = IntCounterVec::new(
            Opts::new("switchyard_upstream_attempts_total", "Upstream attempts by channel and outcome"),
            &["provider", "channel", "outcome"],
        )?;
        let failovers = IntCounterVec::new(
            Opts::new("switchyard_failovers_total", "Attempts that failed and moved on to the next channel, by reason"),
            &["channel", "reason"],
        )?;
        let overhead = histogram(
            "switchyard_gateway_overhead_seconds",
            "Seconds of a request not spent in upstream attempts (streams: up to the first byte)",
            OVERHEAD_BUCKETS,
            &["endpoint", "stream"],
        )?;
        let open_streams = IntGauge::new("switchyard_open_streams", "Streamed answers being relayed now")?;
        let channel_disables = IntCounterVec::new(
            Opts::new("switchyard_channel_disables_total", "Channels disabled because the provider refused their credentials"),
            &["channel"],
        )?;
        let channel_ejections = IntCounterVec::new(
            Opts::new("switchyard_channel_ejections_total", "Channels taken out of rotation for a cooldown, by reason"),
            &["channel", "reason"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(ttft.clone()))?;
        registry.register(Box::new(time_per_output_token.clone()))?;
        registry.register(Box::new(token_usage.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(failovers.clone()))?;
        registry.register(Box::new(overhead.clone()))?;
        registry.register(Box::new(open_streams.clone()))?;
        registry.register(Box::new(channel_disables.clone()))?;
        registry.register(Box::new(channel_ejections.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            request_duration,
            ttft,
            time_per_output_token,
            token_usage,
            tokens,
            attempts,
            failovers,
            overhead,
            open_streams,
            channel_disables,
            channel_ejections,
        })
    }

    /// Records one finished request.
    pub fn record(&self, o: &Observation<'_>) {
        let status = o.status.to_string();
        let class = status_class(o.status);
        self.requests
            .with_label_values(&[o.endpoint, o.inbound, o.model, o.provider, o.channel, &status, class])
            .inc();
        self.overhead
            .with_label_values(&[o.endpoint, if o.stream { "true" } else { "false" }])
            .observe(o.overhead().as_secs_f64());
        for (index, a) in o.attempts.iter().enumerate() {
            let provider = a.channel.split_once('/').map_or(a.channel, |(p, _)| p);
            self.attempts.with_label_values(&[provider, a.channel, a.outcome]).inc();
            if index + 1 < o.attempts.len() {
                self.failovers.with_label_values(&[a.channel, a.outcome]).inc();
            }
            match a.health {
                Some("disabled") => self.channel_disables.with_label_values(&[a.channel]).inc(),
                Some(change @ ("ejected" | "cooldown_rate_limited")) => {
                    self.channel_ejections.with_label_values(&[a.channel, change]).inc()
                }
                _ => {}
            }
        }
        if o.model.is_empty() {
            // Listings, health and unknown models: no generation to describe.
            return;
        }
        let gen_ai = [operation_name(o.endpoint), o.provider, o.model];
        let error_type = if o.status >= 400 { status.as_str() } else { "" };
        self.request_duration
            .with_label_values(&[gen_ai[0], gen_ai[1], gen_ai[2], error_type])
            .observe(o.total.as_secs_f64());
        if let Some(ttft) = o.ttft {
            self.ttft.with_label_values(&gen_ai).observe(ttft.as_secs_f64());
        }
        let Some(t) = o.tokens else { return };
        for (kind, count) in [
            ("input", t.input),
            ("output", t.output),
            ("cache_read", t.cache_read),
            ("cache_write", t.cache_write),
            ("reasoning", t.reasoning),
        ] {
            self.tokens.with_label_values(&[o.model, o.provider, kind]).inc_by(count);
        }
        for (kind, count) in [("input", t.input), ("output", t.output)] {
            self.token_usage.with_label_values(&[gen_ai[0], gen_ai[1], gen_ai[2], kind]).observe(count as f64);
        }
        if let (true, Some(ttft)) = (o.stream, o.ttft) {
            if t.output > 1 {
                let after_first = o.total.saturating_sub(ttft).as_secs_f64();
                self.time_per_output_token.with_label_values(&gen_ai).observe(after_first / (t.output - 1) as f64);
            }
        }
    }

    /// Counts a stream as open until the returned guard is dropped (however the relay ends).
    pub fn stream_opened(&self) -> OpenStream {
        self.open_streams.inc();
        OpenStream(self.open_streams.clone())
    }

    /// The text exposition format for `/metrics`.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8192);
        // Encoding into a Vec only fails on invalid metric families, which registration rejects.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// One open stream in `switchyard_open_streams`; closes it on drop.
#[must_use = "the stream counts as open only while this guard lives"]
pub struct OpenStream(IntGauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &Metrics) -> String {
        String::from_utf8(m.render()).unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_streamed_generation_after_a_failover_is_recorded_everywhere() {
        let m = Metrics::new().unwrap();
        let attempts = [
            AttemptObservation { channel: "a/up#0", outcome: "status_503", health: Some("disabled") },
            AttemptObservation { channel: "b/up#1", outcome: "ok", health: None },
        ];
        m.record(&Observation {
            endpoint: "messages",
            inbound: "anthropic",
            model: "m",
            provider: "b",
            channel: "b/up#1",
            status: 200,
            stream: true,
            total: ms(1100),
            ttft: Some(ms(100)),
            upstream: ms(90),
            attempts: &attempts,
            tokens: Some(TokenCounts { input: 10, output: 11, cache_read: 4, cache_write: 0, reasoning: 3 }),
        });
        let t = text(&m);
        for line in [
            "switchyard_requests_total{channel=\"b/up#1\",endpoint=\"messages\",inbound=\"anthropic\",model=\"m\",provider=\"b\",status=\"200\",status_class=\"2xx\"} 1",
            "switchyard_upstream_attempts_total{channel=\"a/up#0\",outcome=\"status_503\",provider=\"a\"} 1",
            "switchyard_upstream_attempts_total{channel=\"b/up#1\",outcome=\"ok\",provider=\"b\"} 1",
            "switchyard_failovers_total{channel=\"a/up#0\",reason=\"status_503\"} 1",
            "switchyard_channel_disables_total{channel=\"a/up#0\"} 1",
            "switchyard_tokens_total{kind=\"reasoning\",model=\"m\",provider=\"b\"} 3",
            "switchyard_tokens_total{kind=\"cache_read\",model=\"m\",provider=\"b\"} 4",
            "gen_ai_client_token_usage_sum{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"b\",gen_ai_request_model=\"m\",gen_ai_token_type=\"output\"} 11",
            "gen_ai_server_request_duration_sum{error_type=\"\",gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"b\",gen_ai_request_model=\"m\"} 1.1",
            "gen_ai_server_time_to_first_token_sum{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"b\",gen_ai_request_model=\"m\"} 0.1",
            // (1.1 s - 0.1 s) over the 10 tokens after the first.
            "gen_ai_server_time_per_output_token_sum{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"b\",gen_ai_request_model=\"m\"} 0.1",
        ] {
            assert!(t.contains(line), "missing {line}\n{t}");
        }
        assert!(!t.contains("switchyard_failovers_total{channel=\"b/up#1\""), "the answering attempt is no failover");
        // Streams: overhead is the time to first byte not spent upstream (100 - 90 ms).
        let overhead = t.lines().find(|l| l.starts_with("switchyard_gateway_overhead_seconds_sum")).unwrap();
        let value: f64 = overhead.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((value - 0.01).abs() < 1e-9, "{overhead}");
    }

    #[test]
    fn local_routes_get_request_counts_but_no_generation_metrics() {
        let m = Metrics::new().unwrap();
        m.record(&Observation { endpoint: "models", inbound: "openai_chat", status: 401, total: ms(2), ..Default::default() });
        let t = text(&m);
        assert!(t.contains("switchyard_requests_total{channel=\"\",endpoint=\"models\",inbound=\"openai_chat\",model=\"\",provider=\"\",status=\"401\",status_class=\"4xx\"} 1"), "{t}");
        assert!(!t.contains("gen_ai_server_request_duration_count"), "{t}");
        assert!(t.contains("switchyard_gateway_overhead_seconds_count{endpoint=\"models\",stream=\"false\"} 1"), "{t}");
    }

    #[test]
    fn overhead_is_total_minus_upstream_for_whole_answers() {
        let o = Observation { total: ms(50), upstream: ms(45), ttft: Some(ms(49)), ..Default::default() };
        assert_eq!(o.overhead(), ms(5));
        let clock_skew = Observation { total: ms(5), upstream: ms(6), ..Default::default() };
        assert_eq!(clock_skew.overhead(), Duration::ZERO);
    }

    #[test]
    fn open_streams_close_when_the_guard_drops() {
        let m = Metrics::new().unwrap();
        let a = m.stream_opened();
        let b = m.stream_opened();
        assert_eq!(m.open_streams.get(), 2);
        drop(a);
        assert_eq!(m.open_streams.get(), 1);
        drop(b);
        assert_eq!(m.open_streams.get(), 0);
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(499), "client_closed");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(0), "none");
    }
}
