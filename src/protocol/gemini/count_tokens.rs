//! `models/{id}:countTokens` ⇄ hub request / token totals.
//!
//! A Gemini client counting tokens against another provider's model needs its request in hub
//! form (the gateway counts or asks that provider); another client counting against Gemini
//! needs the full `generateContentRequest` form, the only one that includes tools and system.

use super::request_in::gemini_to_ir;
use super::request_out::ir_to_gemini;
use super::response_types::{CountTokensRequest, CountTokensResponse};
use super::types::GenerateContentRequest;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{self, Converted};

/// `countTokens` body → hub request (either form; `generateContentRequest` wins).
pub fn count_tokens_request_to_ir(body: &[u8], model: &str) -> Result<ir::Request, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let req: CountTokensRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(ErrorClass::InvalidRequest, format!("invalid request body at `{path}`: {}", e.inner())).with_param(path)
    })?;
    let inner = match (req.generate_content_request, req.contents) {
        (Some(g), _) => g,
        (None, Some(contents)) => GenerateContentRequest { contents, ..Default::default() },
        (None, None) => {
            return Err(ApiError::invalid_field("contents", "countTokens needs `contents` or `generateContentRequest`"))
        }
    };
    gemini_to_ir(inner, model, false)
}

/// Hub request → `countTokens` body in the `generateContentRequest` form.
pub fn ir_to_count_tokens_request(req: &ir::Request) -> Result<Converted<Vec<u8>>, ApiError> {
    let Converted { value: mut inner, warnings } = ir_to_gemini(req)?;
    inner.model = Some(format!("models/{}", super::path::model_id(&req.model)));
    let body = CountTokensRequest { contents: None, generate_content_request: Some(inner) };
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| ApiError::new(ErrorClass::Server, format!("could not serialise countTokens request: {e}")))?;
    Ok(Converted { value: bytes, warnings })
}

/// The `countTokens` answer for a Gemini client.
pub fn count_tokens_response(total_tokens: u64, cached_tokens: Option<u64>) -> Vec<u8> {
    let resp = CountTokensResponse {
        total_tokens: Some(total_tokens),
        cached_content_token_count: cached_tokens.filter(|n| *n > 0),
        extra: Default::default(),
    };
    serde_json::to_vec(&resp).unwrap_or_else(|_| format!("{{\"totalTokens\":{total_tokens}}}").into_bytes())
}

/// Reads an upstream `countTokens` answer (502 when it is not one).
pub fn parse_count_tokens_response(body: &[u8]) -> Result<CountTokensResponse, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(ErrorClass::Server, format!("upstream sent a malformed countTokens response: {e}")).with_status(502)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn both_request_forms() {
        let r = count_tokens_request_to_ir(br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#, "models/g").unwrap();
        assert_eq!((r.model.as_str(), r.turns.len()), ("g", 1));
        let r = count_tokens_request_to_ir(
            br#"{"generateContentRequest":{"model":"models/g","contents":[{"parts":[{"text":"hi"}]}],"systemInstruction":{"parts":[{"text":"s"}]}}}"#,
            "g",
        )
        .unwrap();
        assert_eq!(r.system.len(), 1);
        assert_eq!(count_tokens_request_to_ir(b"{}", "g").unwrap_err().param.as_deref(), Some("contents"));
    }

    #[test]
    fn to_gemini_form_and_answers() {
        let r = count_tokens_request_to_ir(br#"{"contents":[{"parts":[{"text":"hi"}]}]}"#, "g").unwrap();
        let v: Value = serde_json::from_slice(&ir_to_count_tokens_request(&r).unwrap().value).unwrap();
        assert_eq!(
            v,
            json!({"generateContentRequest":{"model":"models/g","contents":[{"role":"user","parts":[{"text":"hi"}]}]}})
        );
        let v: Value = serde_json::from_slice(&count_tokens_response(12, Some(0))).unwrap();
        assert_eq!(v, json!({"totalTokens":12}));
        assert_eq!(
            parse_count_tokens_response(br#"{"totalTokens":5,"cachedContentTokenCount":2}"#).unwrap().total_tokens,
            Some(5)
        );
        assert_eq!(parse_count_tokens_response(b"x").unwrap_err().status, 502);
    }
}
