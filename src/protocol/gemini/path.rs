//! Model id and method from a Gemini URL path, and the upstream path for a converted request.
//!
//! Gemini carries the model in the path (`/{ver}/models/{id}:{method}`), not the body, and SDKs
//! add `models/` only when it is missing, so both spellings must be accepted (§1.1 rule).

/// The Gemini methods Switchyard converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeminiMethod {
    /// `:generateContent`, one whole answer.
    GenerateContent,
    /// `:streamGenerateContent` (with `?alt=sse`), the answer as SSE events.
    StreamGenerateContent,
    /// `:countTokens`.
    CountTokens,
}

impl GeminiMethod {
    /// The method word after the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            GeminiMethod::GenerateContent => "generateContent",
            GeminiMethod::StreamGenerateContent => "streamGenerateContent",
            GeminiMethod::CountTokens => "countTokens",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "generateContent" => GeminiMethod::GenerateContent,
            "streamGenerateContent" => GeminiMethod::StreamGenerateContent,
            "countTokens" => GeminiMethod::CountTokens,
            _ => return None,
        })
    }
}

/// The bare model id: `models/gemini-2.5-pro` and `gemini-2.5-pro` both give `gemini-2.5-pro`.
pub fn model_id(name: &str) -> &str {
    name.strip_prefix("models/").unwrap_or(name)
}

/// Splits a request path such as `/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse`
/// (version segment and `models/` optional, query ignored) into the model id and method.
/// `None` when the path is not a Gemini model method Switchyard converts.
pub fn parse_model_path(path: &str) -> Option<(&str, GeminiMethod)> {
    let path = path.split_once('?').map_or(path, |(p, _)| p).trim_start_matches('/');
    let path = match path.split_once('/') {
        Some((ver, rest)) if ver.starts_with('v') && ver[1..].starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => path,
    };
    let (name, method) = path.rsplit_once(':')?;
    let id = model_id(name);
    if id.is_empty() || id.contains('/') {
        return None;
    }
    Some((id, GeminiMethod::parse(method)?))
}

/// The path (after the API version) of an upstream call: `models/{id}:{method}`, with
/// `?alt=sse` for streams because without it Gemini streams a JSON array instead of SSE.
pub fn upstream_path(model: &str, method: GeminiMethod) -> String {
    let id = model_id(model);
    match method {
        GeminiMethod::StreamGenerateContent => format!("models/{id}:streamGenerateContent?alt=sse"),
        m => format!("models/{id}:{}", m.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_prefix_is_optional() {
        assert_eq!(model_id("models/gemini-2.5-pro"), "gemini-2.5-pro");
        assert_eq!(model_id("gemini-2.5-pro"), "gemini-2.5-pro");
    }

    #[test]
    fn parses_versions_prefixes_and_queries() {
        assert_eq!(
            parse_model_path("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
            Some(("gemini-2.5-flash", GeminiMethod::StreamGenerateContent))
        );
        assert_eq!(
            parse_model_path("/v1/models/gemini-3-pro:generateContent"),
            Some(("gemini-3-pro", GeminiMethod::GenerateContent))
        );
        assert_eq!(parse_model_path("/v1beta/gemini-x:countTokens"), Some(("gemini-x", GeminiMethod::CountTokens)));
        assert_eq!(parse_model_path("models/m:generateContent?key=abc"), Some(("m", GeminiMethod::GenerateContent)));
        assert_eq!(parse_model_path("/v1beta/models/m:embedContent"), None);
        assert_eq!(parse_model_path("/v1beta/models/:generateContent"), None);
        assert_eq!(parse_model_path("/v1beta/models"), None);
        assert_eq!(parse_model_path("/v1beta/tunedModels/x/y:generateContent"), None);
    }

    #[test]
    fn upstream_paths() {
        assert_eq!(upstream_path("models/g", GeminiMethod::StreamGenerateContent), "models/g:streamGenerateContent?alt=sse");
        assert_eq!(upstream_path("g", GeminiMethod::GenerateContent), "models/g:generateContent");
        assert_eq!(upstream_path("g", GeminiMethod::CountTokens), "models/g:countTokens");
    }
}
