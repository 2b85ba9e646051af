//! OpenAI embeddings ⇄ Gemini `batchEmbedContents` (PROTOCOLS.md §1.3, fixture 25).
//!
//! The OpenAI SDK asks for `encoding_format: "base64"` unless told otherwise and decodes
//! float32 little-endian, so a Gemini `values` array must become exactly those bytes.

use super::error::{ApiError, ErrorClass};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use serde::Deserialize;
use serde_json::{json, Value};

/// What the answer needs from the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingsRequest {
    /// The texts, in order.
    pub inputs: Vec<String>,
    /// The client wants base64 float32-LE instead of float lists.
    pub base64: bool,
    /// `dimensions`, when asked.
    pub dimensions: Option<u32>,
}

#[derive(Deserialize)]
struct OpenAiEmbeddings {
    input: Value,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<u32>,
}

/// Reads an OpenAI embeddings request; token-array inputs cannot reach Gemini (400).
pub fn parse_openai(body: &[u8]) -> Result<EmbeddingsRequest, ApiError> {
    let req: OpenAiEmbeddings = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorClass::InvalidRequest, format!("invalid embeddings request: {e}")).with_param("input"))?;
    let inputs = match req.input {
        Value::String(s) => vec![s],
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(ApiError::new(
                    ErrorClass::InvalidRequest,
                    "token-array inputs cannot be sent to a Gemini model; send text",
                )
                .with_param("input")),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(
                ApiError::new(ErrorClass::InvalidRequest, "`input` must be a string or an array of strings").with_param("input")
            )
        }
    };
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::new(ErrorClass::InvalidRequest, format!("unknown encoding_format `{other}`"))
                .with_param("encoding_format"))
        }
    };
    Ok(EmbeddingsRequest { inputs, base64, dimensions: req.dimensions })
}

/// The Gemini `batchEmbedContents` body for `model`.
pub fn to_gemini_batch(req: &EmbeddingsRequest, model: &str) -> Vec<u8> {
    let name = if model.starts_with("models/") { model.to_owned() } else { format!("models/{model}") };
    let requests: Vec<Value> = req
        .inputs
        .iter()
        .map(|text| {
            let mut r = json!({ "model": name, "content": { "parts": [ { "text": text } ] } });
            if let Some(d) = req.dimensions {
                r["outputDimensionality"] = json!(d);
            }
            r
        })
        .collect();
    json!({ "requests": requests }).to_string().into_bytes()
}

#[derive(Deserialize)]
struct GeminiBatch {
    embeddings: Vec<GeminiEmbedding>,
}

#[derive(Deserialize)]
struct GeminiEmbedding {
    values: Vec<f32>,
}

/// The OpenAI answer for a Gemini batch answer; `prompt_tokens` is counted locally because
/// Gemini reports none for embeddings.
pub fn from_gemini_batch(
    body: &[u8],
    req: &EmbeddingsRequest,
    public_model: &str,
    prompt_tokens: u64,
) -> Result<Vec<u8>, ApiError> {
    let batch: GeminiBatch = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(ErrorClass::Server, format!("the upstream embeddings answer could not be read: {e}")).with_status(502)
    })?;
    let data: Vec<Value> = batch
        .embeddings
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let embedding = if req.base64 {
                let bytes: Vec<u8> = e.values.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(BASE64.encode(&bytes))
            } else {
                json!(e.values)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    Ok(json!({
        "object": "list",
        "data": data,
        "model": public_model,
        "usage": { "prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens },
    })
    .to_string()
    .into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_values_become_float32_le_base64_or_floats() {
        let req = parse_openai(br#"{"model":"m","input":["a","b"],"encoding_format":"base64"}"#).unwrap();
        assert_eq!(req.inputs, vec!["a", "b"]);
        let batch = serde_json::from_slice::<Value>(&to_gemini_batch(&req, "text-embedding-004")).unwrap();
        assert_eq!(batch["requests"][1]["model"], "models/text-embedding-004");
        assert_eq!(batch["requests"][1]["content"]["parts"][0]["text"], "b");

        let answer = br#"{"embeddings":[{"values":[1.0,-0.5]},{"values":[0.25,2.0]}]}"#;
        let out: Value = serde_json::from_slice(&from_gemini_batch(answer, &req, "pub", 2).unwrap()).unwrap();
        let expected: Vec<u8> = [1.0f32, -0.5].iter().flat_map(|f| f.to_le_bytes()).collect();
        assert_eq!(out["data"][0]["embedding"], BASE64.encode(&expected));
        assert_eq!(out["data"][1]["index"], 1);
        assert_eq!(out["model"], "pub");

        let floats = parse_openai(br#"{"model":"m","input":"a"}"#).unwrap();
        let out: Value = serde_json::from_slice(&from_gemini_batch(answer, &floats, "pub", 1).unwrap()).unwrap();
        assert_eq!(out["data"][1]["embedding"], json!([0.25, 2.0]));
    }

    #[test]
    fn token_inputs_and_unknown_formats_are_named() {
        assert_eq!(parse_openai(br#"{"input":[[1,2]]}"#).unwrap_err().param.as_deref(), Some("input"));
        assert_eq!(
            parse_openai(br#"{"input":"a","encoding_format":"int8"}"#).unwrap_err().param.as_deref(),
            Some("encoding_format")
        );
    }
}
