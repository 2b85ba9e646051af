//! OpenAI `POST …/embeddings` and the deterministic vector shared with Gemini's embed methods.
//!
//! A text's vector is 8 floats derived from its FNV-1a hash; each is a multiple of 1/128 in
//! [-1, 1), exactly representable in f32 and f64, so the float list, its JSON and the base64
//! float32 bytes all decode to the same numbers.

use serde_json::{json, Value};

use super::openai::ApiError;
use super::routes::{openai_unparsable, Incoming, Reply};
use super::text::words;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};

/// Dimensions of every mock embedding.
pub(crate) const DIMENSIONS: usize = 8;

/// The deterministic embedding of a text.
pub(crate) fn vector(text: &str) -> [f32; DIMENSIONS] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = [0f32; DIMENSIONS];
    for (k, v) in out.iter_mut().enumerate() {
        let byte = (hash >> (8 * k)) & 0xff;
        *v = byte as f32 / 128.0 - 1.0;
    }
    out
}

/// The float32 little-endian bytes of a vector, base64-encoded (`encoding_format: "base64"`).
pub(crate) fn to_base64(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
    BASE64.encode(&bytes)
}

/// One input as (text embedded, tokens): a string, or a token array embedded as its numbers.
fn input_item(v: &Value) -> Option<(String, u64)> {
    match v {
        Value::String(s) => Some((s.clone(), words(s))),
        Value::Array(tokens) if tokens.iter().all(Value::is_u64) => {
            let text = tokens.iter().map(Value::to_string).collect::<Vec<_>>().join(" ");
            Some((text, tokens.len() as u64))
        }
        _ => None,
    }
}

/// The inputs of `input`: a string, a token array, or an array of either.
fn inputs(input: &Value) -> Option<Vec<(String, u64)>> {
    match input {
        Value::Array(items) if !items.is_empty() && !items.iter().all(Value::is_u64) => items.iter().map(input_item).collect(),
        other => input_item(other).map(|i| vec![i]),
    }
}

/// Answers `…/embeddings`.
pub(crate) fn handle(inc: &Incoming<'_>) -> Reply {
    let Some(body) = inc.body() else {
        return openai_unparsable().into();
    };
    let Some(input) = body.get("input").filter(|v| !v.is_null()) else {
        return ApiError::invalid_request(
            "Missing required parameter: 'input'.",
            Some("input"),
            Some("missing_required_parameter"),
        )
        .into();
    };
    let Some(items) = inputs(input) else {
        return ApiError::invalid_request("'$.input' is invalid.", Some("input"), None).into();
    };
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(index, (text, _))| {
            let v = vector(text);
            let embedding = if base64 { json!(to_base64(&v)) } else { json!(v) };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = items.iter().map(|(_, t)| t).sum();
    let model = body.get("model").and_then(Value::as_str).unwrap_or("mock-embedding");
    Reply::json(
        200,
        &json!({"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_is_deterministic_and_exact() {
        let a = vector("hello");
        assert_eq!(a, vector("hello"));
        assert_ne!(a, vector("hello!"));
        assert!(a.iter().all(|f| (-1.0..1.0).contains(f) && (f * 128.0).fract() == 0.0));
        // JSON floats round-trip exactly.
        let back: Vec<f32> = serde_json::from_value(json!(a)).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn base64_is_float32_le() {
        assert_eq!(to_base64(&[1.0, -2.0]), "AACAPwAAAMA=");
    }

    #[test]
    fn input_forms() {
        assert_eq!(inputs(&json!("a b")).unwrap(), [("a b".to_owned(), 2)]);
        assert_eq!(inputs(&json!(["a", "b c"])).unwrap().len(), 2);
        assert_eq!(inputs(&json!([1, 2, 3])).unwrap(), [("1 2 3".to_owned(), 3)]);
        assert_eq!(inputs(&json!([[1], [2, 3]])).unwrap()[1].1, 2);
        assert!(inputs(&json!([{"x": 1}])).is_none());
        assert!(inputs(&json!(5)).is_none());
    }
}
