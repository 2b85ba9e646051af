//! The channel API: every configured channel with its passive health, and the operator's way to
//! put a disabled or ejected channel back in rotation.
//!
//! - `GET /admin/v1/channels`: `{"channels":[{channel, model, provider, priority, weight, state,
//!   reason, cooldown_left_ms, consecutive_failures, window_requests, window_failures,
//!   error_ratio}]}`, in config order.
//! - `POST /admin/v1/channels/{channel}/enable`: the channel label as listed, with `#` written
//!   `%23` (a raw `#` starts a URL fragment and never reaches the server); answers the channel's
//!   new entry.

use super::accounts::Reply;
use crate::gateway::snapshot::Snapshot;
use crate::routing::catalog::Channel;
use crate::routing::health::HealthBook;
use arc_swap::ArcSwap;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// Reads the current snapshot's channels and the gateway's health book.
pub struct ChannelsApi {
    snapshot: Arc<ArcSwap<Snapshot>>,
    health: Arc<HealthBook>,
}

impl ChannelsApi {
    /// The API over the gateway's live snapshot and health book.
    pub fn new(snapshot: Arc<ArcSwap<Snapshot>>, health: Arc<HealthBook>) -> Self {
        ChannelsApi { snapshot, health }
    }

    /// Answers `rest` (the path after `/admin/v1/`) when it is a channel route; `None`
    /// otherwise.
    pub fn handle(&self, method: &str, rest: &str, now: Instant) -> Option<Reply> {
        let rest = rest.trim_end_matches('/');
        if rest == "channels" {
            return Some(match method {
                "GET" | "HEAD" => self.list(now),
                _ => error(405, "invalid_request_error", "method_not_allowed", "method not allowed"),
            });
        }
        let label = rest.strip_prefix("channels/")?.strip_suffix("/enable")?;
        let label = percent_decode(label);
        Some(match method {
            "POST" => self.enable(&label, now),
            _ => error(405, "invalid_request_error", "method_not_allowed", "method not allowed"),
        })
    }

    fn list(&self, now: Instant) -> Reply {
        let snapshot = self.snapshot.load();
        let channels: Vec<Value> = snapshot
            .catalog
            .models()
            .iter()
            .flat_map(|route| route.channels.iter().map(|c| self.entry(&snapshot, &route.id, c, now)))
            .collect();
        Reply { status: 200, body: json!({ "channels": channels }).to_string().into_bytes(), content_type: "application/json" }
    }

    fn enable(&self, label: &str, now: Instant) -> Reply {
        let snapshot = self.snapshot.load();
        let found = snapshot
            .catalog
            .models()
            .iter()
            .find_map(|route| route.channels.iter().find(|c| c.label == label).map(|c| (route.id.clone(), c)));
        let Some((model, channel)) = found else {
            return error(404, "not_found_error", "not_found", "channel not found");
        };
        self.health.enable(label);
        tracing::info!(channel = label, "channel enabled by the operator");
        Reply {
            status: 200,
            body: self.entry(&snapshot, &model, channel, now).to_string().into_bytes(),
            content_type: "application/json",
        }
    }

    fn entry(&self, snapshot: &Snapshot, model: &str, c: &Channel, now: Instant) -> Value {
        let fingerprint = snapshot.providers.get(c.provider).map_or(0, |p| p.key_fingerprint);
        let s = self.health.status(&c.label, fingerprint, now, &snapshot.config.routing);
        let (failed, total) = s.window;
        let ratio = if total == 0 { 0.0 } else { f64::from(failed) / f64::from(total) };
        json!({
            "channel": c.label,
            "model": model,
            "provider": c.provider_name,
            "upstream_model": c.upstream_model,
            "priority": c.priority,
            "weight": c.weight,
            "state": s.state,
            "reason": s.reason.map(|r| r.as_str()),
            "cooldown_left_ms": u64::try_from(s.cooldown_left.as_millis()).unwrap_or(u64::MAX),
            "consecutive_failures": s.consecutive_failures,
            "window_requests": total,
            "window_failures": failed,
            "error_ratio": (ratio * 1000.0).round() / 1000.0,
        })
    }
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> Reply {
    Reply {
        status,
        body: json!({"error": {"type": kind, "code": code, "message": message}}).to_string().into_bytes(),
        content_type: "application/json",
    }
}

/// Decodes `%XX` escapes of one path segment (labels hold `/` and `#`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::health::Verdict;

    fn api() -> ChannelsApi {
        let yaml = r#"
listen: 127.0.0.1:8080
providers:
  - { name: a, protocol: openai, base_url: "http://127.0.0.1:1/v1", api_key: k }
  - { name: b, protocol: openai, base_url: "http://127.0.0.1:2/v1", api_key: k }
models:
  - { id: m, channels: [ { provider: a, model: up }, { provider: b, model: up, priority: 1 } ] }
"#;
        let config = crate::config::parse(yaml, &|_| None).unwrap();
        let snapshot = Snapshot::build(config, crate::store::Store::memory(), None).unwrap();
        ChannelsApi::new(Arc::new(ArcSwap::from_pointee(snapshot)), Arc::new(HealthBook::new()))
    }

    fn json_of(reply: &Reply) -> Value {
        serde_json::from_slice(&reply.body).unwrap()
    }

    #[test]
    fn lists_every_channel_and_enables_a_disabled_one() {
        let api = api();
        let now = Instant::now();
        let fingerprint = api.snapshot.load().providers[0].key_fingerprint;
        let ticket = api.health.begin("a/up#0", fingerprint, now, false).unwrap();
        ticket.finish(Verdict::CredentialsRefused, now, &Default::default());
        let listed = json_of(&api.handle("GET", "channels", now).unwrap());
        let channels = listed["channels"].as_array().unwrap();
        assert_eq!(channels.len(), 2);
        assert_eq!(channels[0]["channel"], "a/up#0");
        assert_eq!(channels[0]["state"], "disabled");
        assert_eq!(channels[0]["reason"], "credentials_refused");
        assert_eq!(channels[1]["state"], "healthy");
        let enabled = api.handle("POST", "channels/a%2Fup%230/enable", now).unwrap();
        assert_eq!((enabled.status, json_of(&enabled)["state"].clone()), (200, json!("healthy")));
        let also = api.handle("POST", "channels/a/up%230/enable", now).unwrap();
        assert_eq!(also.status, 200, "a raw slash in the label works too");
        assert_eq!(api.handle("POST", "channels/nope%230/enable", now).unwrap().status, 404);
        assert_eq!(api.handle("DELETE", "channels", now).unwrap().status, 405);
        assert!(api.handle("GET", "accounts", now).is_none());
    }
}
