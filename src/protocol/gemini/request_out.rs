//! Hub request → Gemini `generateContent` request (for a Gemini upstream).
//!
//! The model goes into the URL ([`super::path::upstream_path`]), not the body. What Gemini
//! cannot express is refused with a 400 naming the field (remote media, foreign file ids, tool
//! results whose function is unknown) or dropped with a [`Warning`] when it does not change the
//! answer; nothing disappears silently.

use super::media::media_to_gemini;
use super::request_in::{X_CACHED, X_GENERATION_CONFIG, X_SAFETY, X_TOOLS, X_TOOL_CONFIG};
use super::signatures::{ensure_first_call_signed, SignedParts};
use super::types::*;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{
    self, Converted, Effort, Part as IrPart, Protocol, Reasoning, ResponseFormat, Role, ToolChoice, Turn, Warning,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Hub request → Gemini request body.
pub fn ir_to_request(req: &ir::Request) -> Result<Converted<Vec<u8>>, ApiError> {
    let Converted { value, warnings } = ir_to_gemini(req)?;
    let body = serde_json::to_vec(&value)
        .map_err(|e| ApiError::new(ErrorClass::Server, format!("could not serialise Gemini request: {e}")))?;
    Ok(Converted { value: body, warnings })
}

/// Hub request → typed Gemini request.
pub fn ir_to_gemini(req: &ir::Request) -> Result<Converted<GenerateContentRequest>, ApiError> {
    // Only OpenAI Chat clients send `n`/`logprobs` into the hub.
    ir::refuse_stream_extras(req, "n", "logprobs")?;
    let mut warnings = Vec::new();
    let mut out = GenerateContentRequest { contents: contents(&req.turns, &mut warnings)?, ..Default::default() };
    if !req.system.is_empty() {
        out.system_instruction =
            Some(Content { role: None, parts: req.system.iter().map(|b| Part::text(b.text.clone())).collect() });
    }
    if !req.tools.is_empty() {
        let decls = req
            .tools
            .iter()
            .map(|t| FunctionDeclaration {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: None,
                parameters_json_schema: Some(t.schema.clone()),
                extra: Map::new(),
            })
            .collect();
        out.tools = Some(vec![Tool { function_declarations: Some(decls), extra: Map::new() }]);
        if req.tools.iter().any(|t| t.strict == Some(true)) {
            warnings.push(Warning::FieldDropped { field: "strict".into(), reason: "Gemini has no strict tool schemas" });
        }
    }
    out.tool_config = req
        .tool_choice
        .as_ref()
        .map(|c| ToolConfig { function_calling_config: Some(calling_config(c)), extra: Map::new() });
    if req.parallel_tool_calls == Some(false) {
        warnings
            .push(Warning::FieldDropped { field: "parallel_tool_calls".into(), reason: "Gemini cannot forbid parallel calls" });
    }
    let gc = generation_config(req);
    if gc != GenerationConfig::default() {
        out.generation_config = Some(gc);
    }
    if !req.metadata.tags.is_empty() {
        let labels = req
            .metadata
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| Value::String(v.to_string()), |s| Value::String(s.to_owned()))))
            .collect();
        out.labels = Some(labels);
    }
    if req.metadata.user.is_some() {
        warnings.push(Warning::FieldDropped { field: "user".into(), reason: "Gemini has no end-user id" });
    }
    if req.extra.source == Some(Protocol::Gemini) {
        // A Gemini client said itself whether it wants thoughts (restored from the extras).
        if let Some(tc) = out.generation_config.as_mut().and_then(|g| g.thinking_config.as_mut()) {
            tc.include_thoughts = None;
        }
    }
    apply_extra(&req.extra, &mut out, &mut warnings)?;
    Ok(Converted { value: out, warnings })
}

fn contents(turns: &[Turn], warnings: &mut Vec<Warning>) -> Result<Vec<Content>, ApiError> {
    let mut out: Vec<Content> = Vec::with_capacity(turns.len());
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut call_order: Vec<&str> = Vec::new();
    for (i, turn) in turns.iter().enumerate() {
        let (role, parts) = match turn.role {
            Role::Assistant => {
                call_order.clear();
                for p in &turn.parts {
                    if let IrPart::ToolUse { id, name, .. } = p {
                        names.insert(id, name);
                        call_order.push(id);
                    }
                }
                ("model", model_parts(turn, i, warnings)?)
            }
            Role::User | Role::System | Role::Tool => ("user", user_parts(turn, i, &names, &call_order)?),
        };
        if parts.is_empty() {
            continue;
        }
        // Gemini wants alternating turns: consecutive same-role turns merge (§3.1).
        match out.last_mut() {
            Some(c) if c.role.as_deref() == Some(role) => c.parts.extend(parts),
            _ => out.push(Content { role: Some(role.into()), parts }),
        }
    }
    for c in out.iter_mut().filter(|c| c.role.as_deref() == Some("model")) {
        ensure_first_call_signed(&mut c.parts);
    }
    Ok(out)
}

fn model_parts(turn: &Turn, i: usize, warnings: &mut Vec<Warning>) -> Result<Vec<Part>, ApiError> {
    let mut s = SignedParts::new();
    for (j, p) in turn.parts.iter().enumerate() {
        let field = || format!("turns[{i}].parts[{j}]");
        match p {
            IrPart::Text { text } if text.is_empty() => {}
            IrPart::Text { text } => s.push(Part::text(text.clone())),
            IrPart::Thinking { text, signature } => match (text.is_empty(), signature) {
                (true, Some(sig)) => s.signature(sig.clone()),
                (true, None) => {}
                (false, sig) => s.thought(text.clone(), sig.clone()),
            },
            IrPart::RedactedThinking { .. } => warnings.push(Warning::FieldDropped {
                field: "redacted_thinking".into(),
                reason: "Gemini cannot take another provider's encrypted reasoning",
            }),
            IrPart::ToolUse { id, name, input } => s.push(Part {
                function_call: Some(FunctionCall { id: Some(id.clone()), name: name.clone(), args: Some(input.clone()) }),
                ..Default::default()
            }),
            IrPart::ToolResult { .. } => {
                return Err(ApiError::invalid_field(field(), "a tool result cannot be part of an assistant turn"))
            }
            media => {
                if let Some(part) = media_to_gemini(media, &field()) {
                    s.push(part?);
                }
            }
        }
    }
    Ok(s.finish())
}

fn user_parts(turn: &Turn, i: usize, names: &HashMap<&str, &str>, call_order: &[&str]) -> Result<Vec<Part>, ApiError> {
    let mut parts = Vec::with_capacity(turn.parts.len());
    let mut results: Vec<(usize, Part)> = Vec::new();
    let mut attachments = Vec::new();
    for (j, p) in turn.parts.iter().enumerate() {
        let field = || format!("turns[{i}].parts[{j}]");
        match p {
            IrPart::Text { text } if text.is_empty() => {}
            IrPart::Text { text } => parts.push(Part::text(text.clone())),
            // Reasoning is the model's; a user turn cannot carry it.
            IrPart::Thinking { .. } | IrPart::RedactedThinking { .. } => {}
            IrPart::ToolUse { .. } => return Err(ApiError::invalid_field(field(), "a tool call cannot be part of a user turn")),
            IrPart::ToolResult { tool_use_id, name, content, is_error } => {
                let name = name.as_deref().or_else(|| names.get(tool_use_id.as_str()).copied()).ok_or_else(|| {
                    ApiError::invalid_field(
                        "tool_call_id",
                        format!("tool result for call id `{tool_use_id}` matches no earlier tool call; Gemini needs the function name"),
                    )
                    .with_code("unknown_tool_call_id")
                })?;
                let mut text = String::new();
                for (k, c) in content.iter().enumerate() {
                    match c {
                        IrPart::Text { text: t } => {
                            if !text.is_empty() && !t.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(t);
                        }
                        media => {
                            if let Some(part) = media_to_gemini(media, &format!("{}.content[{k}]", field())) {
                                attachments.push(part?);
                            }
                        }
                    }
                }
                let order = call_order.iter().position(|id| *id == tool_use_id).unwrap_or(usize::MAX);
                results.push((
                    order,
                    Part {
                        function_response: Some(FunctionResponse {
                            id: Some(tool_use_id.clone()),
                            name: name.to_owned(),
                            response: Some(response_value(&text, *is_error)),
                            parts: None,
                            extra: Map::new(),
                        }),
                        ..Default::default()
                    },
                ));
            }
            media => {
                if let Some(part) = media_to_gemini(media, &field()) {
                    parts.push(part?);
                }
            }
        }
    }
    // Results in call order (§3.4 c), then what they returned beyond text, then the user's parts.
    results.sort_by_key(|(order, _)| *order);
    let mut out: Vec<Part> = results.into_iter().map(|(_, p)| p).collect();
    out.extend(attachments);
    out.extend(parts);
    Ok(out)
}

/// Tool result text → `response`: a JSON object is sent as is, anything else as `{"output":…}`;
/// failures as `{"error":…}` (§3.4 e/f).
pub(crate) fn response_value(text: &str, is_error: bool) -> Value {
    let parsed = serde_json::from_str::<Value>(text).ok();
    match (is_error, parsed) {
        (true, Some(v @ (Value::Object(_) | Value::Array(_)))) => json!({ "error": v }),
        (true, _) => json!({ "error": text }),
        (false, Some(v @ Value::Object(_))) => v,
        (false, _) => json!({ "output": text }),
    }
}

fn calling_config(c: &ToolChoice) -> FunctionCallingConfig {
    let (mode, names) = match c {
        ToolChoice::Auto => ("AUTO", None),
        ToolChoice::None => ("NONE", None),
        ToolChoice::Required => ("ANY", None),
        ToolChoice::Tool(name) => ("ANY", Some(vec![name.clone()])),
        ToolChoice::Allowed { names, required: true } => ("ANY", Some(names.clone())),
        ToolChoice::Allowed { names, required: false } => ("VALIDATED", Some(names.clone())),
    };
    FunctionCallingConfig { mode: Some(mode.into()), allowed_function_names: names }
}

fn generation_config(req: &ir::Request) -> GenerationConfig {
    let mut gc = GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k.map(f64::from),
        candidate_count: req.n,
        max_output_tokens: req.max_output_tokens,
        stop_sequences: (!req.stop.is_empty()).then(|| req.stop.clone()),
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        response_logprobs: req.logprobs,
        logprobs: req.top_logprobs,
        thinking_config: req.reasoning.as_ref().map(thinking_config),
        ..Default::default()
    };
    match &req.response_format {
        None => {}
        Some(ResponseFormat::Text) => gc.response_mime_type = Some("text/plain".into()),
        Some(ResponseFormat::JsonObject) => gc.response_mime_type = Some("application/json".into()),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            gc.response_mime_type = Some("application/json".into());
            gc.response_json_schema = Some(schema.clone());
        }
    }
    gc
}

/// Thinking policy (§3.6): off = budget 0, budget = `thinkingBudget`, adaptive = −1, an effort =
/// the same-name `thinkingLevel` (max → XHIGH). Thought summaries are asked for so clients that
/// show reasoning (Anthropic, `reasoning_content`) get it.
fn thinking_config(r: &Reasoning) -> ThinkingConfig {
    let mut tc = ThinkingConfig { include_thoughts: Some(true), ..Default::default() };
    match r {
        Reasoning::Off => {
            tc.include_thoughts = None;
            tc.thinking_budget = Some(0);
        }
        Reasoning::Budget(n) => tc.thinking_budget = Some(i64::from(*n)),
        Reasoning::Adaptive(None) => tc.thinking_budget = Some(-1),
        Reasoning::Adaptive(Some(e)) | Reasoning::Effort(e) => tc.thinking_level = Some(level_word(*e).into()),
    }
    tc
}

fn level_word(e: Effort) -> &'static str {
    match e {
        Effort::Minimal => "MINIMAL",
        Effort::Low => "LOW",
        Effort::Medium => "MEDIUM",
        Effort::High => "HIGH",
        Effort::XHigh | Effort::Max => "XHIGH",
    }
}

/// Gemini leftovers go back verbatim; another protocol's leftovers are refused when they change
/// the answer and dropped with a warning otherwise.
fn apply_extra(extra: &ir::Extra, out: &mut GenerateContentRequest, warnings: &mut Vec<Warning>) -> Result<(), ApiError> {
    if extra.source != Some(Protocol::Gemini) {
        if let Some(field) = extra.answer_changing.first() {
            return Err(ApiError::invalid_field(field.clone(), format!("`{field}` cannot be sent to a Gemini model")));
        }
        for k in extra.fields.keys() {
            warnings.push(Warning::FieldDropped { field: k.clone(), reason: "no equivalent in the Gemini protocol" });
        }
        return Ok(());
    }
    for (k, v) in &extra.fields {
        match (k.as_str(), v) {
            (X_GENERATION_CONFIG, Value::Object(left)) => merge_generation(out, left),
            (X_TOOLS, Value::Array(tools)) => {
                let list = out.tools.get_or_insert_with(Vec::new);
                for t in tools {
                    if let Value::Object(o) = t {
                        list.push(Tool { function_declarations: None, extra: o.clone() });
                    }
                }
            }
            (X_TOOL_CONFIG, Value::Object(o)) => {
                out.tool_config.get_or_insert_with(ToolConfig::default).extra.extend(o.clone());
            }
            (X_SAFETY, Value::Array(s)) => out.safety_settings = Some(s.clone()),
            (X_CACHED, Value::String(c)) => out.cached_content = Some(c.clone()),
            _ => {
                out.extra.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(())
}

fn merge_generation(out: &mut GenerateContentRequest, left: &Map<String, Value>) {
    let gc = out.generation_config.get_or_insert_with(GenerationConfig::default);
    for (k, v) in left {
        match (k.as_str(), v) {
            ("thinkingConfig", Value::Object(t)) => {
                let tc = gc.thinking_config.get_or_insert_with(ThinkingConfig::default);
                for (tk, tv) in t {
                    match (tk.as_str(), tv) {
                        ("includeThoughts", Value::Bool(b)) => tc.include_thoughts = Some(*b),
                        _ => {
                            tc.extra.insert(tk.clone(), tv.clone());
                        }
                    }
                }
            }
            ("responseMimeType", Value::String(m)) => gc.response_mime_type = Some(m.clone()),
            ("responseSchema", s) => gc.response_schema = Some(s.clone()),
            ("responseJsonSchema", s) => gc.response_json_schema = Some(s.clone()),
            _ => {
                gc.extra.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::gemini::signatures::SKIP_SIGNATURE;
    use crate::protocol::ir::{DocumentSource, ImageSource, SystemBlock};

    fn req(turns: Vec<Turn>) -> ir::Request {
        ir::Request { model: "gemini-2.5-pro".into(), turns, ..Default::default() }
    }

    fn body(r: &ir::Request) -> Value {
        serde_json::from_slice(&ir_to_request(r).unwrap().value).unwrap()
    }

    fn call(id: &str, name: &str) -> IrPart {
        IrPart::ToolUse { id: id.into(), name: name.into(), input: json!({"q": 1}) }
    }

    fn result(id: &str, text: &str) -> IrPart {
        IrPart::ToolResult { tool_use_id: id.into(), name: None, content: vec![IrPart::text(text)], is_error: false }
    }

    #[test]
    fn system_leading_and_late() {
        let mut r = req(vec![
            Turn::new(Role::User, vec![IrPart::text("hi")]),
            Turn::new(Role::System, vec![IrPart::text("be terse")]),
            Turn::new(Role::User, vec![IrPart::text("go")]),
        ]);
        r.system = vec![SystemBlock { text: "a".into(), cache: None }, SystemBlock { text: "b".into(), cache: None }];
        let v = body(&r);
        assert_eq!(v["systemInstruction"], json!({"parts":[{"text":"a"},{"text":"b"}]}));
        assert_eq!(v["contents"], json!([{"role":"user","parts":[{"text":"hi"},{"text":"be terse"},{"text":"go"}]}]));
        assert!(v.get("model").is_none());
    }

    #[test]
    fn tool_result_names_are_recovered_by_id_and_ordered_by_call() {
        let r = req(vec![
            Turn::new(Role::User, vec![IrPart::text("q")]),
            Turn::new(Role::Assistant, vec![call("call_a", "get"), call("call_b", "put")]),
            Turn::new(Role::Tool, vec![result("call_b", "ok"), result("call_a", r#"{"t":1}"#)]),
        ]);
        let v = body(&r);
        assert_eq!(
            v["contents"][2],
            json!({"role":"user","parts":[
                {"functionResponse":{"id":"call_a","name":"get","response":{"t":1}}},
                {"functionResponse":{"id":"call_b","name":"put","response":{"output":"ok"}}}
            ]})
        );
        // Foreign history: the first call of the step gets the sentinel, the second none.
        assert_eq!(v["contents"][1]["parts"][0]["thoughtSignature"], SKIP_SIGNATURE);
        assert!(v["contents"][1]["parts"][1].get("thoughtSignature").is_none());
    }

    #[test]
    fn separate_tool_turns_still_become_one_content() {
        let r = req(vec![
            Turn::new(Role::Assistant, vec![call("a", "f"), call("b", "g")]),
            Turn::new(Role::Tool, vec![result("a", "1")]),
            Turn::new(Role::Tool, vec![result("b", "2")]),
            Turn::new(Role::User, vec![IrPart::text("and now?")]),
        ]);
        let v = body(&r);
        assert_eq!(v["contents"].as_array().map(Vec::len), Some(2));
        let names: Vec<_> =
            v["contents"][1]["parts"].as_array().unwrap().iter().map(|p| p["functionResponse"]["name"].clone()).collect();
        assert_eq!(names, vec![json!("f"), json!("g"), Value::Null]);
    }

    #[test]
    fn unknown_tool_call_id_is_400() {
        let r = req(vec![Turn::new(Role::Tool, vec![result("call_x", "ok")])]);
        let e = ir_to_request(&r).unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("tool_call_id")));
        assert!(e.message.contains("call_x"));
    }

    #[test]
    fn error_results() {
        assert_eq!(response_value("boom", true), json!({"error":"boom"}));
        assert_eq!(response_value(r#"{"code":1}"#, true), json!({"error":{"code":1}}));
        assert_eq!(response_value("42", false), json!({"output":"42"}));
    }

    #[test]
    fn signatures_go_back_where_they_were() {
        let r = req(vec![Turn::new(
            Role::Assistant,
            vec![
                IrPart::Thinking { text: "plan".into(), signature: Some("S1".into()) },
                IrPart::Thinking { text: String::new(), signature: Some("S2".into()) },
                call("c1", "f"),
                IrPart::RedactedThinking { data: "xx".into() },
                IrPart::text("done"),
            ],
        )]);
        let conv = ir_to_gemini(&r).unwrap();
        let v = serde_json::to_value(&conv.value).unwrap();
        assert_eq!(
            v["contents"][0]["parts"],
            json!([
                {"text":"plan","thought":true,"thoughtSignature":"S1"},
                {"thoughtSignature":"S2","functionCall":{"id":"c1","name":"f","args":{"q":1}}},
                {"text":"done"}
            ])
        );
        assert!(matches!(&conv.warnings[..], [Warning::FieldDropped { field, .. }] if field == "redacted_thinking"));
    }

    #[test]
    fn media_and_remote_urls() {
        let r = req(vec![Turn::new(
            Role::User,
            vec![
                IrPart::Image { source: ImageSource::Base64 { media_type: "image/jpeg".into(), data: "/9j/".into() } },
                IrPart::Document {
                    source: DocumentSource::Base64 { media_type: "application/pdf".into(), data: "JVBE".into() },
                    title: None,
                },
            ],
        )]);
        assert_eq!(
            body(&r)["contents"][0]["parts"],
            json!([{"inlineData":{"mimeType":"image/jpeg","data":"/9j/"}},{"inlineData":{"mimeType":"application/pdf","data":"JVBE"}}])
        );
        let r = req(vec![Turn::new(
            Role::User,
            vec![IrPart::text("see"), IrPart::Image { source: ImageSource::Url("https://x/cat.png".into()) }],
        )]);
        let e = ir_to_request(&r).unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("turns[0].parts[1]")));
    }

    #[test]
    fn tool_choices_and_tools() {
        let mut r = req(vec![]);
        r.tools = vec![ir::Tool {
            name: "f".into(),
            description: Some("F".into()),
            schema: json!({"type":"object","additionalProperties":false}),
            strict: Some(true),
            cache: None,
        }];
        let cases = [
            (ToolChoice::Auto, json!({"mode":"AUTO"})),
            (ToolChoice::None, json!({"mode":"NONE"})),
            (ToolChoice::Required, json!({"mode":"ANY"})),
            (ToolChoice::Tool("f".into()), json!({"mode":"ANY","allowedFunctionNames":["f"]})),
            (ToolChoice::Allowed { names: vec!["f".into()], required: true }, json!({"mode":"ANY","allowedFunctionNames":["f"]})),
            (
                ToolChoice::Allowed { names: vec!["f".into()], required: false },
                json!({"mode":"VALIDATED","allowedFunctionNames":["f"]}),
            ),
        ];
        for (choice, want) in cases {
            r.tool_choice = Some(choice);
            let v = body(&r);
            assert_eq!(v["toolConfig"]["functionCallingConfig"], want);
            assert_eq!(
                v["tools"],
                json!([{"functionDeclarations":[{"name":"f","description":"F","parametersJsonSchema":{"type":"object","additionalProperties":false}}]}])
            );
        }
        assert!(ir_to_gemini(&r)
            .unwrap()
            .warnings
            .iter()
            .any(|w| matches!(w, Warning::FieldDropped { field, .. } if field == "strict")));
    }

    #[test]
    fn generation_and_thinking() {
        let mut r = req(vec![]);
        r.temperature = Some(0.0);
        r.top_k = Some(3);
        r.n = Some(2);
        r.stop = vec!["END".into()];
        r.max_output_tokens = Some(50);
        r.response_format = Some(ResponseFormat::JsonSchema {
            name: "x".into(),
            description: None,
            schema: json!({"type":"object"}),
            strict: Some(true),
        });
        r.reasoning = Some(Reasoning::Effort(Effort::Max));
        let v = body(&r);
        assert_eq!(
            v["generationConfig"],
            json!({"temperature":0.0,"topK":3.0,"candidateCount":2,"maxOutputTokens":50,"stopSequences":["END"],
                   "responseMimeType":"application/json","responseJsonSchema":{"type":"object"},
                   "thinkingConfig":{"includeThoughts":true,"thinkingLevel":"XHIGH"}})
        );
        for (reasoning, want) in [
            (Reasoning::Off, json!({"thinkingBudget":0})),
            (Reasoning::Budget(1024), json!({"includeThoughts":true,"thinkingBudget":1024})),
            (Reasoning::Adaptive(None), json!({"includeThoughts":true,"thinkingBudget":-1})),
        ] {
            r.reasoning = Some(reasoning);
            assert_eq!(body(&r)["generationConfig"]["thinkingConfig"], want);
        }
        r.response_format = Some(ResponseFormat::JsonObject);
        assert_eq!(body(&r)["generationConfig"]["responseMimeType"], "application/json");
    }

    #[test]
    fn foreign_extras_are_refused_or_dropped() {
        let mut r = req(vec![]);
        r.extra = ir::Extra { source: Some(Protocol::OpenAiChat), fields: Map::new(), answer_changing: vec!["audio".into()] };
        assert_eq!(ir_to_request(&r).unwrap_err().param.as_deref(), Some("audio"));
        r.extra.answer_changing.clear();
        r.extra.fields.insert("service_tier".into(), json!("flex"));
        r.parallel_tool_calls = Some(false);
        r.metadata.user = Some("u1".into());
        let w = ir_to_gemini(&r).unwrap().warnings;
        assert_eq!(w.len(), 3, "{w:?}");
    }
}
