//! Inlining media a client sent by URL, for upstreams that only take inline data (Gemini).
//!
//! One request may make the gateway fetch at most `media_max_urls` distinct URLs (identical
//! URLs are fetched once), at most `media_max_concurrent_fetches` at a time, at most
//! `media_max_total_bytes` together, and all within `media_total_timeout`. Each file is
//! base64-encoded as soon as it arrives and its raw bytes dropped, so raw bytes, their base64
//! copy and the request clone are never all held for every file at once.

use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{DocumentSource, ImageSource, Part, Request};
use crate::upstream::media::{self, ByteBudget, FetchPolicy, MediaKind};
use crate::upstream::pool::Upstreams;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use futures_util::stream::{self, StreamExt, TryStreamExt};

/// True when the request holds an image or document given by a remote URL.
pub fn has_remote_media(req: &Request) -> bool {
    let mut found = false;
    visit(req, &mut |part| found |= remote_url(part).is_some());
    found
}

/// A fetched file, already in the form the request carries.
struct Inline {
    url: String,
    media_type: String,
    base64: String,
}

/// Fetches every remote image/document of `req` and puts its bytes inline (base64), so the
/// request can go to a provider that cannot fetch URLs. A fetch that fails is a 400 naming the
/// URL, never a silently dropped image; why it failed is only logged.
pub async fn inline_remote_media(req: &mut Request, upstreams: &Upstreams, policy: FetchPolicy) -> Result<(), ApiError> {
    let mut urls: Vec<(String, MediaKind)> = Vec::new();
    visit(req, &mut |part| {
        if let Some((url, kind)) = remote_url(part) {
            if !urls.iter().any(|(u, _)| u == url) {
                urls.push((url.to_owned(), kind));
            }
        }
    });
    if urls.len() > policy.max_urls {
        return Err(ApiError::new(
            ErrorClass::InvalidRequest,
            format!("at most {} distinct media URLs per request can be fetched; this one has {}", policy.max_urls, urls.len()),
        )
        .with_code("too_many_media_urls"));
    }
    let budget = ByteBudget::new(policy.max_total_bytes);
    let fetches = stream::iter(urls)
        .map(|(url, kind)| fetch_one(upstreams, url, kind, &policy, &budget))
        .buffer_unordered(policy.concurrency)
        .try_collect::<Vec<Inline>>();
    let fetched = match tokio::time::timeout(policy.total_timeout, fetches).await {
        Ok(result) => result?,
        Err(_) => {
            tracing::warn!(timeout = ?policy.total_timeout, "media fetching of one request took too long");
            return Err(unusable(None));
        }
    };
    for turn in &mut req.turns {
        for part in &mut turn.parts {
            replace(part, &fetched);
        }
    }
    Ok(())
}

async fn fetch_one(
    upstreams: &Upstreams,
    url: String,
    kind: MediaKind,
    policy: &FetchPolicy,
    budget: &ByteBudget,
) -> Result<Inline, ApiError> {
    match media::fetch(&upstreams.connector, &upstreams.dns, &url, kind, policy, budget).await {
        Ok(m) => {
            let base64 = BASE64.encode(&m.data);
            Ok(Inline { url, media_type: m.media_type, base64 })
        }
        Err(e) => {
            tracing::warn!(url = %shorten(&url), error = %e, "media URL refused or not fetched");
            Err(unusable(Some(&url)))
        }
    }
}

/// The one answer for every fetch failure: refused, missing, redirected, too big and too slow
/// look the same, so the gateway cannot be used to probe hosts.
fn unusable(url: Option<&str>) -> ApiError {
    let message = match url {
        Some(url) => format!("the media URL `{}` {}", shorten(url), media::CLIENT_MESSAGE),
        None => format!("the media URLs {}", media::CLIENT_MESSAGE),
    };
    ApiError::new(ErrorClass::InvalidRequest, message).with_code("media_fetch_failed")
}

/// A URL cut for messages and logs (a client may send a very long one).
fn shorten(url: &str) -> &str {
    match url.char_indices().nth(200) {
        Some((i, _)) => &url[..i],
        None => url,
    }
}

fn replace(part: &mut Part, fetched: &[Inline]) {
    let find = |url: &str| fetched.iter().find(|f| f.url == url);
    match part {
        Part::Image { source } => {
            if let ImageSource::Url(url) = source {
                if let Some(m) = find(url) {
                    *source = ImageSource::Base64 { media_type: m.media_type.clone(), data: m.base64.clone() };
                }
            }
        }
        Part::Document { source, .. } => {
            if let DocumentSource::Url(url) = source {
                if let Some(m) = find(url) {
                    *source = DocumentSource::Base64 { media_type: m.media_type.clone(), data: m.base64.clone() };
                }
            }
        }
        Part::ToolResult { content, .. } => content.iter_mut().for_each(|p| replace(p, fetched)),
        _ => {}
    }
}

fn remote_url(part: &Part) -> Option<(&str, MediaKind)> {
    match part {
        Part::Image { source: ImageSource::Url(u) } if !u.starts_with("data:") => Some((u, MediaKind::Image)),
        Part::Document { source: DocumentSource::Url(u), .. } if !u.starts_with("data:") => Some((u, MediaKind::Document)),
        _ => None,
    }
}

fn visit<'a>(req: &'a Request, f: &mut impl FnMut(&'a Part)) {
    fn walk<'a>(part: &'a Part, f: &mut impl FnMut(&'a Part)) {
        f(part);
        if let Part::ToolResult { content, .. } = part {
            content.iter().for_each(|p| walk(p, f));
        }
    }
    req.turns.iter().flat_map(|t| &t.parts).for_each(|p| walk(p, f));
}
