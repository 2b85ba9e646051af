//! Gemini `generateContent` request → hub request.
//!
//! Only reached when the upstream speaks another protocol (Gemini → Gemini passes the bytes
//! through), so anything the hub cannot carry and that changes the answer (built-in tools,
//! cached content, audio/image output) is marked answer-changing for the upstream side to refuse
//! with a 400, and everything else Gemini-only rides in [`ir::Extra`] for the way back.

use super::ids::history_call_id;
use super::media::{blob_to_ir, file_to_ir};
use super::schema::openapi_to_json_schema;
use super::types::*;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{
    self, Effort, Part as IrPart, Protocol, Reasoning, ResponseFormat, Role, SystemBlock, ToolChoice, Turn,
};
use serde_json::{json, Map, Value};

/// `ir::Extra` key holding leftover `generationConfig` fields (incl. `thinkingConfig.includeThoughts`).
pub(crate) const X_GENERATION_CONFIG: &str = "generationConfig";
/// `ir::Extra` key holding built-in (non-function) tools.
pub(crate) const X_TOOLS: &str = "tools";
/// `ir::Extra` key holding leftover `toolConfig` fields.
pub(crate) const X_TOOL_CONFIG: &str = "toolConfig";
/// `ir::Extra` key for `safetySettings`.
pub(crate) const X_SAFETY: &str = "safetySettings";
/// `ir::Extra` key for `cachedContent`.
pub(crate) const X_CACHED: &str = "cachedContent";

/// Part fields that are rendering hints and may be dropped.
const DROPPABLE_PART_KEYS: &[&str] = &["mediaResolution", "media_resolution", "partMetadata", "part_metadata"];
/// `generationConfig` fields that change the answer's shape (normalised: lower case, no `_`).
const ANSWER_CHANGING_GENERATION: &[&str] =
    &["responsemodalities", "speechconfig", "imageconfig", "audiotimestamp", "responsemimetype"];

/// Parses a request body, naming the offending field path in the 400.
pub fn parse_request(body: &[u8]) -> Result<GenerateContentRequest, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(ErrorClass::InvalidRequest, format!("invalid request body at `{path}`: {}", e.inner())).with_param(path)
    })
}

/// Request body → hub request. `model` is the path's model (`models/` prefix optional) and
/// `stream` whether the method was `streamGenerateContent`.
pub fn request_to_ir(body: &[u8], model: &str, stream: bool) -> Result<ir::Request, ApiError> {
    gemini_to_ir(parse_request(body)?, model, stream)
}

/// Typed request → hub request.
pub fn gemini_to_ir(req: GenerateContentRequest, model: &str, stream: bool) -> Result<ir::Request, ApiError> {
    let mut out = ir::Request {
        model: super::path::model_id(model).to_owned(),
        stream,
        // Gemini streams always carry usageMetadata.
        include_usage: stream,
        ..Default::default()
    };
    let mut extra = Map::new();
    let mut answer_changing = Vec::new();
    if let Some(sys) = req.system_instruction {
        out.system = system_blocks(sys)?;
    }
    out.turns = History::default().convert(req.contents)?;
    let (tools, builtin) = tools_to_ir(req.tools.unwrap_or_default());
    out.tools = tools;
    if !builtin.is_empty() {
        extra.insert(X_TOOLS.into(), Value::Array(builtin));
        answer_changing.push(X_TOOLS.to_owned());
    }
    if let Some(tc) = req.tool_config {
        if let Some(fc) = tc.function_calling_config {
            out.tool_choice = tool_choice_to_ir(&fc)?;
        }
        if !tc.extra.is_empty() {
            extra.insert(X_TOOL_CONFIG.into(), Value::Object(tc.extra));
        }
    }
    if let Some(gc) = req.generation_config {
        let leftover = generation_to_ir(gc, &mut out)?;
        if !leftover.is_empty() {
            if leftover.iter().any(|(k, v)| changes_answer(k, v)) {
                answer_changing.push(X_GENERATION_CONFIG.to_owned());
            }
            extra.insert(X_GENERATION_CONFIG.into(), Value::Object(leftover));
        }
    }
    if let Some(s) = req.safety_settings {
        extra.insert(X_SAFETY.into(), Value::Array(s));
    }
    if let Some(c) = req.cached_content {
        extra.insert(X_CACHED.into(), Value::String(c));
        answer_changing.push(X_CACHED.to_owned());
    }
    out.metadata.tags = req.labels.unwrap_or_default();
    extra.extend(req.extra);
    // Tagged even when empty: it tells a Gemini upstream that the client spoke Gemini, so the
    // client's own thinking choices (e.g. no `includeThoughts`) are mirrored, not policy defaults.
    out.extra = ir::Extra { source: Some(Protocol::Gemini), fields: extra, answer_changing };
    Ok(out)
}

/// True when the Gemini client asked for thought summaries (`includeThoughts`); the response
/// side withholds thought text otherwise, as Gemini itself does. Signatures are always kept.
pub fn wants_thoughts(req: &ir::Request) -> bool {
    req.extra.source == Some(Protocol::Gemini)
        && req
            .extra
            .fields
            .get(X_GENERATION_CONFIG)
            .and_then(|g| g.get("thinkingConfig"))
            .and_then(|t| t.get("includeThoughts"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
}

fn changes_answer(key: &str, value: &Value) -> bool {
    let k: String = key.chars().filter(|c| *c != '_').collect::<String>().to_ascii_lowercase();
    if k == "responsemodalities" {
        // Text-only output is the default; anything else (IMAGE, AUDIO) cannot be converted.
        return value
            .as_array()
            .is_some_and(|a| a.iter().any(|m| !m.as_str().is_some_and(|s| s.eq_ignore_ascii_case("text"))));
    }
    ANSWER_CHANGING_GENERATION.contains(&k.as_str())
}

fn system_blocks(sys: Content) -> Result<Vec<SystemBlock>, ApiError> {
    let mut blocks = Vec::with_capacity(sys.parts.len());
    for (j, p) in sys.parts.into_iter().enumerate() {
        match p.text {
            Some(t) if p.inline_data.is_none() && p.file_data.is_none() && p.function_call.is_none() => {
                if !t.is_empty() {
                    blocks.push(SystemBlock { text: t, cache: None });
                }
            }
            _ => {
                return Err(ApiError::invalid_field(
                    format!("systemInstruction.parts[{j}]"),
                    "systemInstruction may only hold text parts when the model is served by another provider",
                ))
            }
        }
    }
    Ok(blocks)
}

/// A call seen in history, so a `functionResponse` without an id can be matched to it.
struct Call {
    id: String,
    name: String,
    answered: bool,
}

/// Converts `contents`, remembering calls for id recovery.
#[derive(Default)]
struct History {
    turns: Vec<Turn>,
    calls: Vec<Call>,
}

impl History {
    fn convert(mut self, contents: Vec<Content>) -> Result<Vec<Turn>, ApiError> {
        for (i, content) in contents.into_iter().enumerate() {
            let model = match content.role.as_deref() {
                None | Some("") | Some("user") | Some("function") => false,
                Some("model") => true,
                Some(other) => {
                    return Err(ApiError::invalid_field(
                        format!("contents[{i}].role"),
                        format!("unknown role `{other}`; Gemini roles are `user` and `model`"),
                    ))
                }
            };
            for (j, part) in content.parts.into_iter().enumerate() {
                self.part(part, model, i, j)?;
            }
        }
        Ok(self.turns)
    }

    fn push(&mut self, role: Role, part: IrPart) {
        // Consecutive same-role turns merge (§3.1); all results of a step land in one turn (§3.4 c).
        Turn::last_or_new(&mut self.turns, role).push(part);
    }

    fn part(&mut self, p: Part, model: bool, i: usize, j: usize) -> Result<(), ApiError> {
        let field = || format!("contents[{i}].parts[{j}]");
        if let Some(k) = p.extra.keys().find(|k| !DROPPABLE_PART_KEYS.contains(&k.as_str())) {
            return Err(ApiError::invalid_field(
                field(),
                format!("`{k}` parts cannot be converted for a model served by another provider"),
            ));
        }
        let side = if model { Role::Assistant } else { Role::User };
        let sig = p.thought_signature;
        if let Some(fc) = p.function_call {
            if !model {
                return Err(ApiError::invalid_field(field(), "functionCall parts belong in `model` turns"));
            }
            if let Some(s) = sig {
                self.push(Role::Assistant, IrPart::Thinking { text: String::new(), signature: Some(s) });
            }
            let id = fc.id.filter(|s| !s.is_empty()).unwrap_or_else(|| history_call_id(i, j));
            self.calls.push(Call { id: id.clone(), name: fc.name.clone(), answered: false });
            let input = match fc.args {
                None | Some(Value::Null) => json!({}),
                Some(v) => v,
            };
            self.push(Role::Assistant, IrPart::ToolUse { id, name: fc.name, input });
        } else if let Some(fr) = p.function_response {
            if model {
                return Err(ApiError::invalid_field(field(), "functionResponse parts belong in `user` turns"));
            }
            let id = self.answer_id(fr.id.as_deref(), &fr.name).ok_or_else(|| {
                ApiError::invalid_field(
                    format!("{}.functionResponse", field()),
                    format!("functionResponse `{}` answers no earlier functionCall; give it the call's `id`", fr.name),
                )
            })?;
            let (text, is_error) = unwrap_response(fr.response);
            let mut content = vec![IrPart::text(text)];
            for (k, rp) in fr.parts.unwrap_or_default().into_iter().enumerate() {
                match (rp.inline_data, rp.file_data, rp.text) {
                    (Some(b), _, _) => content.push(blob_to_ir(&b)),
                    (None, Some(f), _) => content.push(file_to_ir(&f)),
                    (None, None, Some(t)) => content.push(IrPart::text(t)),
                    _ => {
                        return Err(ApiError::invalid_field(
                            format!("{}.functionResponse.parts[{k}]", field()),
                            "functionResponse parts may hold inlineData, fileData or text",
                        ))
                    }
                }
            }
            self.push(Role::Tool, IrPart::ToolResult { tool_use_id: id, name: Some(fr.name), content, is_error });
        } else if let Some(text) = p.text {
            if p.thought == Some(true) {
                self.thought(side, text, sig);
            } else {
                if let Some(s) = sig {
                    self.push(side, IrPart::Thinking { text: String::new(), signature: Some(s) });
                }
                if !text.is_empty() {
                    self.push(side, IrPart::text(text));
                }
            }
        } else if p.inline_data.is_some() || p.file_data.is_some() {
            if let Some(s) = sig {
                self.push(side, IrPart::Thinking { text: String::new(), signature: Some(s) });
            }
            let media = match (p.inline_data, p.file_data) {
                (Some(b), _) => blob_to_ir(&b),
                (None, Some(f)) => file_to_ir(&f),
                (None, None) => return Ok(()),
            };
            self.push(side, media);
        } else if let Some(s) = sig {
            self.push(side, IrPart::Thinking { text: String::new(), signature: Some(s) });
        }
        Ok(())
    }

    /// Consecutive thought parts are one reasoning block; a signature closes it.
    fn thought(&mut self, side: Role, text: String, sig: Option<String>) {
        if let Some(t) = self.turns.last_mut().filter(|t| t.role == side) {
            if let Some(IrPart::Thinking { text: prev, signature: signature @ None }) = t.parts.last_mut() {
                if !prev.is_empty() {
                    prev.push_str(&text);
                    *signature = sig;
                    return;
                }
            }
        }
        self.push(side, IrPart::Thinking { text, signature: sig });
    }

    /// The call id a response answers: its own id, else the first unanswered call of that name.
    fn answer_id(&mut self, id: Option<&str>, name: &str) -> Option<String> {
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            if let Some(c) = self.calls.iter_mut().find(|c| c.id == id) {
                c.answered = true;
            }
            return Some(id.to_owned());
        }
        let c = self.calls.iter_mut().find(|c| !c.answered && c.name == name)?;
        c.answered = true;
        Some(c.id.clone())
    }
}

/// `response` → (text, is_error): a single `output`/`result` string unwraps to it, a single
/// `error` marks a failure, anything else travels as JSON text (§3.4 f).
pub(crate) fn unwrap_response(response: Option<Value>) -> (String, bool) {
    match response {
        None | Some(Value::Null) => (String::new(), false),
        Some(Value::Object(o)) if o.len() == 1 => match o.iter().next() {
            Some((k, Value::String(s))) if k == "output" || k == "result" => (s.clone(), false),
            Some((k, Value::String(s))) if k == "error" => (s.clone(), true),
            Some((k, v)) if k == "error" => (v.to_string(), true),
            _ => (Value::Object(o).to_string(), false),
        },
        Some(v) => (v.to_string(), false),
    }
}

fn tools_to_ir(tools: Vec<Tool>) -> (Vec<ir::Tool>, Vec<Value>) {
    let mut out = Vec::new();
    let mut builtin = Vec::new();
    for tool in tools {
        for d in tool.function_declarations.unwrap_or_default() {
            let schema = match (d.parameters_json_schema, d.parameters) {
                (Some(s), _) => s,
                (None, Some(p)) => openapi_to_json_schema(&p),
                (None, None) => json!({"type": "object", "properties": {}}),
            };
            out.push(ir::Tool { name: d.name, description: d.description, schema, strict: None, cache: None });
        }
        if !tool.extra.is_empty() {
            builtin.push(Value::Object(tool.extra));
        }
    }
    (out, builtin)
}

fn tool_choice_to_ir(fc: &FunctionCallingConfig) -> Result<Option<ToolChoice>, ApiError> {
    let names = fc.allowed_function_names.clone().unwrap_or_default();
    let mode = fc.mode.as_deref().map(str::to_ascii_uppercase);
    Ok(match mode.as_deref() {
        None | Some("MODE_UNSPECIFIED") => None,
        Some("AUTO") => Some(ToolChoice::Auto),
        Some("NONE") => Some(ToolChoice::None),
        Some("ANY") => Some(match names.len() {
            0 => ToolChoice::Required,
            1 => ToolChoice::Tool(names.into_iter().next().unwrap_or_default()),
            _ => ToolChoice::Allowed { names, required: true },
        }),
        Some("VALIDATED") if names.is_empty() => Some(ToolChoice::Auto),
        Some("VALIDATED") => Some(ToolChoice::Allowed { names, required: false }),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "toolConfig.functionCallingConfig.mode",
                format!("unknown function calling mode `{other}`"),
            ))
        }
    })
}

/// Fills the hub's generation fields; returns what is left for `ir::Extra`.
fn generation_to_ir(gc: GenerationConfig, out: &mut ir::Request) -> Result<Map<String, Value>, ApiError> {
    let mut left = gc.extra;
    out.temperature = gc.temperature;
    out.top_p = gc.top_p;
    out.top_k = match gc.top_k {
        None => None,
        Some(k) if k >= 0.0 && k.fract() == 0.0 && k <= f64::from(u32::MAX) => Some(k as u32),
        Some(k) => return Err(ApiError::invalid_field("generationConfig.topK", format!("topK must be a whole number, got {k}"))),
    };
    out.n = gc.candidate_count;
    out.max_output_tokens = gc.max_output_tokens;
    out.stop = gc.stop_sequences.unwrap_or_default();
    out.seed = gc.seed;
    out.presence_penalty = gc.presence_penalty;
    out.frequency_penalty = gc.frequency_penalty;
    out.logprobs = gc.response_logprobs;
    out.top_logprobs = gc.logprobs;
    let json_mime = gc.response_mime_type.as_deref().is_none_or(|m| m.eq_ignore_ascii_case("application/json"));
    let schema = gc.response_json_schema.clone().or_else(|| gc.response_schema.as_ref().map(openapi_to_json_schema));
    out.response_format = match (gc.response_mime_type.as_deref(), schema) {
        (_, Some(schema)) if json_mime => {
            Some(ResponseFormat::JsonSchema { name: "response".into(), description: None, schema, strict: None })
        }
        (Some(m), None) if m.eq_ignore_ascii_case("application/json") => Some(ResponseFormat::JsonObject),
        (Some(m), None) if m.eq_ignore_ascii_case("text/plain") => Some(ResponseFormat::Text),
        (None, _) => None,
        // text/x.enum and friends: an answer shape no other protocol has.
        (Some(_), _) => {
            for (k, v) in [
                ("responseMimeType", gc.response_mime_type.map(Value::String)),
                ("responseSchema", gc.response_schema),
                ("responseJsonSchema", gc.response_json_schema),
            ] {
                if let Some(v) = v {
                    left.insert(k.into(), v);
                }
            }
            None
        }
    };
    if let Some(tc) = gc.thinking_config {
        out.reasoning = reasoning_to_ir(&tc)?;
        let mut keep = tc.extra;
        if let Some(b) = tc.include_thoughts {
            keep.insert("includeThoughts".into(), Value::Bool(b));
        }
        if !keep.is_empty() {
            left.insert("thinkingConfig".into(), Value::Object(keep));
        }
    }
    Ok(left)
}

fn reasoning_to_ir(tc: &ThinkingConfig) -> Result<Option<Reasoning>, ApiError> {
    let level = match tc.thinking_level.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("THINKING_LEVEL_UNSPECIFIED") => None,
        Some("MINIMAL") => Some(Effort::Minimal),
        Some("LOW") => Some(Effort::Low),
        Some("MEDIUM") => Some(Effort::Medium),
        Some("HIGH") => Some(Effort::High),
        Some("XHIGH") => Some(Effort::XHigh),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "generationConfig.thinkingConfig.thinkingLevel",
                format!("thinking level `{other}` cannot be converted"),
            ))
        }
    };
    Ok(match (tc.thinking_budget, level) {
        (Some(0), _) => Some(Reasoning::Off),
        (_, Some(e)) => Some(Reasoning::Effort(e)),
        (Some(-1), None) => Some(Reasoning::Adaptive(None)),
        (Some(n), None) if n > 0 => Some(Reasoning::Budget(u32::try_from(n).unwrap_or(u32::MAX))),
        (Some(n), None) => {
            return Err(ApiError::invalid_field(
                "generationConfig.thinkingConfig.thinkingBudget",
                format!("thinkingBudget must be -1, 0 or positive, got {n}"),
            ))
        }
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(body: Value) -> ir::Request {
        request_to_ir(body.to_string().as_bytes(), "models/gemini-2.5-pro", false).unwrap()
    }

    fn err(body: Value) -> ApiError {
        request_to_ir(body.to_string().as_bytes(), "gemini-2.5-pro", false).unwrap_err()
    }

    #[test]
    fn model_from_path_and_text_turns() {
        let r = conv(
            json!({"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[{"text":"hello"}]},{"parts":[{"text":"again"}]}]}),
        );
        assert_eq!(r.model, "gemini-2.5-pro");
        assert_eq!(
            r.turns,
            vec![
                Turn::new(Role::User, vec![IrPart::text("hi")]),
                Turn::new(Role::Assistant, vec![IrPart::text("hello")]),
                Turn::new(Role::User, vec![IrPart::text("again")]),
            ]
        );
    }

    #[test]
    fn snake_case_fields_are_accepted() {
        let r = conv(json!({
            "system_instruction": {"parts": [{"text": "be brief"}]},
            "contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "iVBO"}}]}],
            "generation_config": {"max_output_tokens": 5, "thinking_config": {"thinking_budget": 0}}
        }));
        assert_eq!(r.system[0].text, "be brief");
        assert_eq!(r.max_output_tokens, Some(5));
        assert_eq!(r.reasoning, Some(Reasoning::Off));
        assert!(matches!(r.turns[0].parts[0], IrPart::Image { .. }));
    }

    #[test]
    fn system_instruction_parts_in_order_and_non_text_refused() {
        let r = conv(json!({"systemInstruction":{"parts":[{"text":"a"},{"text":""},{"text":"b"}]},"contents":[]}));
        assert_eq!(r.system.iter().map(|b| b.text.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let e = err(json!({"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"x"}}]}}));
        assert_eq!(e.param.as_deref(), Some("systemInstruction.parts[0]"));
    }

    #[test]
    fn unknown_role_and_misplaced_parts_are_400() {
        assert_eq!(
            err(json!({"contents":[{"role":"system","parts":[{"text":"x"}]}]})).param.as_deref(),
            Some("contents[0].role")
        );
        let e = err(json!({"contents":[{"role":"user","parts":[{"functionCall":{"name":"f"}}]}]}));
        assert_eq!(e.param.as_deref(), Some("contents[0].parts[0]"));
        let e = err(json!({"contents":[{"role":"user","parts":[{"executableCode":{"code":"1"}}]}]}));
        assert!(e.message.contains("executableCode"));
    }

    #[test]
    fn calls_without_ids_get_history_ids_and_results_match_by_name() {
        let r = conv(json!({"contents":[
            {"role":"user","parts":[{"text":"weather?"}]},
            {"role":"model","parts":[{"functionCall":{"name":"get","args":{"c":"A"}}},{"functionCall":{"name":"get","args":{"c":"B"}}}]},
            {"role":"user","parts":[{"functionResponse":{"name":"get","response":{"output":"sun"}}},{"functionResponse":{"name":"get","response":{"temp":20}}}]}
        ]}));
        let tool = &r.turns[2];
        assert_eq!(tool.role, Role::Tool);
        let ids: Vec<_> = tool
            .parts
            .iter()
            .filter_map(|p| match p {
                IrPart::ToolResult { tool_use_id, .. } => Some(tool_use_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["call_1_0", "call_1_1"]);
        assert_eq!(
            tool.parts[1],
            IrPart::ToolResult {
                tool_use_id: "call_1_1".into(),
                name: Some("get".into()),
                content: vec![IrPart::text(r#"{"temp":20}"#)],
                is_error: false
            }
        );
    }

    #[test]
    fn orphan_response_is_400() {
        let e = err(json!({"contents":[{"role":"user","parts":[{"functionResponse":{"name":"get","response":{}}}]}]}));
        assert_eq!(e.param.as_deref(), Some("contents[0].parts[0].functionResponse"));
    }

    #[test]
    fn response_unwrapping() {
        assert_eq!(unwrap_response(Some(json!({"output":"x"}))), ("x".into(), false));
        assert_eq!(unwrap_response(Some(json!({"result":"x"}))), ("x".into(), false));
        assert_eq!(unwrap_response(Some(json!({"error":"boom"}))), ("boom".into(), true));
        assert_eq!(unwrap_response(Some(json!({"error":{"code":1}}))), (r#"{"code":1}"#.into(), true));
        assert_eq!(unwrap_response(Some(json!({"output":{"a":1}}))), (r#"{"output":{"a":1}}"#.into(), false));
        assert_eq!(unwrap_response(Some(json!({"a":1,"b":2}))), (r#"{"a":1,"b":2}"#.into(), false));
        assert_eq!(unwrap_response(None), (String::new(), false));
    }

    #[test]
    fn thoughts_merge_and_signatures_become_signed_thinking() {
        let r = conv(json!({"contents":[{"role":"model","parts":[
            {"text":"a","thought":true},{"text":"b","thought":true,"thoughtSignature":"S1"},
            {"functionCall":{"id":"c1","name":"f","args":{}},"thoughtSignature":"S2"},
            {"text":"done","thoughtSignature":"S3"},{"text":"","thoughtSignature":"S4"}
        ]}]}));
        assert_eq!(
            r.turns[0].parts,
            vec![
                IrPart::Thinking { text: "ab".into(), signature: Some("S1".into()) },
                IrPart::Thinking { text: String::new(), signature: Some("S2".into()) },
                IrPart::ToolUse { id: "c1".into(), name: "f".into(), input: json!({}) },
                IrPart::Thinking { text: String::new(), signature: Some("S3".into()) },
                IrPart::text("done"),
                IrPart::Thinking { text: String::new(), signature: Some("S4".into()) },
            ]
        );
    }

    #[test]
    fn tool_choice_modes() {
        let tc = |mode: &str, names: Value| {
            conv(json!({"contents":[],"toolConfig":{"functionCallingConfig":{"mode":mode,"allowedFunctionNames":names}}}))
                .tool_choice
        };
        assert_eq!(tc("AUTO", json!(null)), Some(ToolChoice::Auto));
        assert_eq!(tc("NONE", json!(null)), Some(ToolChoice::None));
        assert_eq!(tc("ANY", json!(null)), Some(ToolChoice::Required));
        assert_eq!(tc("ANY", json!(["f"])), Some(ToolChoice::Tool("f".into())));
        assert_eq!(
            tc("ANY", json!(["f", "g"])),
            Some(ToolChoice::Allowed { names: vec!["f".into(), "g".into()], required: true })
        );
        assert_eq!(tc("VALIDATED", json!(["f"])), Some(ToolChoice::Allowed { names: vec!["f".into()], required: false }));
        assert_eq!(tc("MODE_UNSPECIFIED", json!(null)), None);
        assert_eq!(
            err(json!({"toolConfig":{"functionCallingConfig":{"mode":"SOMETIMES"}}})).param.as_deref(),
            Some("toolConfig.functionCallingConfig.mode")
        );
    }

    #[test]
    fn tools_schemas_and_builtins() {
        let r = conv(json!({"tools":[
            {"functionDeclarations":[
                {"name":"a","parametersJsonSchema":{"type":"object","additionalProperties":false}},
                {"name":"b","description":"B","parameters":{"type":"OBJECT","properties":{"x":{"type":"STRING"}}}},
                {"name":"c"}
            ]},
            {"googleSearch":{}}
        ]}));
        assert_eq!(r.tools[0].schema, json!({"type":"object","additionalProperties":false}));
        assert_eq!(r.tools[1].schema, json!({"type":"object","properties":{"x":{"type":"string"}}}));
        assert_eq!(r.tools[1].description.as_deref(), Some("B"));
        assert_eq!(r.tools[2].schema, json!({"type":"object","properties":{}}));
        assert_eq!(r.extra.fields.get("tools"), Some(&json!([{"googleSearch":{}}])));
        assert_eq!(r.extra.answer_changing, vec!["tools".to_owned()]);
    }

    #[test]
    fn generation_config_values_including_zeros() {
        let r = conv(json!({"generationConfig":{
            "temperature":0,"topP":0,"topK":40.0,"candidateCount":2,"maxOutputTokens":100,"stopSequences":["END"],
            "seed":0,"presencePenalty":0.5,"frequencyPenalty":-0.5,"responseLogprobs":false,"logprobs":3
        }}));
        assert_eq!(
            (r.temperature, r.top_p, r.top_k, r.n, r.max_output_tokens),
            (Some(0.0), Some(0.0), Some(40), Some(2), Some(100))
        );
        assert_eq!((r.seed, r.presence_penalty, r.frequency_penalty), (Some(0), Some(0.5), Some(-0.5)));
        assert_eq!((r.logprobs, r.top_logprobs), (Some(false), Some(3)));
        assert_eq!(r.stop, vec!["END".to_owned()]);
        assert_eq!(err(json!({"generationConfig":{"topK":1.5}})).param.as_deref(), Some("generationConfig.topK"));
    }

    #[test]
    fn structured_output() {
        let fmt = |gc: Value| conv(json!({"generationConfig": gc})).response_format;
        let schema = json!({"type":"object","properties":{"a":{"type":"integer"}}});
        assert_eq!(
            fmt(json!({"responseMimeType":"application/json","responseJsonSchema":schema})),
            Some(ResponseFormat::JsonSchema { name: "response".into(), description: None, schema: schema.clone(), strict: None })
        );
        assert_eq!(
            fmt(
                json!({"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"a":{"type":"INTEGER"}}}})
            ),
            Some(ResponseFormat::JsonSchema { name: "response".into(), description: None, schema, strict: None })
        );
        assert_eq!(fmt(json!({"responseMimeType":"application/json"})), Some(ResponseFormat::JsonObject));
        assert_eq!(fmt(json!({"responseMimeType":"text/plain"})), Some(ResponseFormat::Text));
        let r =
            conv(json!({"generationConfig":{"responseMimeType":"text/x.enum","responseSchema":{"type":"STRING","enum":["a"]}}}));
        assert_eq!(r.response_format, None);
        assert_eq!(r.extra.answer_changing, vec!["generationConfig".to_owned()]);
    }

    #[test]
    fn thinking_config() {
        let th = |tc: Value| conv(json!({"generationConfig":{"thinkingConfig": tc}})).reasoning;
        assert_eq!(th(json!({"thinkingBudget":0})), Some(Reasoning::Off));
        assert_eq!(th(json!({"thinkingBudget":-1})), Some(Reasoning::Adaptive(None)));
        assert_eq!(th(json!({"thinkingBudget":2048})), Some(Reasoning::Budget(2048)));
        assert_eq!(th(json!({"thinkingLevel":"HIGH"})), Some(Reasoning::Effort(Effort::High)));
        assert_eq!(th(json!({"thinkingLevel":"low"})), Some(Reasoning::Effort(Effort::Low)));
        assert_eq!(err(json!({"generationConfig":{"thinkingConfig":{"thinkingBudget":-5}}})).status, 400);
        let r = conv(json!({"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":1024}}}));
        assert!(wants_thoughts(&r));
        assert!(r.extra.answer_changing.is_empty());
        assert!(!wants_thoughts(&conv(json!({"contents":[]}))));
    }

    #[test]
    fn passthrough_fields_and_labels() {
        let r = conv(json!({
            "safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}],
            "cachedContent":"cachedContents/abc",
            "labels":{"team":"a"},
            "generationConfig":{"responseModalities":["TEXT"],"mediaResolution":"MEDIA_RESOLUTION_LOW"}
        }));
        assert_eq!(r.metadata.tags.get("team"), Some(&json!("a")));
        assert_eq!(r.extra.source, Some(Protocol::Gemini));
        assert!(r.extra.fields.contains_key("safetySettings"));
        assert_eq!(r.extra.answer_changing, vec!["cachedContent".to_owned()]);
        let r = conv(json!({"generationConfig":{"responseModalities":["TEXT","IMAGE"]}}));
        assert_eq!(r.extra.answer_changing, vec!["generationConfig".to_owned()]);
    }

    #[test]
    fn malformed_body_names_the_path() {
        let e = request_to_ir(br#"{"contents":[{"parts":[{"inlineData":{"data":"x"}}]}]}"#, "m", false).unwrap_err();
        assert!(e.param.as_deref().unwrap_or("").starts_with("contents[0].parts[0]"), "{e:?}");
        assert!(request_to_ir(b"[", "m", false).is_err());
    }
}
