//! Conversion cost, per protocol pair (OpenAI Chat, Anthropic, Gemini; Responses is not in the
//! dialect table yet):
//!
//! - `request/<in>-><out>`: one realistic request body in the inbound wire format → upstream
//!   body bytes, the way `gateway::generate` does it (passthrough edit for same-protocol pairs,
//!   `request_to_ir` + `ir_to_request` otherwise).
//! - `stream/<upstream>-><client>`: a 200-event upstream SSE stream cut into 1400-byte network
//!   chunks → SSE decode + convert (or passthrough) + reading the final usage, the way
//!   `gateway::relay` does it.
//!
//! Run: `cargo bench --bench convert -- --warm-up-time 1 --measurement-time 3`

// Benches are test code: the crate-wide deny of unwrap/expect/panic is for production paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};
use std::hint::black_box;
use switchyard::protocol::dialect::{self, ClientSpec};
use switchyard::protocol::ir::{ConvertOptions, Flow, Protocol, StreamConverter};
use switchyard::protocol::openai::chat::StreamStep;
use switchyard::protocol::passthrough::{self, PassthroughStream};
use switchyard::protocol::sse::SseDecoder;
use switchyard::protocol::usage::Usage;

const PROTOCOLS: [Protocol; 3] = [Protocol::OpenAiChat, Protocol::Anthropic, Protocol::Gemini];
const STREAM_EVENTS: usize = 200;
const NETWORK_CHUNK: usize = 1400;
const CLIENT_MODEL: &str = "public-model";
const UPSTREAM_MODEL: &str = "upstream-model-2025-01-01";

fn name(p: Protocol) -> &'static str {
    match p {
        Protocol::OpenAiChat => "openai",
        Protocol::Anthropic => "anthropic",
        Protocol::Gemini => "gemini",
        Protocol::OpenAiResponses => "responses",
    }
}

// ---------------------------------------------------------------------------------------------
// Request generators: the same conversation in each protocol's wire format.
// ---------------------------------------------------------------------------------------------

const SYSTEM: &str = "You are a careful senior engineer helping a colleague debug a production \
    service. Answer precisely, cite the relevant configuration keys, and prefer small, \
    reversible changes. When you are unsure, say so and propose how to find out.";

/// Six turns (user, assistant, …) of about 2 KB of text in all.
fn conversation() -> Vec<(&'static str, String)> {
    let topics = [
        "Our gateway started returning 502s for about two percent of streaming requests after the last deploy. The upstream logs show the requests completing normally, so I suspect something on our side is cutting the connection early.",
        "A few things could cause that: an idle timeout shorter than the upstream's time to first token, a buffer limit on the response path, or a connection pool reusing sockets the upstream already closed. Which of these changed in the deploy?",
        "The deploy bumped the pool size from 64 to 256 and lowered the idle timeout from 90 seconds to 30 seconds. Nothing else in the proxy configuration changed, as far as I can tell from the diff.",
        "Then the idle timeout is the first suspect: if the upstream keeps sockets for 60 seconds but we now drop them at 30, that alone is fine, but the reverse would produce exactly this pattern. Check the upstream keep-alive.",
        "The upstream advertises keep-alive timeout=20. So it closes sockets after twenty seconds, and we keep them for thirty. That would mean we sometimes reuse a socket that is already half closed, right?",
        "Exactly. Set the pool idle timeout below the upstream's, for example 15 seconds, and retry idempotent requests once on a connection reset before the first byte. Then watch the 502 rate for an hour.",
    ];
    topics
        .iter()
        .enumerate()
        .map(|(i, t)| (if i % 2 == 0 { "user" } else { "assistant" }, (*t).to_owned()))
        .collect()
}

/// Two tools as `(name, description, JSON schema)`.
fn tools() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "read_config",
            "Read one key of the running gateway configuration.",
            json!({
                "type": "object",
                "properties": {
                    "key": {"type": "string", "description": "Dotted configuration key, e.g. upstream.pool.idle_timeout"},
                    "environment": {"type": "string", "enum": ["staging", "production"]}
                },
                "required": ["key", "environment"],
                "additionalProperties": false
            }),
        ),
        (
            "query_metrics",
            "Run a metrics query over a time window and return the series.",
            json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "PromQL expression"},
                    "window_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
                    "step_seconds": {"type": "integer", "minimum": 1},
                    "labels": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["query", "window_minutes"]
            }),
        ),
    ]
}

fn openai_request() -> Vec<u8> {
    let mut messages = vec![json!({"role": "system", "content": SYSTEM})];
    messages.extend(conversation().into_iter().map(|(role, text)| json!({"role": role, "content": text})));
    let tools: Vec<Value> = tools()
        .into_iter()
        .map(|(n, d, s)| json!({"type": "function", "function": {"name": n, "description": d, "parameters": s}}))
        .collect();
    serde_json::to_vec(&json!({
        "model": CLIENT_MODEL,
        "messages": messages,
        "tools": tools,
        "tool_choice": "auto",
        "temperature": 0.3,
        "max_tokens": 1024,
        "stream": true,
        "stream_options": {"include_usage": true}
    }))
    .unwrap()
}

fn anthropic_request() -> Vec<u8> {
    let messages: Vec<Value> = conversation().into_iter().map(|(role, text)| json!({"role": role, "content": text})).collect();
    let tools: Vec<Value> =
        tools().into_iter().map(|(n, d, s)| json!({"name": n, "description": d, "input_schema": s})).collect();
    serde_json::to_vec(&json!({
        "model": CLIENT_MODEL,
        "system": SYSTEM,
        "messages": messages,
        "tools": tools,
        "tool_choice": {"type": "auto"},
        "temperature": 0.3,
        "max_tokens": 1024,
        "stream": true
    }))
    .unwrap()
}

/// Gemini names the model and streaming in the path, not the body.
fn gemini_request() -> Vec<u8> {
    let contents: Vec<Value> = conversation()
        .into_iter()
        .map(|(role, text)| json!({"role": if role == "assistant" { "model" } else { "user" }, "parts": [{"text": text}]}))
        .collect();
    let decls: Vec<Value> =
        tools().into_iter().map(|(n, d, s)| json!({"name": n, "description": d, "parametersJsonSchema": s})).collect();
    serde_json::to_vec(&json!({
        "systemInstruction": {"parts": [{"text": SYSTEM}]},
        "contents": contents,
        "tools": [{"functionDeclarations": decls}],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "generationConfig": {"temperature": 0.3, "maxOutputTokens": 1024}
    }))
    .unwrap()
}

fn request_body(p: Protocol) -> Vec<u8> {
    match p {
        Protocol::OpenAiChat => openai_request(),
        Protocol::Anthropic => anthropic_request(),
        Protocol::Gemini => gemini_request(),
        Protocol::OpenAiResponses => unreachable!("not in the dialect table"),
    }
}

/// What `gateway::generate` does for one channel: passthrough edit or hub round trip.
fn convert_request(inbound: Protocol, upstream: Protocol, body: &[u8], opts: &ConvertOptions) -> usize {
    if inbound == upstream {
        return passthrough::request(upstream, body, UPSTREAM_MODEL).unwrap().len();
    }
    let mut req = dialect::request_to_ir(inbound, body, Some(CLIENT_MODEL), true).unwrap();
    req.stream = true;
    req.model = UPSTREAM_MODEL.to_owned();
    dialect::ir_to_request(upstream, &req, opts).unwrap().value.len()
}

// ---------------------------------------------------------------------------------------------
// Stream generators: 200 SSE events in each upstream's exact wire format.
// ---------------------------------------------------------------------------------------------

const WORDS: [&str; 16] = [
    "The ",
    "pool ",
    "idle ",
    "timeout ",
    "should ",
    "stay ",
    "below ",
    "the ",
    "upstream's ",
    "keep-alive, ",
    "otherwise ",
    "a ",
    "reused ",
    "socket ",
    "may ",
    "reset. ",
];

/// The text of the `i`-th delta: a few words.
fn delta_text(i: usize) -> String {
    (0..3).map(|k| WORDS[(i * 3 + k) % WORDS.len()]).collect()
}

fn data_frame(out: &mut String, data: &Value) {
    out.push_str("data: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
}

/// Role chunk, 196 content chunks, finish chunk, usage chunk, `[DONE]`.
fn openai_stream() -> String {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-9xYzAbCdEf", "object": "chat.completion.chunk", "created": 1_735_689_600, "model": UPSTREAM_MODEL,
               "system_fingerprint": "fp_5d1c2b3a4e", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let mut out = String::new();
    data_frame(&mut out, &chunk(json!({"role": "assistant", "content": "", "refusal": null}), Value::Null));
    for i in 0..STREAM_EVENTS - 4 {
        data_frame(&mut out, &chunk(json!({"content": delta_text(i)}), Value::Null));
    }
    data_frame(&mut out, &chunk(json!({}), json!("stop")));
    data_frame(
        &mut out,
        &json!({"id": "chatcmpl-9xYzAbCdEf", "object": "chat.completion.chunk", "created": 1_735_689_600, "model": UPSTREAM_MODEL,
                "system_fingerprint": "fp_5d1c2b3a4e", "choices": [],
                "usage": {"prompt_tokens": 612, "completion_tokens": 590, "total_tokens": 1202,
                          "prompt_tokens_details": {"cached_tokens": 512}, "completion_tokens_details": {"reasoning_tokens": 0}}}),
    );
    out.push_str("data: [DONE]\n\n");
    out
}

fn anthropic_frame(out: &mut String, event: &str, data: &Value) {
    out.push_str("event: ");
    out.push_str(event);
    out.push('\n');
    data_frame(out, data);
}

/// message_start, ping, block start, 194 text deltas, block stop, message_delta, message_stop.
fn anthropic_stream() -> String {
    let mut out = String::new();
    anthropic_frame(
        &mut out,
        "message_start",
        &json!({"type": "message_start", "message": {"id": "msg_01XyZaBcDeFgHiJk", "type": "message", "role": "assistant",
                "content": [], "model": UPSTREAM_MODEL, "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 100, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 512, "output_tokens": 1}}}),
    );
    anthropic_frame(&mut out, "ping", &json!({"type": "ping"}));
    anthropic_frame(
        &mut out,
        "content_block_start",
        &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    for i in 0..STREAM_EVENTS - 6 {
        anthropic_frame(
            &mut out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": delta_text(i)}}),
        );
    }
    anthropic_frame(&mut out, "content_block_stop", &json!({"type": "content_block_stop", "index": 0}));
    anthropic_frame(
        &mut out,
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 590}}),
    );
    anthropic_frame(&mut out, "message_stop", &json!({"type": "message_stop"}));
    out
}

/// 199 text chunks with running usage, then one with `finishReason` and the final usage (the
/// stream ends at EOF: Gemini has no terminal event).
fn gemini_stream() -> String {
    let chunk = |text: String, finish: Option<&str>, out_tokens: usize| {
        let mut candidate = json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
        if let Some(f) = finish {
            candidate["finishReason"] = json!(f);
        }
        json!({"candidates": [candidate],
               "usageMetadata": {"promptTokenCount": 612, "candidatesTokenCount": out_tokens, "totalTokenCount": 612 + out_tokens,
                                 "cachedContentTokenCount": 512},
               "modelVersion": UPSTREAM_MODEL, "responseId": "aBcDeFgHiJkLmNoPqRsTuV"})
    };
    let mut out = String::new();
    for i in 0..STREAM_EVENTS - 1 {
        data_frame(&mut out, &chunk(delta_text(i), None, 3 * (i + 1)));
    }
    data_frame(&mut out, &chunk(String::new(), Some("STOP"), 3 * STREAM_EVENTS));
    out
}

fn upstream_stream(p: Protocol) -> Vec<u8> {
    let s = match p {
        Protocol::OpenAiChat => openai_stream(),
        Protocol::Anthropic => anthropic_stream(),
        Protocol::Gemini => gemini_stream(),
        Protocol::OpenAiResponses => unreachable!("not in the dialect table"),
    };
    s.into_bytes()
}

// ---------------------------------------------------------------------------------------------
// The measured stream path (mirrors `gateway::relay`).
// ---------------------------------------------------------------------------------------------

/// Decodes the chunks, converts or passes every event, ends the stream (EOF handling for
/// Gemini) and returns (client bytes, usage).
fn relay_stream(upstream: Protocol, client: Protocol, chunks: &[&[u8]], opts: &ConvertOptions) -> (usize, Option<Usage>) {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut out = BytesMut::with_capacity(4096);
    let mut written = 0;
    if upstream == client {
        let mut pipe = PassthroughStream::new(upstream, CLIENT_MODEL, true);
        let mut done = false;
        'read: for chunk in chunks {
            events.clear();
            let _ = decoder.feed_with(chunk, |e| events.push(e));
            for event in &events {
                match pipe.on_event(event) {
                    StreamStep::Forward(b) => out.extend_from_slice(&b),
                    StreamStep::Skip => {}
                    StreamStep::Done(b) | StreamStep::Error(b) => {
                        out.extend_from_slice(&b);
                        done = true;
                        break 'read;
                    }
                }
            }
            // The relay flushes after every network chunk.
            written += out.split().len();
        }
        if !done {
            assert!(pipe.finish_is_clean(), "{upstream:?} passthrough stream did not end cleanly");
        }
        written += out.len();
        return (written, pipe.usage());
    }
    let spec = ClientSpec {
        public_model: CLIENT_MODEL,
        include_usage: true,
        include_thoughts: false,
        responses_echo: Default::default(),
        fallback_id: "req_bench",
        opts,
    };
    let mut conv = StreamConverter::new(dialect::stream_decoder(upstream), dialect::stream_encoder(client, &spec));
    let mut flow = Flow::Continue;
    'read: for chunk in chunks {
        events.clear();
        let _ = decoder.feed_with(chunk, |e| events.push(e));
        for event in &events {
            flow = conv.feed(event, &mut out).unwrap();
            if flow == Flow::Done {
                break 'read;
            }
        }
        written += out.split().len();
    }
    if flow != Flow::Done {
        conv.finish(&mut out).unwrap();
    }
    written += out.len();
    (written, conv.usage())
}

// ---------------------------------------------------------------------------------------------
// Benches.
// ---------------------------------------------------------------------------------------------

fn bench_requests(c: &mut Criterion) {
    let opts = ConvertOptions::default();
    let mut group = c.benchmark_group("request");
    for inbound in PROTOCOLS {
        let body = request_body(inbound);
        for upstream in PROTOCOLS {
            let len = convert_request(inbound, upstream, &body, &opts);
            assert!(len > 0, "{inbound:?}->{upstream:?} produced an empty body");
            group.throughput(Throughput::Bytes(body.len() as u64));
            group.bench_with_input(
                BenchmarkId::from_parameter(format!("{}->{}", name(inbound), name(upstream))),
                &body,
                |b, body| b.iter(|| convert_request(inbound, upstream, black_box(body), &opts)),
            );
        }
    }
    group.finish();
}

fn bench_streams(c: &mut Criterion) {
    let opts = ConvertOptions::default();
    let mut group = c.benchmark_group("stream");
    for upstream in PROTOCOLS {
        let bytes = upstream_stream(upstream);
        let chunks: Vec<&[u8]> = bytes.chunks(NETWORK_CHUNK).collect();
        for client in PROTOCOLS {
            // Once, untimed: the pair really converts something and counts usage.
            let (written, usage) = relay_stream(upstream, client, &chunks, &opts);
            assert!(written > 0, "{upstream:?}->{client:?} wrote nothing");
            assert!(usage.is_some(), "{upstream:?}->{client:?} counted no usage");
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_with_input(
                BenchmarkId::from_parameter(format!("{}->{}", name(upstream), name(client))),
                &chunks,
                |b, chunks| b.iter(|| relay_stream(upstream, client, black_box(chunks), &opts)),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench_requests, bench_streams);
criterion_main!(benches);
