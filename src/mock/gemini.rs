//! The Gemini Developer API side of the mock: `POST …models/{model}:generateContent`,
//! `:streamGenerateContent` (`?alt=sse` for SSE, else a JSON array), `:countTokens`,
//! `:embedContent` and `:batchEmbedContents`, under any prefix (`/v1beta/`, `/v1/`), with the
//! model possibly URL-encoded; auth by `x-goog-api-key` or `?key=`; errors in
//! `{"error":{"code","message","status"}}`.
//!
//! Answers follow the shared rules in `text.rs`; `thinkingConfig.includeThoughts` adds a
//! leading thought part and a base64 `thoughtSignature` on the first answer part.

use serde_json::{json, Value};

use super::embeddings::vector;
use super::faults::Faults;
use super::routes::{Incoming, Reply};
use super::text::{mentions_weather, signature, words, Words, TOKENS_PER_MESSAGE, TOOL_CALL_TOKENS};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};

/// The Gemini method after the colon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Generate,
    Stream,
    CountTokens,
    Embed,
    BatchEmbed,
    Unknown,
}

/// A Gemini path: `…models/{model}:{method}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// The model id without `models/`, as echoed in `modelVersion`.
    pub model: String,
    pub method: Method,
}

impl Route {
    /// Parses a path (query removed); `None` if it is not a Gemini model-method path.
    pub fn parse(path: &str) -> Option<Route> {
        let decoded = percent_decode(path);
        let (resource, method) = decoded.rsplit_once(':')?;
        if method.contains('/') || !(resource.contains("models/") || resource.contains("Models/")) {
            return None;
        }
        let model = resource.rsplit('/').next().unwrap_or("").to_owned();
        let method = match method {
            "generateContent" => Method::Generate,
            "streamGenerateContent" => Method::Stream,
            "countTokens" => Method::CountTokens,
            "embedContent" => Method::Embed,
            "batchEmbedContents" => Method::BatchEmbed,
            _ => Method::Unknown,
        };
        Some(Route { model, method })
    }
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An error in Google's envelope.
#[derive(Debug)]
struct Error {
    code: u16,
    message: String,
    status: &'static str,
    details: Option<Value>,
}

impl Error {
    fn new(code: u16, status: &'static str, message: impl Into<String>) -> Error {
        Error { code, message: message.into(), status, details: None }
    }

    fn invalid(message: impl Into<String>) -> Error {
        Error::new(400, "INVALID_ARGUMENT", message)
    }

    /// The envelope for an injected status, with the §3.9 status string.
    fn for_status(code: u16) -> Error {
        let (status, message) = match code {
            400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
            401 => ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
            403 => ("PERMISSION_DENIED", "The caller does not have permission."),
            404 => ("NOT_FOUND", "Requested entity was not found."),
            409 => ("ABORTED", "The operation was aborted."),
            429 => ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
            503 | 529 => ("UNAVAILABLE", "The model is overloaded. Please try again later."),
            504 => ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
            c if c >= 500 => ("INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"),
            _ => ("INVALID_ARGUMENT", "Mock upstream error."),
        };
        Error::new(code, status, message)
    }

    fn reply(&self) -> Reply {
        let mut error = json!({"code": self.code, "message": self.message, "status": self.status});
        if let (Some(details), Some(map)) = (&self.details, error.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        Reply::json(self.code, &json!({ "error": error }))
    }
}

/// The refusals before any answer: malformed fault override, wrong (400) or missing (403)
/// key, injected error status.
pub(crate) fn refuse(inc: &Incoming<'_>, faults: &Faults, override_error: Option<String>) -> Option<Reply> {
    if let Some(message) = override_error {
        return Some(Error::invalid(message).reply());
    }
    let given = inc.request.header("x-goog-api-key").map(str::to_owned).or_else(|| inc.query("key"));
    match inc.shared.check_key(given.as_deref()) {
        Ok(()) => {}
        Err(true) => {
            let mut e = Error::invalid("API key not valid. Please pass a valid API key.");
            e.details = Some(json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"}}]));
            return Some(e.reply());
        }
        Err(false) => {
            return Some(
                Error::new(
                    403,
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers (callers without established \
                     identity). Please use API Key or other form of API consumer identity to \
                     call this API.",
                )
                .reply(),
            )
        }
    }
    faults.error_status().map(|s| Error::for_status(s).reply())
}

/// Answers a Gemini model-method request.
pub(crate) fn handle(inc: &Incoming<'_>) -> Reply {
    match answer(inc) {
        Ok(reply) => reply,
        Err(e) => e.reply(),
    }
}

fn answer(inc: &Incoming<'_>) -> Result<Reply, Error> {
    let route = Route::parse(inc.request.path()).ok_or_else(|| Error::for_status(404))?;
    if inc.request.method != "POST" || route.method == Method::Unknown {
        return Err(Error::for_status(404));
    }
    let body = match inc.json {
        Some(Ok(v)) if v.is_object() => v,
        Some(Err(e)) => return Err(Error::invalid(format!("Invalid JSON payload received. {e}"))),
        _ => return Err(Error::invalid("Invalid JSON payload received. Expected an object.")),
    };
    match route.method {
        Method::CountTokens => {
            // Either `contents` or a whole `generateContentRequest`.
            let request = body.get("generateContentRequest").unwrap_or(body);
            let contents = contents(request)?;
            Ok(Reply::json(200, &json!({"totalTokens": prompt_tokens(request, contents)})))
        }
        Method::Embed => {
            let text = parts_text(body.get("content"));
            Ok(Reply::json(200, &json!({"embedding": {"values": vector(&text)}})))
        }
        Method::BatchEmbed => {
            let requests = body
                .get("requests")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::invalid("* BatchEmbedContentsRequest.requests: requests is not specified\n"))?;
            let embeddings: Vec<Value> =
                requests.iter().map(|r| json!({"values": vector(&parts_text(r.get("content")))})).collect();
            Ok(Reply::json(200, &json!({ "embeddings": embeddings })))
        }
        Method::Generate | Method::Stream => {
            let answer = Answer::decide(body, route.model, inc.shared.unique())?;
            Ok(match route.method {
                Method::Generate => Reply::json(200, &answer.response()),
                _ if inc.query("alt").as_deref() == Some("sse") => Reply::Sse(
                    answer
                        .chunks()
                        .iter()
                        .map(|c| format!("data: {}\r\n\r\n", serde_json::to_string(c).unwrap_or_default()).into_bytes())
                        .collect(),
                ),
                // Without `alt=sse` the API streams one JSON array of the same chunks.
                _ => Reply::json(200, &Value::Array(answer.chunks())),
            })
        }
        Method::Unknown => Err(Error::for_status(404)),
    }
}

/// A field by its proto JSON name or its snake_case original, both accepted by the API.
fn field<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| v.get(snake))
}

fn contents(body: &Value) -> Result<&[Value], Error> {
    match body.get("contents").and_then(Value::as_array) {
        Some(c) if !c.is_empty() => Ok(c),
        _ => Err(Error::invalid("* GenerateContentRequest.contents: contents is not specified\n")),
    }
}

/// The `text` parts of a content joined by spaces.
fn parts_text(content: Option<&Value>) -> String {
    parts(content).filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
}

fn parts(content: Option<&Value>) -> impl Iterator<Item = &Value> {
    content.and_then(|c| c.get("parts")).and_then(Value::as_array).into_iter().flatten()
}

fn is_user(content: &Value) -> bool {
    // The API treats a content without a role as the user's.
    content.get("role").and_then(Value::as_str).unwrap_or("user") == "user"
}

fn has_text(content: &Value) -> bool {
    parts(Some(content)).any(|p| p.get("text").is_some())
}

/// Prompt tokens: each content and the system instruction by the shared rule.
fn prompt_tokens(body: &Value, contents: &[Value]) -> u64 {
    let tokens = |c: &Value| TOKENS_PER_MESSAGE + words(&parts_text(Some(c)));
    let system = field(body, "systemInstruction", "system_instruction").map_or(0, tokens);
    system + contents.iter().map(tokens).sum::<u64>()
}

/// What the model part of the answer holds.
#[derive(Debug)]
enum Output {
    Text(Words),
    Call(String),
}

/// The decided answer to one generateContent request.
#[derive(Debug)]
struct Answer {
    model: String,
    response_id: String,
    thought: Option<Words>,
    output: Output,
    finish_reason: &'static str,
    prompt_tokens: u64,
}

impl Answer {
    fn decide(body: &Value, model: String, response_id: String) -> Result<Answer, Error> {
        let contents = contents(body)?;
        let prompt_tokens = prompt_tokens(body, contents);
        let config = field(body, "generationConfig", "generation_config");
        let limit = config.and_then(|c| field(c, "maxOutputTokens", "max_output_tokens")).and_then(Value::as_u64);
        let thinking = config
            .and_then(|c| field(c, "thinkingConfig", "thinking_config"))
            .and_then(|t| field(t, "includeThoughts", "include_thoughts"))
            .and_then(Value::as_bool)
            == Some(true);
        let user_text =
            contents.iter().rev().find(|c| is_user(c) && has_text(c)).map(|c| parts_text(Some(c))).unwrap_or_default();
        let tool_name = body
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| field(t, "functionDeclarations", "function_declarations"))
            .filter_map(Value::as_array)
            .flatten()
            .find_map(|d| d.get("name").and_then(Value::as_str));
        let asks_tool = contents.last().is_some_and(|c| {
            is_user(c)
                && !parts(Some(c)).any(|p| field(p, "functionResponse", "function_response").is_some())
                && mentions_weather(&parts_text(Some(c)))
        });
        let (output, finish_reason) = match tool_name {
            Some(name) if asks_tool => (Output::Call(name.to_owned()), "STOP"),
            _ => {
                let words = Words::echo(&user_text, limit);
                let finish = if words.truncated { "MAX_TOKENS" } else { "STOP" };
                (Output::Text(words), finish)
            }
        };
        Ok(Answer {
            model,
            response_id,
            thought: thinking.then(|| Words::thinking(&user_text)),
            output,
            finish_reason,
            prompt_tokens,
        })
    }

    /// The base64 `thoughtSignature` of the first answer part when thinking.
    fn signature(&self) -> Option<String> {
        self.thought.as_ref().map(|t| BASE64.encode(signature(t).as_bytes()))
    }

    fn candidates_tokens(&self) -> u64 {
        match &self.output {
            Output::Text(words) => words.tokens(),
            Output::Call(_) => TOOL_CALL_TOKENS,
        }
    }

    /// A cumulative usage snapshot; zero counts are omitted, as the API omits them.
    fn usage(&self, candidates: u64, thoughts: u64) -> Value {
        let mut usage = json!({"promptTokenCount": self.prompt_tokens,
                               "totalTokenCount": self.prompt_tokens + candidates + thoughts});
        if let Some(map) = usage.as_object_mut() {
            if candidates > 0 {
                map.insert("candidatesTokenCount".into(), candidates.into());
            }
            if thoughts > 0 {
                map.insert("thoughtsTokenCount".into(), thoughts.into());
            }
        }
        usage
    }

    fn response_with(&self, parts: Vec<Value>, finish: Option<&str>, usage: Value) -> Value {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let (Some(finish), Some(map)) = (finish, candidate.as_object_mut()) {
            map.insert("finishReason".into(), finish.into());
        }
        json!({"candidates": [candidate], "usageMetadata": usage,
               "modelVersion": self.model, "responseId": self.response_id})
    }

    fn call_part(name: &str) -> Value {
        json!({"functionCall": {"name": name, "args": {"city": "Paris"}}})
    }

    fn sign(mut part: Value, signature: Option<&String>) -> Value {
        if let (Some(sig), Some(map)) = (signature, part.as_object_mut()) {
            map.insert("thoughtSignature".into(), sig.as_str().into());
        }
        part
    }

    /// The non-stream `GenerateContentResponse`.
    fn response(&self) -> Value {
        let signature = self.signature();
        let mut parts = Vec::with_capacity(2);
        if let Some(t) = &self.thought {
            parts.push(json!({"text": t.as_str(), "thought": true}));
        }
        let part = match &self.output {
            Output::Text(words) => json!({"text": words.as_str()}),
            Output::Call(name) => Answer::call_part(name),
        };
        parts.push(Answer::sign(part, signature.as_ref()));
        let thoughts = self.thought.as_ref().map_or(0, Words::tokens);
        let usage = self.usage(self.candidates_tokens(), thoughts);
        self.response_with(parts, Some(self.finish_reason), usage)
    }

    /// The stream chunks: thought words, then answer words (or the whole call), each with the
    /// running usage; the last carries `finishReason`.
    fn chunks(&self) -> Vec<Value> {
        let signature = self.signature();
        let mut parts: Vec<(Value, u64, u64)> = Vec::new();
        let mut thoughts = 0;
        if let Some(t) = &self.thought {
            for piece in t.pieces() {
                thoughts += 1;
                parts.push((json!({"text": piece, "thought": true}), 0, thoughts));
            }
        }
        match &self.output {
            Output::Text(words) => {
                for (i, piece) in words.pieces().enumerate() {
                    let sig = if i == 0 { signature.as_ref() } else { None };
                    let part = Answer::sign(json!({ "text": piece }), sig);
                    parts.push((part, i as u64 + 1, thoughts));
                }
                if words.len() == 0 {
                    let part = Answer::sign(json!({"text": ""}), signature.as_ref());
                    parts.push((part, 0, thoughts));
                }
            }
            Output::Call(name) => {
                let part = Answer::sign(Answer::call_part(name), signature.as_ref());
                parts.push((part, TOOL_CALL_TOKENS, thoughts));
            }
        }
        let last = parts.len().saturating_sub(1);
        parts
            .into_iter()
            .enumerate()
            .map(|(i, (part, candidates, thoughts))| {
                let finish = (i == last).then_some(self.finish_reason);
                self.response_with(vec![part], finish, self.usage(candidates, thoughts))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_prefixes_and_encoding() {
        let r = Route::parse("/v1beta/models/gemini-2.5-flash:generateContent").unwrap();
        assert_eq!((r.model.as_str(), r.method), ("gemini-2.5-flash", Method::Generate));
        let r = Route::parse("/gw/v1/models%2Fgemini-x%3AstreamGenerateContent").unwrap();
        assert_eq!((r.model.as_str(), r.method), ("gemini-x", Method::Stream));
        let r = Route::parse("/v1beta/tunedModels/t1:countTokens").unwrap();
        assert_eq!(r.method, Method::CountTokens);
        assert_eq!(Route::parse("/v1beta/models/m:bogus").unwrap().method, Method::Unknown);
        assert!(Route::parse("/v1/models").is_none());
        assert!(Route::parse("/v1/chat/completions").is_none());
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
    }

    #[test]
    fn snake_case_config_and_system_instruction() {
        let body = json!({"system_instruction": {"parts": [{"text": "be brief"}]},
            "contents": [{"parts": [{"text": "a b c"}]}],
            "generation_config": {"max_output_tokens": 2}});
        let a = Answer::decide(&body, "m".into(), "r".into()).unwrap();
        let r = a.response();
        assert_eq!(r["candidates"][0]["content"]["parts"], json!([{"text": "Echo: a"}]));
        assert_eq!(r["candidates"][0]["finishReason"], "MAX_TOKENS");
        assert_eq!(r["usageMetadata"], json!({"promptTokenCount": 11, "candidatesTokenCount": 2, "totalTokenCount": 13}));
    }
}
