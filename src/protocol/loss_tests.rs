//! Conversions that must not change anything silently (issue 11): several choices, logprobs,
//! tool calls finished with `stop`, response ids in the client's form, raw finish reasons and
//! refused sampling fields, each through the real converters.

use super::dialect::{self, ClientSpec};
use super::ir::{ConvertOptions, FinishReason, Protocol, SamplingField, StreamConverter};
use super::passthrough;
use super::sse::SseEvent;
use bytes::BytesMut;
use serde_json::{json, Value};

fn spec<'a>(opts: &'a ConvertOptions) -> ClientSpec<'a> {
    ClientSpec {
        public_model: "public",
        include_usage: false,
        include_thoughts: false,
        responses_echo: Default::default(),
        fallback_id: "req-1",
        opts,
    }
}

fn render(p: Protocol, resp: &super::ir::Response) -> Value {
    let opts = ConvertOptions::default();
    serde_json::from_slice(&dialect::ir_to_response(p, resp, &spec(&opts)).unwrap()).unwrap()
}

const GEMINI_TWO: &str = r#"{"responseId":"g1","modelVersion":"gemini-x","candidates":[
  {"index":1,"content":{"role":"model","parts":[{"text":"second"}]},"finishReason":"MAX_TOKENS",
   "logprobsResult":{"chosenCandidates":[{"token":"second","logProbability":-0.5}],
                     "topCandidates":[{"candidates":[{"token":"second","logProbability":-0.5},{"token":"2nd","logProbability":-1.5}]}]}},
  {"index":0,"content":{"role":"model","parts":[{"text":"first"}]},"finishReason":"STOP",
   "logprobsResult":{"chosenCandidates":[{"token":"first","logProbability":-0.1}],
                     "topCandidates":[{"candidates":[{"token":"first","logProbability":-0.1}]}]}}],
  "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10}}"#;

#[test]
fn every_gemini_candidate_reaches_a_chat_client_with_its_logprobs_and_the_whole_usage() {
    let resp = dialect::response_to_ir(Protocol::Gemini, GEMINI_TWO.as_bytes()).unwrap();
    assert_eq!(resp.alternatives.len(), 1);
    assert_eq!(resp.raw_finish_reason.as_deref(), Some("STOP"));
    let out = render(Protocol::OpenAiChat, &resp);
    let choices = out["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    assert_eq!((choices[0]["index"].as_u64(), choices[0]["message"]["content"].as_str()), (Some(0), Some("first")));
    assert_eq!(
        (choices[1]["message"]["content"].as_str(), choices[1]["finish_reason"].as_str()),
        (Some("second"), Some("length"))
    );
    let lp = &choices[1]["logprobs"]["content"][0];
    assert_eq!((lp["token"].as_str(), lp["logprob"].as_f64()), (Some("second"), Some(-0.5)));
    assert_eq!(lp["top_logprobs"][1]["token"], "2nd");
    assert_eq!((out["usage"]["prompt_tokens"].as_u64(), out["usage"]["completion_tokens"].as_u64()), (Some(4), Some(6)));
    assert!(out["id"].as_str().unwrap().starts_with("chatcmpl-"));
}

#[test]
fn chat_choices_and_logprobs_reach_a_gemini_client_as_candidates() {
    let body = json!({"id":"c1","object":"chat.completion","created":1,"model":"gpt",
        "choices":[
            {"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop",
             "logprobs":{"content":[{"token":"a","logprob":-0.2,"bytes":[97],"top_logprobs":[{"token":"a","logprob":-0.2,"bytes":[97]}]}]}},
            {"index":1,"message":{"role":"assistant","content":"b"},"finish_reason":"length","logprobs":null}],
        "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}});
    let resp = dialect::response_to_ir(Protocol::OpenAiChat, body.to_string().as_bytes()).unwrap();
    let out = render(Protocol::Gemini, &resp);
    let c = out["candidates"].as_array().unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!((c[1]["index"].as_u64(), c[1]["finishReason"].as_str()), (Some(1), Some("MAX_TOKENS")));
    assert_eq!(c[0]["logprobsResult"]["chosenCandidates"][0]["logProbability"].as_f64(), Some(-0.2));
    assert!(c[1].get("logprobsResult").is_none());
    assert_eq!(out["usageMetadata"]["candidatesTokenCount"].as_u64(), Some(2));
}

#[test]
fn several_choices_and_logprobs_map_between_chat_and_gemini_requests() {
    let chat = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"n":3,"logprobs":true,"top_logprobs":2}"#;
    let hub = dialect::request_to_ir(Protocol::OpenAiChat, chat, None, false).unwrap();
    let up: Value =
        serde_json::from_slice(&dialect::ir_to_request(Protocol::Gemini, &hub, &ConvertOptions::default()).unwrap().value)
            .unwrap();
    let gc = &up["generationConfig"];
    assert_eq!(
        (gc["candidateCount"].as_u64(), gc["responseLogprobs"].as_bool(), gc["logprobs"].as_u64()),
        (Some(3), Some(true), Some(2))
    );
    let gemini = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"candidateCount":2,"responseLogprobs":true,"logprobs":1}}"#;
    let hub = dialect::request_to_ir(Protocol::Gemini, gemini, Some("m"), false).unwrap();
    let up: Value =
        serde_json::from_slice(&dialect::ir_to_request(Protocol::OpenAiChat, &hub, &ConvertOptions::default()).unwrap().value)
            .unwrap();
    assert_eq!((up["n"].as_u64(), up["logprobs"].as_bool(), up["top_logprobs"].as_u64()), (Some(2), Some(true), Some(1)));
}

#[test]
fn targets_that_cannot_hold_choices_or_logprobs_refuse_naming_the_field() {
    let opts = ConvertOptions::default();
    let chat = |extra: &str| format!(r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}]{extra}}}"#);
    let param = |p: Protocol, body: &str, stream: bool| {
        let mut hub = dialect::request_to_ir(Protocol::OpenAiChat, body.as_bytes(), None, false).unwrap();
        hub.stream = stream;
        dialect::ir_to_request(p, &hub, &opts).unwrap_err().param
    };
    assert_eq!(param(Protocol::Anthropic, &chat(r#","n":2"#), false).as_deref(), Some("n"));
    assert_eq!(param(Protocol::OpenAiResponses, &chat(r#","n":2"#), false).as_deref(), Some("n"));
    assert_eq!(param(Protocol::Anthropic, &chat(r#","logprobs":true"#), false).as_deref(), Some("logprobs"));
    assert_eq!(param(Protocol::OpenAiResponses, &chat(r#","logprobs":true"#), false).as_deref(), Some("logprobs"));
    assert_eq!(param(Protocol::Gemini, &chat(r#","n":2"#), true).as_deref(), Some("n"));
    assert_eq!(param(Protocol::Gemini, &chat(r#","logprobs":true"#), true).as_deref(), Some("logprobs"));
    let gemini = br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"candidateCount":2}}"#;
    let hub = dialect::request_to_ir(Protocol::Gemini, gemini, Some("m"), true).unwrap();
    let e = dialect::ir_to_request(Protocol::OpenAiChat, &hub, &opts).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("candidateCount"));
}

const CHAT_STOP_WITH_CALL: &str = r#"{"id":"x1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
  "message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
  "finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;

#[test]
fn chat_tool_calls_finished_with_stop_are_tool_calls_for_every_client() {
    let resp = dialect::response_to_ir(Protocol::OpenAiChat, CHAT_STOP_WITH_CALL.as_bytes()).unwrap();
    assert_eq!((resp.finish.clone(), resp.raw_finish_reason.as_deref()), (FinishReason::ToolCalls, Some("stop")));
    assert_eq!(render(Protocol::Anthropic, &resp)["stop_reason"], "tool_use");
    assert_eq!(render(Protocol::OpenAiChat, &resp)["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(render(Protocol::Gemini, &resp)["candidates"][0]["finishReason"], "STOP");
    let r = render(Protocol::OpenAiResponses, &resp);
    assert_eq!((r["status"].as_str(), r["output"][0]["type"].as_str()), (Some("completed"), Some("function_call")));
}

fn chat_stream_to(p: Protocol, frames: &[&str]) -> (String, Option<String>) {
    let opts = ConvertOptions::default();
    let mut conv = StreamConverter::new(dialect::stream_decoder(Protocol::OpenAiChat), dialect::stream_encoder(p, &spec(&opts)));
    let mut out = BytesMut::new();
    for f in frames {
        let _ = conv.feed(&SseEvent::data(*f), &mut out);
    }
    (String::from_utf8_lossy(&out).into_owned(), conv.raw_finish_reason().map(str::to_owned))
}

#[test]
fn streamed_chat_tool_calls_finished_with_stop_are_tool_use_and_ids_take_the_clients_form() {
    let frames = [
        r#"{"id":"cmpl-9","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]}}]}"#,
        r#"{"id":"cmpl-9","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ];
    let (anthropic, raw) = chat_stream_to(Protocol::Anthropic, &frames);
    assert!(anthropic.contains(r#""stop_reason":"tool_use""#), "{anthropic}");
    assert!(anthropic.contains(r#""id":"msg_cmpl-9""#), "{anthropic}");
    assert_eq!(raw.as_deref(), Some("stop"));
    let (chat, _) = chat_stream_to(Protocol::OpenAiChat, &frames);
    assert!(chat.contains(r#""finish_reason":"tool_calls""#) && chat.contains(r#""id":"chatcmpl-cmpl-9""#), "{chat}");
    let (responses, _) = chat_stream_to(Protocol::OpenAiResponses, &frames);
    assert!(responses.contains(r#""id":"resp_cmpl-9""#), "{responses}");
}

#[test]
fn raw_finish_reasons_of_whole_and_streamed_answers() {
    let anthropic =
        br#"{"id":"m","type":"message","role":"assistant","model":"c","content":[],"stop_reason":"max_tokens","usage":{}}"#;
    assert_eq!(passthrough::raw_finish_reason(Protocol::Anthropic, anthropic).as_deref(), Some("max_tokens"));
    assert_eq!(passthrough::raw_finish_reason(Protocol::Gemini, GEMINI_TWO.as_bytes()).as_deref(), Some("MAX_TOKENS"));
    assert_eq!(passthrough::raw_finish_reason(Protocol::OpenAiChat, CHAT_STOP_WITH_CALL.as_bytes()).as_deref(), Some("stop"));
    let responses = br#"{"id":"r","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}"#;
    assert_eq!(passthrough::raw_finish_reason(Protocol::OpenAiResponses, responses).as_deref(), Some("max_output_tokens"));
    assert_eq!(
        dialect::response_to_ir(Protocol::OpenAiResponses, responses).unwrap().raw_finish_reason.as_deref(),
        Some("max_output_tokens")
    );
    assert_eq!(passthrough::raw_finish_reason(Protocol::Anthropic, b"not json"), None);

    let mut s = passthrough::PassthroughStream::new(Protocol::OpenAiChat, "public", false);
    assert_eq!(s.raw_finish_reason(), None);
    s.on_event(&SseEvent::data(r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#));
    assert_eq!(s.raw_finish_reason(), Some("length"));
    let mut g = passthrough::PassthroughStream::new(Protocol::Gemini, "public", false);
    g.on_event(&SseEvent::data(r#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"SAFETY"}]}"#));
    assert_eq!(g.raw_finish_reason(), Some("SAFETY"));
    let mut a = passthrough::PassthroughStream::new(Protocol::Anthropic, "public", false);
    a.on_event(&SseEvent {
        event: Some("message_delta".into()),
        data: r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}"#.into(),
    });
    assert_eq!(a.raw_finish_reason(), Some("end_turn"));
}

#[test]
fn refused_sampling_fields_are_dropped_on_converted_and_passthrough_paths() {
    let opts = ConvertOptions::for_model(None, &[SamplingField::Temperature, SamplingField::TopP, SamplingField::Stop]);
    let chat = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"top_p":null,"seed":1}"#;
    let hub = dialect::request_to_ir(Protocol::OpenAiChat, chat, None, false).unwrap();
    let conv = dialect::ir_to_request(Protocol::Anthropic, &hub, &opts).unwrap();
    let up: Value = serde_json::from_slice(&conv.value).unwrap();
    assert!(up.get("temperature").is_none());
    assert_eq!(conv.warnings[0].code(), "sampling_field_dropped");
    assert_eq!(conv.warnings[0].field(), Some("temperature"));

    let same = passthrough::request_with(Protocol::OpenAiChat, chat, "up", &opts).unwrap();
    assert_eq!(&same.value[..], br#"{"model":"up","messages":[{"role":"user","content":"hi"}],"seed":1}"#);
    assert_eq!(same.warnings.len(), 1, "a null top_p asked for nothing: {:?}", same.warnings);

    let anthropic = br#"{"model":"c","max_tokens":5,"temperature":1,"stop_sequences":["x"],"messages":[]}"#;
    let same = passthrough::request_with(Protocol::Anthropic, anthropic, "up", &opts).unwrap();
    assert_eq!(&same.value[..], br#"{"model":"up","max_tokens":5,"messages":[]}"#);
    assert_eq!(same.warnings.iter().filter_map(|w| w.field()).collect::<Vec<_>>(), vec!["temperature", "stop"]);

    let gemini = br#"{"contents":[],"generationConfig":{"temperature":0.5,"topK":3,"topP":0.9}}"#;
    let same = passthrough::request_with(Protocol::Gemini, gemini, "up", &opts).unwrap();
    assert_eq!(&same.value[..], br#"{"contents":[],"generationConfig":{"topK":3}}"#);

    let untouched = passthrough::request_with(Protocol::Anthropic, anthropic, "up", &ConvertOptions::default()).unwrap();
    assert_eq!(untouched.value, passthrough::request(Protocol::Anthropic, anthropic, "up").unwrap());
    assert!(untouched.warnings.is_empty());
}

#[test]
fn a_thinking_budget_sent_to_openai_as_an_effort_word_is_a_warning() {
    let anthropic = br#"{"model":"m","max_tokens":10000,"thinking":{"type":"enabled","budget_tokens":2000},"messages":[{"role":"user","content":"hi"}]}"#;
    let hub = dialect::request_to_ir(Protocol::Anthropic, anthropic, None, false).unwrap();
    let conv = dialect::ir_to_request(Protocol::OpenAiChat, &hub, &ConvertOptions::default()).unwrap();
    let up: Value = serde_json::from_slice(&conv.value).unwrap();
    assert_eq!(up["reasoning_effort"], "low");
    let codes: Vec<_> = conv.warnings.iter().map(|w| (w.code(), w.field())).collect();
    assert_eq!(codes, vec![("thinking_budget_approximated", Some("thinking"))]);
}
