//! How each provider protocol is called over HTTP: the path below the base URL and the auth
//! headers. Base URLs are taken as each official SDK takes them (OpenAI with `/v1`, Anthropic
//! and Gemini without a version).

use crate::protocol::ir::Protocol;

/// The Anthropic API version sent when converting into Anthropic (it accepts sampling fields).
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The Gemini API version used when the base URL names none.
const GEMINI_VERSION: &str = "v1beta";

/// The path (with query) of a generation call below a provider's base path.
pub fn generation_path(p: Protocol, base_path: &str, model: &str, stream: bool) -> String {
    match p {
        Protocol::OpenAiChat => format!("{base_path}/chat/completions"),
        Protocol::OpenAiResponses => format!("{base_path}/responses"),
        Protocol::Anthropic => {
            let base = base_path.strip_suffix("/v1").unwrap_or(base_path);
            format!("{base}/v1/messages")
        }
        Protocol::Gemini => gemini_method_path(base_path, model, if stream { "streamGenerateContent?alt=sse" } else { "generateContent" }),
    }
}

/// A Gemini model method's path (`…/v1beta/models/{model}:{method}`), the version added when
/// the base URL names none.
pub fn gemini_method_path(base_path: &str, model: &str, method: &str) -> String {
    let versioned = base_path.ends_with("/v1beta") || base_path.ends_with("/v1") || base_path.ends_with("/v1alpha");
    let prefix = if versioned { base_path.to_owned() } else { format!("{base_path}/{GEMINI_VERSION}") };
    let model = model.strip_prefix("models/").unwrap_or(model);
    format!("{prefix}/models/{model}:{method}")
}

/// The headers carrying the provider credential (none when the key is empty).
pub fn auth_headers(p: Protocol, key: &str) -> Vec<(&'static str, String)> {
    let mut headers = Vec::with_capacity(2);
    match p {
        Protocol::OpenAiChat | Protocol::OpenAiResponses => {
            if !key.is_empty() {
                headers.push(("authorization", format!("Bearer {key}")));
            }
        }
        Protocol::Anthropic => {
            if !key.is_empty() {
                headers.push(("x-api-key", key.to_owned()));
            }
        }
        Protocol::Gemini => {
            if !key.is_empty() {
                headers.push(("x-goog-api-key", key.to_owned()));
            }
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_each_sdk_base_url() {
        assert_eq!(generation_path(Protocol::OpenAiChat, "/v1", "m", true), "/v1/chat/completions");
        assert_eq!(generation_path(Protocol::Anthropic, "", "m", true), "/v1/messages");
        assert_eq!(generation_path(Protocol::Anthropic, "/v1", "m", false), "/v1/messages");
        assert_eq!(generation_path(Protocol::Gemini, "", "models/g-1", true), "/v1beta/models/g-1:streamGenerateContent?alt=sse");
        assert_eq!(generation_path(Protocol::Gemini, "/v1", "g-1", false), "/v1/models/g-1:generateContent");
    }

    #[test]
    fn credentials_go_where_each_provider_reads_them() {
        assert_eq!(auth_headers(Protocol::Anthropic, "k"), vec![("x-api-key", "k".to_owned())]);
        assert_eq!(auth_headers(Protocol::Gemini, "k"), vec![("x-goog-api-key", "k".to_owned())]);
        assert!(auth_headers(Protocol::OpenAiChat, "").is_empty());
    }
}
