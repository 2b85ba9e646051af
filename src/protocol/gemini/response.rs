//! Whole (non-stream) Gemini answer ⇄ hub response.
//!
//! Every candidate is converted (`candidateCount > 1` / `n > 1`), in index order, with its
//! `logprobsResult`. Ids Gemini omits are made
//! up from the response id, `STOP` after a functionCall is a tool-call finish (trap #22), and
//! signatures keep their exact place (see [`super::signatures`]).

use super::finish::{finish_for_block_reason, finish_from_gemini, finish_to_gemini};
use super::ids::{new_response_id, synthetic_call_id};
use super::response_types::{Candidate, GenerateContentResponse, LogprobCandidate, LogprobsResult, TopCandidates};
use super::signatures::SignedParts;
use super::types::{Content, FunctionCall, Part};
use super::usage::{usage_from_gemini, usage_to_gemini};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{self, Block, Choice, FinishReason, TokenLogprob};
use serde_json::json;

/// Parses an upstream answer; a body that is not one is the upstream's fault (502).
pub fn parse_response(body: &[u8]) -> Result<GenerateContentResponse, ApiError> {
    serde_json::from_slice(body).map_err(|e| upstream_error(format!("upstream sent a malformed Gemini response: {e}")))
}

/// Upstream answer body → hub response.
pub fn response_to_ir(body: &[u8]) -> Result<ir::Response, ApiError> {
    gemini_response_to_ir(parse_response(body)?)
}

/// Typed upstream answer → hub response.
pub fn gemini_response_to_ir(resp: GenerateContentResponse) -> Result<ir::Response, ApiError> {
    let id = resp.response_id.filter(|s| !s.is_empty()).unwrap_or_else(new_response_id);
    let mut candidates = resp.candidates.unwrap_or_default();
    candidates.sort_by_key(|c| c.index.unwrap_or(0));
    let blocked = resp.prompt_feedback.and_then(|f| f.block_reason).is_some();
    let mut choices = Vec::with_capacity(candidates.len().max(1));
    for c in candidates {
        choices.push(choice_from_candidate(c, &id, blocked)?);
    }
    if choices.is_empty() {
        let finish = if blocked { finish_for_block_reason() } else { FinishReason::Stop };
        choices.push(Choice { finish, ..Default::default() });
    }
    let mut out = ir::Response {
        id,
        model: resp.model_version.unwrap_or_default(),
        usage: resp.usage_metadata.as_ref().map(usage_from_gemini).unwrap_or_default(),
        ..Default::default()
    };
    out.set_choices(choices);
    Ok(out)
}

fn choice_from_candidate(c: Candidate, response_id: &str, blocked: bool) -> Result<Choice, ApiError> {
    let parts = c.content.map(|c| c.parts).unwrap_or_default();
    let (blocks, calls) = blocks_from_parts(parts, response_id)?;
    let finish = match c.finish_reason.as_deref() {
        Some(w) => finish_from_gemini(w, calls > 0),
        None if blocked => finish_for_block_reason(),
        None if calls > 0 => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    };
    Ok(Choice {
        blocks,
        finish,
        raw_finish_reason: c.finish_reason,
        logprobs: c.logprobs_result.as_ref().map(logprobs_from_gemini),
    })
}

/// `logprobsResult` → hub token logprobs: position i pairs chosen token i with top list i.
fn logprobs_from_gemini(r: &LogprobsResult) -> Vec<TokenLogprob> {
    r.chosen_candidates
        .iter()
        .enumerate()
        .map(|(i, chosen)| TokenLogprob {
            token: chosen.token.clone().unwrap_or_default(),
            logprob: chosen.log_probability.unwrap_or(0.0),
            top: r
                .top_candidates
                .get(i)
                .map(|t| {
                    t.candidates.iter().map(|c| (c.token.clone().unwrap_or_default(), c.log_probability.unwrap_or(0.0))).collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Hub token logprobs → `logprobsResult`.
fn logprobs_to_gemini(l: &[TokenLogprob]) -> LogprobsResult {
    let cand = |token: &str, logprob: f64| LogprobCandidate {
        token: Some(token.to_owned()),
        token_id: None,
        log_probability: Some(logprob),
    };
    LogprobsResult {
        top_candidates: l
            .iter()
            .map(|t| TopCandidates { candidates: t.top.iter().map(|(tok, lp)| cand(tok, *lp)).collect() })
            .collect(),
        chosen_candidates: l.iter().map(|t| cand(&t.token, t.logprob)).collect(),
    }
}

/// Model parts → blocks; also returns the number of function calls.
fn blocks_from_parts(parts: Vec<Part>, response_id: &str) -> Result<(Vec<Block>, usize), ApiError> {
    let mut blocks: Vec<Block> = Vec::with_capacity(parts.len());
    let mut calls = 0;
    for p in parts {
        if let Some(k) = p.extra.keys().next() {
            return Err(upstream_error(format!("the upstream answer holds a `{k}` part, which cannot be converted")));
        }
        if p.inline_data.is_some() || p.file_data.is_some() || p.function_response.is_some() {
            return Err(upstream_error(
                "the upstream answer holds media or a functionResponse, which cannot be converted".into(),
            ));
        }
        let sig = p.thought_signature;
        if let Some(fc) = p.function_call {
            if let Some(s) = sig {
                blocks.push(Block::Thinking { text: String::new(), signature: Some(s) });
            }
            let id = fc.id.filter(|s| !s.is_empty()).unwrap_or_else(|| synthetic_call_id(response_id, calls));
            calls += 1;
            blocks.push(Block::ToolUse {
                id,
                name: fc.name,
                input: fc.args.filter(|a| !a.is_null()).unwrap_or_else(|| json!({})),
            });
            continue;
        }
        let text = p.text.unwrap_or_default();
        if p.thought == Some(true) {
            if let Some(Block::Thinking { text: prev, signature: signature @ None }) = blocks.last_mut() {
                if !prev.is_empty() {
                    prev.push_str(&text);
                    *signature = sig;
                    continue;
                }
            }
            blocks.push(Block::Thinking { text, signature: sig });
            continue;
        }
        if let Some(s) = sig {
            blocks.push(Block::Thinking { text: String::new(), signature: Some(s) });
        }
        if text.is_empty() {
            continue;
        }
        match blocks.last_mut() {
            Some(Block::Text(prev)) => prev.push_str(&text),
            _ => blocks.push(Block::Text(text)),
        }
    }
    Ok((blocks, calls))
}

/// Hub response → Gemini answer body. `include_thoughts` is the client's `includeThoughts`:
/// without it thought text is withheld, as Gemini does, but signatures are kept.
pub fn ir_to_response(resp: &ir::Response, include_thoughts: bool) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(&ir_to_gemini_response(resp, include_thoughts))
        .map_err(|e| ApiError::new(ErrorClass::Server, format!("could not serialise Gemini response: {e}")))
}

/// Hub response → typed Gemini answer: one candidate per hub choice.
pub fn ir_to_gemini_response(resp: &ir::Response, include_thoughts: bool) -> GenerateContentResponse {
    let candidates = resp
        .choices()
        .iter()
        .enumerate()
        .map(|(i, c)| Candidate {
            content: Some(Content { role: Some("model".into()), parts: parts_for_client(&c.blocks, include_thoughts) }),
            finish_reason: Some(finish_to_gemini(&c.finish)),
            index: Some(u32::try_from(i).unwrap_or(u32::MAX)),
            logprobs_result: c.logprobs.as_deref().map(logprobs_to_gemini),
            extra: Default::default(),
        })
        .collect();
    GenerateContentResponse {
        candidates: Some(candidates),
        prompt_feedback: None,
        usage_metadata: Some(usage_to_gemini(&resp.usage)),
        model_version: (!resp.model.is_empty()).then(|| resp.model.clone()),
        response_id: (!resp.id.is_empty()).then(|| resp.id.clone()),
        extra: Default::default(),
    }
}

fn parts_for_client(blocks: &[Block], include_thoughts: bool) -> Vec<Part> {
    let mut s = SignedParts::new();
    for b in blocks {
        match b {
            Block::Text(t) if t.is_empty() => {}
            Block::Text(t) => s.push(Part::text(t.clone())),
            Block::Thinking { text, signature } => match (text.is_empty() || !include_thoughts, signature) {
                (true, Some(sig)) => s.signature(sig.clone()),
                (true, None) => {}
                (false, sig) => s.thought(text.clone(), sig.clone()),
            },
            // Another provider's encrypted reasoning means nothing to a Gemini client.
            Block::RedactedThinking(_) => {}
            Block::ToolUse { id, name, input } => s.push(Part {
                function_call: Some(FunctionCall { id: Some(id.clone()), name: name.clone(), args: Some(input.clone()) }),
                ..Default::default()
            }),
        }
    }
    s.finish()
}

/// An upstream answer Switchyard cannot use: the upstream's fault, so a 502.
pub(crate) fn upstream_error(message: String) -> ApiError {
    ApiError::new(ErrorClass::Server, message).with_status(502).with_code("upstream_malformed_response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::usage::Usage;
    use serde_json::Value;

    fn text_of(v: &Value) -> String {
        v["candidates"][0]["content"]["parts"]
            .as_array()
            .map(|ps| ps.iter().filter(|p| p.get("thought").is_none()).filter_map(|p| p["text"].as_str()).collect())
            .unwrap_or_default()
    }

    fn conv(v: Value) -> ir::Response {
        response_to_ir(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn text_answer_with_usage() {
        let r = conv(json!({
            "candidates":[{"content":{"role":"model","parts":[{"text":"Hel"},{"text":"lo"}]},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":2,"totalTokenCount":12},
            "modelVersion":"gemini-2.5-flash","responseId":"r1"
        }));
        assert_eq!(r.blocks, vec![Block::Text("Hello".into())]);
        assert_eq!((r.id.as_str(), r.model.as_str(), r.finish.clone()), ("r1", "gemini-2.5-flash", FinishReason::Stop));
        assert_eq!(r.usage, Usage { in_base: 10, out_total: 2, ..Default::default() });
    }

    #[test]
    fn calls_without_ids_get_synthetic_ids_and_stop_becomes_tool_calls() {
        let r = conv(json!({
            "candidates":[{"content":{"role":"model","parts":[
                {"functionCall":{"name":"a","args":{"x":1}},"thoughtSignature":"SIG"},
                {"functionCall":{"name":"b"}}
            ]},"finishReason":"STOP"}],
            "responseId":"resp9"
        }));
        assert_eq!(
            r.blocks,
            vec![
                Block::Thinking { text: String::new(), signature: Some("SIG".into()) },
                Block::ToolUse { id: "call_resp9_0".into(), name: "a".into(), input: json!({"x":1}) },
                Block::ToolUse { id: "call_resp9_1".into(), name: "b".into(), input: json!({}) },
            ]
        );
        assert_eq!(r.finish, FinishReason::ToolCalls);
    }

    #[test]
    fn blocked_prompt_is_content_filter() {
        let r = conv(json!({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4}}));
        assert_eq!((r.blocks.len(), r.finish), (0, FinishReason::ContentFilter));
        assert!(!r.id.is_empty());
    }

    #[test]
    fn unconvertible_parts_are_502() {
        let e = response_to_ir(br#"{"candidates":[{"content":{"parts":[{"executableCode":{"code":"1"}}]}}]}"#).unwrap_err();
        assert_eq!(e.status, 502);
        assert_eq!(response_to_ir(b"{").unwrap_err().status, 502);
    }

    #[test]
    fn to_gemini_with_and_without_thoughts() {
        let resp = ir::Response {
            id: "msg_1".into(),
            model: "claude-x".into(),
            blocks: vec![
                Block::Thinking { text: "hmm".into(), signature: Some("ANT".into()) },
                Block::Text("hi".into()),
                Block::ToolUse { id: "toolu_1".into(), name: "f".into(), input: json!({"a":1}) },
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage { in_base: 5, out_total: 9, out_reasoning: 4, ..Default::default() },
            ..Default::default()
        };
        let v: Value = serde_json::from_slice(&ir_to_response(&resp, true).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "candidates":[{"content":{"role":"model","parts":[
                    {"text":"hmm","thought":true,"thoughtSignature":"ANT"},
                    {"text":"hi"},
                    {"functionCall":{"id":"toolu_1","name":"f","args":{"a":1}}}
                ]},"finishReason":"STOP","index":0}],
                "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":5,"thoughtsTokenCount":4,"totalTokenCount":14},
                "modelVersion":"claude-x","responseId":"msg_1"
            })
        );
        let v: Value = serde_json::from_slice(&ir_to_response(&resp, false).unwrap()).unwrap();
        assert_eq!(v["candidates"][0]["content"]["parts"][0], json!({"text":"hi","thoughtSignature":"ANT"}));
        assert_eq!(text_of(&v), "hi");
    }

    #[test]
    fn round_trip_keeps_blocks() {
        let src = json!({
            "candidates":[{"content":{"role":"model","parts":[
                {"text":"think","thought":true,"thoughtSignature":"S0"},
                {"text":"answer"},
                {"functionCall":{"id":"c1","name":"f","args":{}},"thoughtSignature":"S1"},
                {"text":"","thoughtSignature":"S2"}
            ]},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2,"thoughtsTokenCount":3,"totalTokenCount":6},
            "modelVersion":"m","responseId":"r"
        });
        let back: Value = serde_json::from_slice(&ir_to_response(&conv(src.clone()), true).unwrap()).unwrap();
        assert_eq!(back, src);
    }
}
