//! Recognising what a request is for from its method and path alone.

use crate::protocol::error::{ApiError, ErrorClass};

/// The routes the public listener answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `GET /v1/models`.
    Models,
    /// `GET /v1/models/{id}`.
    Model,
    /// `GET /healthz`.
    Health,
}

impl Endpoint {
    /// A stable name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Models => "models",
            Endpoint::Model => "model",
            Endpoint::Health => "health",
        }
    }
}

/// The endpoint at `path` and the one method it accepts, if the path is known.
pub fn route(path: &str) -> Option<(Endpoint, &'static str)> {
    let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    match path {
        "/v1/chat/completions" | "/chat/completions" => Some((Endpoint::ChatCompletions, "POST")),
        "/v1/models" | "/models" => Some((Endpoint::Models, "GET")),
        "/healthz" => Some((Endpoint::Health, "GET")),
        p if p.starts_with("/v1/models/") && p.len() > "/v1/models/".len() => Some((Endpoint::Model, "GET")),
        _ => None,
    }
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
        assert_eq!(recognise("GET", "/v1/models/"), Ok(Endpoint::Models));
        assert_eq!(recognise("GET", "/v1/models/gpt-4o"), Ok(Endpoint::Model));
        assert_eq!(recognise("GET", "/v1/chat/completions").unwrap_err().status, 405);
        assert_eq!(recognise("POST", "/v2/nothing").unwrap_err().status, 404);
    }
}
