//! Prometheus metrics, registered once in a registry the admin listener renders.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// Latency buckets (seconds) from sub-millisecond local answers to multi-minute streams.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// Requests finished, by public model, final channel and status.
    pub requests: IntCounterVec,
    /// Whole-request latency, by model, channel and status.
    pub latency: HistogramVec,
    /// Time from request start to the first byte of answer sent to the client.
    pub ttft: HistogramVec,
    /// Upstream attempts by channel and outcome (`ok`, `status_503`, `connect_error`, …).
    pub attempts: IntCounterVec,
}

/// Why the metrics could not be set up (a duplicate or invalid definition: a programming error).
#[derive(Debug, thiserror::Error)]
#[error("metrics setup failed: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let labels = &["model", "channel", "status"];
        let requests = IntCounterVec::new(
            Opts::new("switchyard_requests_total", "Requests finished, by public model, channel and status"),
            labels,
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("switchyard_request_duration_seconds", "Request latency from head to last byte")
                .buckets(LATENCY_BUCKETS.to_vec()),
            labels,
        )?;
        let ttft = HistogramVec::new(
            HistogramOpts::new(
                "switchyard_time_to_first_token_seconds",
                "Time from request head to the first answer byte sent to the client",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            labels,
        )?;
        let attempts = IntCounterVec::new(
            Opts::new("switchyard_upstream_attempts_total", "Upstream attempts by channel and outcome"),
            &["channel", "outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(ttft.clone()))?;
        registry.register(Box::new(attempts.clone()))?;
        Ok(Metrics { registry, requests, latency, ttft, attempts })
    }

    /// The text exposition format for `/metrics`.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8192);
        // Encoding into a Vec only fails on invalid metric families, which registration rejects.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
