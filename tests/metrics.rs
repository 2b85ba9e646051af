//! `/metrics` after real traffic: the OpenTelemetry GenAI names, Switchyard's own, their labels
//! and values, and that no key or request id ever becomes a label.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;
use switchyard::mock::Faults;

/// The value of the sample whose line starts with `series` (name and labels, exactly).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.parse().ok()))
}

const GEN_AI: &str = "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"second\",gen_ai_request_model=\"public-model\"";

#[tokio::test]
async fn metrics_after_traffic_have_names_labels_and_values() {
    let (a, _b, gw) = pair("connect: 1s, first_byte: 5s, idle: 5s", "").await;
    a.set_faults(Faults { status: Some(503), ..Faults::default() });

    // One whole answer and one stream, each failing over from `first` (503) to `second`.
    let whole: serde_json::Value = gw.chat(hello(json!({}))).await.json().await.unwrap();
    let input = whole["usage"]["prompt_tokens"].as_u64().unwrap();
    let output = whole["usage"]["completion_tokens"].as_u64().unwrap();
    assert!(input > 0 && output > 1, "{whole}");
    let resp = gw.chat(hello(json!({"stream": true, "stream_options": {"include_usage": true}}))).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("[DONE]"));
    // A refused key: counted by endpoint and status class, no model.
    assert_error(reqwest::Client::new().get(gw.url("/v1/models")).bearer_auth("sk-wrong-key").send().await.unwrap(), 401).await;

    let requests = "switchyard_requests_total{channel=\"second/upstream-model#1\",endpoint=\"chat_completions\",inbound=\"openai_chat\",model=\"public-model\",provider=\"second\",status=\"200\",status_class=\"2xx\"}";
    let m = gw.metrics_when(|m| sample(m, requests) == Some(2.0) && m.contains("endpoint=\"models\"")).await;

    assert_eq!(sample(&m, requests), Some(2.0), "{m}");
    let refused = "switchyard_requests_total{channel=\"\",endpoint=\"models\",inbound=\"openai_chat\",model=\"\",provider=\"\",status=\"401\",status_class=\"4xx\"}";
    assert_eq!(sample(&m, refused), Some(1.0), "{m}");
    let attempt = |channel: &str, provider: &str, outcome: &str| {
        sample(
            &m,
            &format!("switchyard_upstream_attempts_total{{channel=\"{channel}\",outcome=\"{outcome}\",provider=\"{provider}\"}}"),
        )
    };
    assert_eq!(attempt("first/upstream-model#0", "first", "status_503"), Some(2.0), "{m}");
    assert_eq!(attempt("second/upstream-model#1", "second", "ok"), Some(2.0), "{m}");
    assert_eq!(
        sample(&m, "switchyard_failovers_total{channel=\"first/upstream-model#0\",reason=\"status_503\"}"),
        Some(2.0),
        "{m}"
    );
    assert!(!m.contains("switchyard_failovers_total{channel=\"second"), "the answering attempt is no failover");

    // Tokens: both requests report the same usage, so the totals are twice the JSON answer's.
    let tokens = |kind: &str| {
        sample(&m, &format!("switchyard_tokens_total{{kind=\"{kind}\",model=\"public-model\",provider=\"second\"}}"))
    };
    assert_eq!(tokens("input"), Some((2 * input) as f64), "{m}");
    assert_eq!(tokens("output"), Some((2 * output) as f64), "{m}");
    let usage = |kind: &str, suffix: &str| {
        sample(&m, &format!("gen_ai_client_token_usage_{suffix}{{{GEN_AI},gen_ai_token_type=\"{kind}\"}}"))
    };
    assert_eq!(usage("input", "count"), Some(2.0), "{m}");
    assert_eq!(usage("output", "sum"), Some((2 * output) as f64), "{m}");

    // Durations: both requests, the stream's per-token time, the overhead of each kind.
    assert_eq!(sample(&m, &format!("gen_ai_server_request_duration_count{{error_type=\"\",{GEN_AI}}}")), Some(2.0), "{m}");
    assert_eq!(sample(&m, &format!("gen_ai_server_time_to_first_token_count{{{GEN_AI}}}")), Some(2.0), "{m}");
    assert_eq!(sample(&m, &format!("gen_ai_server_time_per_output_token_count{{{GEN_AI}}}")), Some(1.0), "{m}");
    for stream in ["true", "false"] {
        let series = format!("switchyard_gateway_overhead_seconds_count{{endpoint=\"chat_completions\",stream=\"{stream}\"}}");
        assert_eq!(sample(&m, &series), Some(1.0), "{m}");
        let sum = sample(&m, &series.replace("_count{", "_sum{")).unwrap();
        assert!(sum > 0.0 && sum < 1.0, "overhead {sum}s");
    }
    assert_eq!(sample(&m, "switchyard_open_streams"), Some(0.0), "the stream was closed: {m}");

    // Bounded labels: never a key, an upstream secret or a request id.
    for secret in [KEY, UPSTREAM_KEY, "sk-wrong-key", "req_"] {
        assert!(!m.contains(secret), "{secret} leaked into /metrics");
    }
}
