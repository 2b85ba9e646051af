//! Small wire helpers every converter needs: data URLs and tool-argument text.

use super::ImageSource;
use serde_json::{json, Value};

/// Splits `data:<media type>;base64,<payload>` into (media type, payload); `None` for anything
/// else (remote URLs, non-base64 data URLs).
pub fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (head, data) = rest.split_once(',')?;
    let media_type = head.strip_suffix(";base64")?;
    Some((media_type, data))
}

/// Builds a base64 data URL.
pub fn data_url(media_type: &str, data: &str) -> String {
    let mut s = String::with_capacity(media_type.len() + data.len() + 13);
    s.push_str("data:");
    s.push_str(media_type);
    s.push_str(";base64,");
    s.push_str(data);
    s
}

/// An OpenAI image URL (Chat `image_url.url`, Responses `image_url`) as an [`ImageSource`]: a
/// base64 data URL is inline data, any other URL stays remote. `None` for a `data:` URL that is
/// not base64, which the caller refuses naming its own field.
pub fn image_source_from_url(url: String) -> Option<ImageSource> {
    match parse_data_url(&url) {
        Some((media_type, data)) => Some(ImageSource::Base64 { media_type: media_type.into(), data: data.into() }),
        None if url.starts_with("data:") => None,
        None => Some(ImageSource::Url(url)),
    }
}

impl ImageSource {
    /// The image as the one URL OpenAI Chat and Responses carry: the remote URL, or a base64
    /// data URL of inline data.
    pub fn to_url(&self) -> String {
        match self {
            ImageSource::Url(u) => u.clone(),
            ImageSource::Base64 { media_type, data } => data_url(media_type, data),
        }
    }
}

/// Parses OpenAI-style JSON-string arguments. Invalid JSON (or a non-object) is kept as
/// `{"_raw_arguments": text}` rather than dropped (PROTOCOLS.md §3.4 rule a); empty text is `{}`.
pub fn parse_arguments(text: &str) -> Value {
    if text.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "_raw_arguments": text }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_round_trip() {
        assert_eq!(parse_data_url("data:image/png;base64,AAAA"), Some(("image/png", "AAAA")));
        assert_eq!(parse_data_url(&data_url("application/pdf", "JVBE")), Some(("application/pdf", "JVBE")));
        assert_eq!(parse_data_url("https://x/y.png"), None);
        assert_eq!(parse_data_url("data:text/plain,hello"), None);
    }

    #[test]
    fn image_urls_read_and_write_back() {
        let inline = image_source_from_url("data:image/png;base64,AAAA".into());
        assert_eq!(inline, Some(ImageSource::Base64 { media_type: "image/png".into(), data: "AAAA".into() }));
        assert_eq!(image_source_from_url("https://x/y.png".into()), Some(ImageSource::Url("https://x/y.png".into())));
        assert_eq!(image_source_from_url("data:image/png,raw".into()), None);
        assert_eq!(inline.map(|s| s.to_url()).as_deref(), Some("data:image/png;base64,AAAA"));
        assert_eq!(ImageSource::Url("https://x/y.png".into()).to_url(), "https://x/y.png");
    }

    #[test]
    fn arguments_keep_invalid_json() {
        assert_eq!(parse_arguments(r#"{"q":1}"#), json!({"q":1}));
        assert_eq!(parse_arguments(""), json!({}));
        assert_eq!(parse_arguments("{bad"), json!({"_raw_arguments":"{bad"}));
        assert_eq!(parse_arguments("[1]"), json!({"_raw_arguments":"[1]"}));
    }
}
