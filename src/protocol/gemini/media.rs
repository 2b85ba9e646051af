//! Gemini `inlineData` / `fileData` ⇄ hub media parts (PROTOCOLS.md §3.2).
//!
//! The converter cannot fetch: a remote URL bound for Gemini is a 400 naming the field, never a
//! silent drop (trap #27); the gateway inlines fetched media before converting when it can.

use super::types::{Blob, FileData, Part as GPart};
use crate::protocol::error::ApiError;
use crate::protocol::ir::{DocumentSource, ImageSource, Part, Protocol};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// Gemini inline bytes → hub part: images stay images, `audio/*` becomes audio, plain text is
/// decoded into a text document (Anthropic takes those as `{type:"text"}` sources), anything
/// else (PDF, video) is a base64 document.
pub fn blob_to_ir(blob: &Blob) -> Part {
    let mime = blob.mime_type.to_ascii_lowercase();
    if mime.starts_with("image/") {
        return Part::Image { source: ImageSource::Base64 { media_type: blob.mime_type.clone(), data: blob.data.clone() } };
    }
    if let Some(sub) = mime.strip_prefix("audio/") {
        let format = match sub {
            "mpeg" | "mp3" => "mp3",
            "wav" | "x-wav" | "wave" => "wav",
            other => other,
        };
        return Part::Audio { format: format.to_owned(), data: blob.data.clone() };
    }
    if mime == "text/plain" {
        if let Some(text) = decode_lenient(&blob.data).and_then(|b| String::from_utf8(b).ok()) {
            return Part::Document { source: DocumentSource::Text(text), title: None };
        }
    }
    Part::Document { source: DocumentSource::Base64 { media_type: blob.mime_type.clone(), data: blob.data.clone() }, title: None }
}

/// Gemini file reference → hub part. Files API names/URLs are Gemini file ids (they never cross
/// providers); other `http(s)` URLs are remote images or documents by media type.
pub fn file_to_ir(file: &FileData) -> Part {
    let uri = &file.file_uri;
    let mime = file.mime_type.as_deref().unwrap_or("").to_ascii_lowercase();
    let remote =
        (uri.starts_with("https://") || uri.starts_with("http://")) && !uri.contains("generativelanguage.googleapis.com/");
    match (remote, mime.as_str()) {
        (true, m) if m.starts_with("image/") => Part::Image { source: ImageSource::Url(uri.clone()) },
        (true, "application/pdf" | "text/plain") => Part::Document { source: DocumentSource::Url(uri.clone()), title: None },
        _ => Part::FileRef { issuer: Protocol::Gemini, file_id: uri.clone() },
    }
}

/// Hub media part → Gemini part; `field` names the part in the 400 when it cannot go.
/// `None` for parts that are not media.
pub fn media_to_gemini(part: &Part, field: &str) -> Option<Result<GPart, ApiError>> {
    let inline = |mime: &str, data: &str| GPart {
        inline_data: Some(Blob { mime_type: mime.into(), data: data.into() }),
        ..Default::default()
    };
    Some(Ok(match part {
        Part::Image { source: ImageSource::Base64 { media_type, data } } => inline(media_type, data),
        Part::Image { source: ImageSource::Url(url) } => return Some(Err(remote_url(field, url, "image"))),
        Part::Document { source: DocumentSource::Base64 { media_type, data }, .. } => inline(media_type, data),
        Part::Document { source: DocumentSource::Text(text), .. } => inline("text/plain", &STANDARD.encode(text.as_bytes())),
        Part::Document { source: DocumentSource::Url(url), .. } => return Some(Err(remote_url(field, url, "document"))),
        Part::Audio { format, data } => {
            let mime = if format.contains('/') { format.clone() } else { format!("audio/{format}") };
            inline(&mime, data)
        }
        Part::FileRef { issuer: Protocol::Gemini, file_id } => {
            GPart { file_data: Some(FileData { mime_type: None, file_uri: file_id.clone() }), ..Default::default() }
        }
        Part::FileRef { issuer, file_id } => {
            return Some(Err(ApiError::invalid_field(
                field,
                format!("file id `{file_id}` was issued by another provider ({issuer:?}) and cannot be used with Gemini"),
            )))
        }
        _ => return None,
    }))
}

/// Proto-JSON parsers (and so Gemini's clients) accept either alphabet, padded or not, and do
/// not insist on zero trailing bits; the strict default engines would refuse such input.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes standard or URL-safe base64, padded or not; `None` when it is neither.
fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    STANDARD_LENIENT.decode(text).or_else(|_| URL_SAFE_LENIENT.decode(text)).ok()
}

fn remote_url(field: &str, url: &str, what: &str) -> ApiError {
    let shown: String = url.chars().take(120).collect();
    ApiError::invalid_field(
        field,
        format!("the {what} URL `{shown}` cannot be passed to a Gemini model; send the {what} inline as a base64 data URL"),
    )
    .with_code("remote_media_unsupported")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(mime: &str, data: &str) -> Blob {
        Blob { mime_type: mime.into(), data: data.into() }
    }

    #[test]
    fn lenient_decoding_takes_both_alphabets_with_or_without_padding() {
        assert_eq!(decode_lenient("Zm9vYg==").as_deref(), Some(&b"foob"[..]));
        assert_eq!(decode_lenient("Zm9vYg").as_deref(), Some(&b"foob"[..]));
        assert_eq!(decode_lenient("+/8=").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode_lenient("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode_lenient("Zh").as_deref(), Some(&b"f"[..]), "non-zero trailing bits are tolerated");
        assert_eq!(decode_lenient("Z"), None);
        assert_eq!(decode_lenient("Zm!v"), None);
    }

    #[test]
    fn inline_kinds() {
        assert_eq!(
            blob_to_ir(&blob("image/png", "iVBO")),
            Part::Image { source: ImageSource::Base64 { media_type: "image/png".into(), data: "iVBO".into() } }
        );
        assert_eq!(blob_to_ir(&blob("audio/mpeg", "SUQz")), Part::Audio { format: "mp3".into(), data: "SUQz".into() });
        assert_eq!(
            blob_to_ir(&blob("text/plain", "aGk=")),
            Part::Document { source: DocumentSource::Text("hi".into()), title: None }
        );
        assert!(matches!(
            blob_to_ir(&blob("application/pdf", "JVBE")),
            Part::Document { source: DocumentSource::Base64 { .. }, .. }
        ));
        assert!(matches!(blob_to_ir(&blob("text/plain", "%%%")), Part::Document { source: DocumentSource::Base64 { .. }, .. }));
    }

    #[test]
    fn files_and_urls() {
        let f = |uri: &str, mime: Option<&str>| FileData { file_uri: uri.into(), mime_type: mime.map(Into::into) };
        assert_eq!(
            file_to_ir(&f("files/abc", Some("application/pdf"))),
            Part::FileRef { issuer: Protocol::Gemini, file_id: "files/abc".into() }
        );
        assert_eq!(
            file_to_ir(&f("https://generativelanguage.googleapis.com/v1beta/files/abc", Some("image/png"))),
            Part::FileRef {
                issuer: Protocol::Gemini,
                file_id: "https://generativelanguage.googleapis.com/v1beta/files/abc".into()
            }
        );
        assert_eq!(
            file_to_ir(&f("https://x/y.png", Some("image/png"))),
            Part::Image { source: ImageSource::Url("https://x/y.png".into()) }
        );
        assert_eq!(
            file_to_ir(&f("https://x/y.pdf", Some("application/pdf"))),
            Part::Document { source: DocumentSource::Url("https://x/y.pdf".into()), title: None }
        );
    }

    #[test]
    fn remote_urls_are_a_400_naming_the_field() {
        let p = Part::Image { source: ImageSource::Url("https://example.com/cat.png".into()) };
        let e = match media_to_gemini(&p, "messages[1].content[0]") {
            Some(Err(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        };
        assert_eq!((e.status, e.param.as_deref()), (400, Some("messages[1].content[0]")));
        assert!(e.message.contains("https://example.com/cat.png"));
    }

    #[test]
    fn media_out() {
        let text = Part::Document { source: DocumentSource::Text("hi".into()), title: None };
        let got = media_to_gemini(&text, "f").and_then(Result::ok).and_then(|p| p.inline_data);
        assert_eq!(got, Some(blob("text/plain", "aGk=")));
        let audio = Part::Audio { format: "wav".into(), data: "UklG".into() };
        assert_eq!(
            media_to_gemini(&audio, "f").and_then(Result::ok).and_then(|p| p.inline_data),
            Some(blob("audio/wav", "UklG"))
        );
        let foreign = Part::FileRef { issuer: Protocol::OpenAiChat, file_id: "file-1".into() };
        assert!(matches!(media_to_gemini(&foreign, "f"), Some(Err(e)) if e.status == 400));
        assert!(media_to_gemini(&Part::text("x"), "f").is_none());
    }
}
