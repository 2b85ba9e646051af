//! Routing: which protocol a request speaks (by path), the refusals any request may get before
//! its answer (malformed fault override, wrong key, injected error status) in that protocol's
//! own error envelope, and the dispatch to the protocol modules.

use serde_json::Value;

use super::faults::Faults;
use super::http::Request;
use super::openai::{Answer, ApiError};
use super::{anthropic, embeddings, gemini, images, responses, Shared};

/// What to send back; `conn.rs` does the framing and applies the stream faults.
pub(crate) enum Reply {
    /// A complete `application/json` body with Content-Length.
    Json { status: u16, body: Vec<u8> },
    /// An OpenAI chat stream, rendered event by event, ended with `[DONE]`.
    Chat(Box<Answer>),
    /// A 200 `text/event-stream` of complete SSE events (each with its blank line), ended by
    /// closing the chunked body: the Anthropic, Gemini and Responses streams.
    Sse(Vec<Vec<u8>>),
}

impl Reply {
    /// A JSON reply from a value.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply::Json { status, body: serde_json::to_vec(value).unwrap_or_default() }
    }
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        Reply::Json { status: e.status, body: e.body() }
    }
}

/// One request as the protocol handlers see it.
pub(crate) struct Incoming<'a> {
    /// For ids and the configured key.
    pub shared: &'a Shared,
    pub request: &'a Request,
    /// The body parsed as JSON; `None` when the body is empty.
    pub json: Option<&'a Result<Value, serde_json::Error>>,
    /// Also sent as `x-request-id` (and `request-id` for Anthropic).
    pub request_id: &'a str,
}

impl Incoming<'_> {
    /// The body when it is valid JSON.
    pub fn body(&self) -> Option<&Value> {
        self.json.and_then(|r| r.as_ref().ok())
    }

    /// A query-string parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let (_, query) = self.request.target.split_once('?')?;
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// The protocol a request speaks, which picks its error envelope and auth scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Protocol {
    /// Classifies a path (query string removed): Anthropic for `…/v1/messages` (and its
    /// `count_tokens`), Gemini for `…models/{model}:{method}`, OpenAI for everything else.
    pub fn of(path: &str) -> Protocol {
        if path.ends_with("/v1/messages") || path.ends_with("/v1/messages/count_tokens") {
            Protocol::Anthropic
        } else if gemini::Route::parse(path).is_some() {
            Protocol::Gemini
        } else {
            Protocol::OpenAi
        }
    }
}

/// Answers a request whose faults are known: first the refusals, then the protocol's answer.
/// `override_error` describes a malformed `"mock"` body override.
pub(crate) fn answer(inc: &Incoming<'_>, faults: &Faults, override_error: Option<String>) -> (Protocol, Reply) {
    let protocol = Protocol::of(inc.request.path());
    let reply = match protocol {
        Protocol::OpenAi => refuse_openai(inc, faults, override_error).unwrap_or_else(|| openai(inc)),
        Protocol::Anthropic => anthropic::refuse(inc, faults, override_error).unwrap_or_else(|| anthropic::handle(inc)),
        Protocol::Gemini => gemini::refuse(inc, faults, override_error).unwrap_or_else(|| gemini::handle(inc)),
    };
    (protocol, reply)
}

fn refuse_openai(inc: &Incoming<'_>, faults: &Faults, override_error: Option<String>) -> Option<Reply> {
    if let Some(message) = override_error {
        return Some(ApiError::invalid_request(message, Some("mock"), None).into());
    }
    if let Err(key_present) = inc.shared.authorized(inc.request.header("authorization")) {
        return Some(ApiError::unauthorized(key_present).into());
    }
    faults.error_status().map(|s| ApiError::for_status(s).into())
}

/// The 400 the OpenAI API sends for a body that is not JSON.
pub(crate) fn openai_unparsable() -> ApiError {
    ApiError::invalid_request(
        "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.",
        None,
        None,
    )
}

/// The OpenAI routes: Chat Completions, models, embeddings, images, Responses.
fn openai(inc: &Incoming<'_>) -> Reply {
    let path = inc.request.path();
    let method = inc.request.method.as_str();
    match method {
        "POST" if path.ends_with("/chat/completions") => {
            let Some(body) = inc.body() else {
                return openai_unparsable().into();
            };
            match Answer::decide(body, format!("chatcmpl-{}", inc.shared.unique()), super::now()) {
                Ok(answer) if answer.stream => Reply::Chat(Box::new(answer)),
                Ok(answer) => {
                    inc.shared.report(answer.usage.reported());
                    Reply::Json { status: 200, body: answer.completion_body() }
                }
                Err(error) => error.into(),
            }
        }
        "POST" if path.ends_with("/embeddings") => embeddings::handle(inc),
        "POST" if path.ends_with("/images/generations") => images::handle(inc),
        "POST" if path.ends_with("/responses") => responses::handle(inc),
        "GET" if path.ends_with("/models") => Reply::Json {
            status: 200,
            body: br#"{"object":"list","data":[{"id":"mock-model","object":"model","created":0,"owned_by":"mock"}]}"#.to_vec(),
        },
        method => ApiError::unknown_url(method, path).into(),
    }
}
