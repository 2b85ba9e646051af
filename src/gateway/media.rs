//! Inlining media a client sent by URL, for upstreams that only take inline data (Gemini).

use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{DocumentSource, ImageSource, Part, Request};
use crate::upstream::media::{self, FetchPolicy};
use crate::upstream::pool::Upstreams;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};

/// True when the request holds an image or document given by a remote URL.
pub fn has_remote_media(req: &Request) -> bool {
    let mut found = false;
    visit(req, &mut |part| found |= remote_url(part).is_some());
    found
}

/// Fetches every remote image/document of `req` and puts its bytes inline (base64), so the
/// request can go to a provider that cannot fetch URLs. A fetch that fails is a 400 naming the
/// URL, never a silently dropped image.
pub async fn inline_remote_media(req: &mut Request, upstreams: &Upstreams, policy: FetchPolicy) -> Result<(), ApiError> {
    let mut urls = Vec::new();
    visit(req, &mut |part| urls.extend(remote_url(part).map(str::to_owned)));
    let mut fetched = Vec::with_capacity(urls.len());
    for url in urls {
        let got = media::fetch(&upstreams.connector, &upstreams.dns, &url, policy)
            .await
            .map_err(|e| ApiError::new(ErrorClass::InvalidRequest, e.to_string()).with_code("media_fetch_failed"))?;
        fetched.push((url, got));
    }
    let mut turns = std::mem::take(&mut req.turns);
    for turn in &mut turns {
        for part in &mut turn.parts {
            replace(part, &fetched);
        }
    }
    req.turns = turns;
    Ok(())
}

fn replace(part: &mut Part, fetched: &[(String, media::Media)]) {
    let find = |url: &str| fetched.iter().find(|(u, _)| u == url).map(|(_, m)| m);
    match part {
        Part::Image { source } => {
            if let ImageSource::Url(url) = source {
                if let Some(m) = find(url) {
                    *source = ImageSource::Base64 { media_type: m.media_type.clone(), data: BASE64.encode(&m.data) };
                }
            }
        }
        Part::Document { source, .. } => {
            if let DocumentSource::Url(url) = source {
                if let Some(m) = find(url) {
                    *source = DocumentSource::Base64 { media_type: m.media_type.clone(), data: BASE64.encode(&m.data) };
                }
            }
        }
        Part::ToolResult { content, .. } => content.iter_mut().for_each(|p| replace(p, fetched)),
        _ => {}
    }
}

fn remote_url(part: &Part) -> Option<&str> {
    match part {
        Part::Image { source: ImageSource::Url(u) } | Part::Document { source: DocumentSource::Url(u), .. }
            if !u.starts_with("data:") =>
        {
            Some(u)
        }
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
