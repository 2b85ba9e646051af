//! OpenAI `POST …/images/generations`: `n` tiny deterministic images as `b64_json`, with the
//! token usage gpt-image models report.

use serde_json::{json, Value};

use super::openai::ApiError;
use super::routes::{openai_unparsable, Incoming, Reply};
use super::text::words;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};

/// Output tokens reported per generated image.
pub(crate) const IMAGE_TOKENS: u64 = 16;

/// A 1×1 PNG (deterministic, valid): every mock image.
const PNG_1X1: [u8; 67] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

/// The `b64_json` of every mock image.
pub(crate) fn image_b64() -> String {
    BASE64.encode(PNG_1X1)
}

/// Answers `…/images/generations`.
pub(crate) fn handle(inc: &Incoming<'_>) -> Reply {
    let Some(body) = inc.body() else {
        return openai_unparsable().into();
    };
    let Some(prompt) = body.get("prompt").and_then(Value::as_str) else {
        return ApiError::invalid_request(
            "Missing required parameter: 'prompt'.",
            Some("prompt"),
            Some("missing_required_parameter"),
        )
        .into();
    };
    let n = body.get("n").and_then(Value::as_u64).unwrap_or(1).clamp(1, 10);
    let image = image_b64();
    let data: Vec<Value> = (0..n).map(|_| json!({ "b64_json": image })).collect();
    let input = words(prompt);
    let output = IMAGE_TOKENS * n;
    Reply::json(
        200,
        &json!({"created": super::now(), "data": data,
                "usage": {"input_tokens": input, "output_tokens": output,
                          "total_tokens": input + output,
                          "input_tokens_details": {"text_tokens": input, "image_tokens": 0}}}),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_is_a_png() {
        assert!(super::image_b64().starts_with("iVBORw0KGgo"));
    }
}
