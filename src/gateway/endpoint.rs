//! Recognising what a request is for from its method and path alone, and which protocol's
//! error envelope the client expects.

use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::Protocol;

/// The routes the public listener answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions` (OpenAI Chat).
    ChatCompletions,
    /// `POST /v1/messages` (Anthropic Messages).
    Messages,
    /// `POST /v1/responses` (OpenAI Responses).
    Responses,
    /// `POST /v1beta/models/{model}:generateContent` or `:streamGenerateContent` (Gemini).
    Generate {
        /// The model named in the path, without `models/`.
        model: String,
        /// `streamGenerateContent`.
        stream: bool,
    },
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/images/generations`.
    Images,
    /// `POST /v1beta/models/{model}:countTokens` (Gemini), answered locally.
    CountTokens {
        /// The model named in the path.
        model: String,
    },
    /// `POST /v1/messages/count_tokens` (Anthropic), answered locally.
    CountMessageTokens,
    /// `GET /v1/models` (OpenAI or Anthropic shape, by headers).
    Models,
    /// `GET /v1/models/{id}`.
    Model(String),
    /// `GET /v1beta/models` (Gemini shape).
    GeminiModels,
    /// `GET /healthz`.
    Health,
}

impl Endpoint {
    /// A stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Messages => "messages",
            Endpoint::Responses => "responses",
            Endpoint::Generate { stream: false, .. } => "generate_content",
            Endpoint::Generate { stream: true, .. } => "stream_generate_content",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Images => "images",
            Endpoint::CountTokens { .. } => "count_tokens",
            Endpoint::CountMessageTokens => "count_message_tokens",
            Endpoint::Models => "models",
            Endpoint::Model(_) => "model",
            Endpoint::GeminiModels => "gemini_models",
            Endpoint::Health => "health",
        }
    }
}

/// The protocol a client calling `path` speaks, for its errors (even on an unknown route).
pub fn protocol_of_path(path: &str) -> Protocol {
    if path.starts_with("/v1/messages") {
        Protocol::Anthropic
    } else if path.starts_with("/v1/responses") {
        Protocol::OpenAiResponses
    } else if path.starts_with("/v1beta/") || [":generateContent", ":streamGenerateContent", ":countTokens"].iter().any(|m| path.contains(m)) {
        Protocol::Gemini
    } else {
        Protocol::OpenAiChat
    }
}

/// The endpoint at `path` and the one method it accepts, if the path is known.
pub fn route(path: &str) -> Option<(Endpoint, &'static str)> {
    let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    match path {
        "/v1/chat/completions" | "/chat/completions" => return Some((Endpoint::ChatCompletions, "POST")),
        "/v1/messages" => return Some((Endpoint::Messages, "POST")),
        "/v1/messages/count_tokens" => return Some((Endpoint::CountMessageTokens, "POST")),
        "/v1/responses" | "/responses" => return Some((Endpoint::Responses, "POST")),
        "/v1/embeddings" | "/embeddings" => return Some((Endpoint::Embeddings, "POST")),
        "/v1/images/generations" | "/images/generations" => return Some((Endpoint::Images, "POST")),
        "/v1/models" | "/models" => return Some((Endpoint::Models, "GET")),
        "/v1beta/models" => return Some((Endpoint::GeminiModels, "GET")),
        "/healthz" => return Some((Endpoint::Health, "GET")),
        _ => {}
    }
    if let Some(generate) = gemini_method(path) {
        return Some((generate, "POST"));
    }
    let id = path.strip_prefix("/v1/models/").or_else(|| path.strip_prefix("/v1beta/models/"))?;
    (!id.is_empty()).then(|| (Endpoint::Model(percent_decode(id)), "GET"))
}

/// `/{v1beta|v1}/models/{model}:{method}` with the model possibly percent-encoded.
fn gemini_method(path: &str) -> Option<Endpoint> {
    let rest = path.strip_prefix("/v1beta/").or_else(|| path.strip_prefix("/v1/"))?;
    let rest = rest.strip_prefix("models/")?;
    let (model, method) = rest.rsplit_once(':')?;
    let model = percent_decode(model);
    let model = model.strip_prefix("models/").unwrap_or(&model).to_owned();
    if model.is_empty() || model.contains(':') {
        return None;
    }
    match method {
        "generateContent" => Some(Endpoint::Generate { model, stream: false }),
        "streamGenerateContent" => Some(Endpoint::Generate { model, stream: true }),
        "countTokens" => Some(Endpoint::CountTokens { model }),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// Maps method and path to an endpoint, or the 404/405 the client should see.
pub fn recognise(method: &str, path: &str) -> Result<Endpoint, ApiError> {
    let Some((endpoint, allowed)) = route(path) else {
        return Err(ApiError::new(ErrorClass::NotFound, format!("unknown route {method} {path}")).with_code("unknown_route"));
    };
    if method == allowed || (allowed == "GET" && method == "HEAD") {
        Ok(endpoint)
    } else {
        Err(ApiError::new(ErrorClass::MethodNotAllowed, format!("{path} accepts {allowed}, not {method}"))
            .with_code("method_not_allowed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_methods_and_unknowns() {
        assert_eq!(recognise("POST", "/v1/chat/completions"), Ok(Endpoint::ChatCompletions));
        assert_eq!(recognise("POST", "/v1/messages"), Ok(Endpoint::Messages));
        assert_eq!(recognise("GET", "/v1/models/"), Ok(Endpoint::Models));
        assert_eq!(recognise("GET", "/v1/models/gpt-4o"), Ok(Endpoint::Model("gpt-4o".into())));
        assert_eq!(recognise("GET", "/v1/chat/completions").unwrap_err().status, 405);
        assert_eq!(recognise("POST", "/v2/nothing").unwrap_err().status, 404);
    }

    #[test]
    fn gemini_paths_with_and_without_models_prefix() {
        let g = |m: &str, s| Ok(Endpoint::Generate { model: m.into(), stream: s });
        assert_eq!(recognise("POST", "/v1beta/models/gemini-2.5-flash:generateContent"), g("gemini-2.5-flash", false));
        assert_eq!(recognise("POST", "/v1/models/gemini-2.5-flash:streamGenerateContent"), g("gemini-2.5-flash", true));
        assert_eq!(recognise("POST", "/v1beta/models/models%2Fgem:generateContent"), g("gem", false));
        assert_eq!(recognise("POST", "/v1beta/models/x:unknownMethod").unwrap_err().status, 405);
        assert_eq!(protocol_of_path("/v1beta/models/x:generateContent"), Protocol::Gemini);
        assert_eq!(protocol_of_path("/v1/messages"), Protocol::Anthropic);
    }
}
