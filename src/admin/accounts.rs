//! The account APIs as plain functions of (method, path, headers, body) → (status, JSON), over
//! the store traits, so they are tested without a listener and routed by whoever serves them:
//! the admin API (`/admin/v1/…`, behind `admin.token`) and the client's own key API
//! (`/v1/account/keys`, `/api/v1/keys`, for the authenticated key's account).

use crate::account::secret::{digest_hex, display_prefix, new_id, new_key};
use crate::account::Principal;
use crate::config::{RateLimits, Secret};
use crate::store::{Account, AccountPatch, AccountStatus, KeyRecord, Store, StoreError};
use http::{HeaderMap, Method};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

/// An answer: status and JSON body (empty for 204).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Self {
        Reply { status, body: value.to_string().into_bytes() }
    }

    fn error(status: u16, kind: &str, code: &str, message: &str) -> Self {
        Self::json(status, &json!({"error": {"type": kind, "code": code, "message": message}}))
    }

    fn not_found(what: &str) -> Self {
        Self::error(404, "not_found_error", "not_found", &format!("{what} not found"))
    }

    fn bad_request(message: &str) -> Self {
        Self::error(400, "invalid_request_error", "invalid_request", message)
    }

    fn store(err: &StoreError) -> Self {
        match err {
            StoreError::Conflict => Self::error(409, "conflict_error", "conflict", "already exists"),
            _ => {
                tracing::warn!(error = %err, "account API store call failed");
                Self::error(503, "api_error", "store_unavailable", "the store cannot be reached; retry shortly")
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    name: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    limits: RateLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    #[serde(default)]
    models: Option<Vec<String>>,
    #[serde(default)]
    limits: RateLimits,
    /// RFC 3339 time.
    #[serde(default)]
    expires_at: Option<String>,
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| Reply::bad_request(&format!("invalid JSON body: {e}")))
}

fn check_limits(limits: &RateLimits) -> Result<(), Reply> {
    if [limits.rpm, limits.rpd, limits.tpm].contains(&Some(0)) {
        return Err(Reply::bad_request("limits must be at least 1 (omit a limit for none)"));
    }
    Ok(())
}

fn time_text(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

fn account_json(a: &Account) -> Value {
    json!({
        "id": a.id, "name": a.name, "group": a.group, "limits": a.limits,
        "status": a.status, "created_at": time_text(a.created_at_ms),
    })
}

/// A key as listed: never the secret, never the digest.
fn key_json(k: &KeyRecord) -> Value {
    json!({
        "id": k.id, "account_id": k.account_id, "name": k.name, "prefix": k.prefix, "models": k.models,
        "limits": k.limits, "expires_at": k.expires_at_ms.map(time_text),
        "revoked_at": k.revoked_at_ms.map(time_text), "created_at": time_text(k.created_at_ms),
    })
}

/// The admin API over a store.
pub struct AdminApi {
    store: Store,
    token: Option<Secret>,
}

impl AdminApi {
    /// Serves `store`'s accounts to callers presenting `token` (none: open, for loopback only).
    pub fn new(store: Store, token: Option<Secret>) -> Self {
        AdminApi { store, token }
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else { return true };
        let presented = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .unwrap_or("")
            .trim();
        bool::from(presented.as_bytes().ct_eq(token.expose().as_bytes()))
    }

    /// Answers a request under `/admin/v1/`; `None` for any other path.
    pub async fn handle(&self, method: &Method, path: &str, headers: &HeaderMap, body: &[u8], now_ms: i64) -> Option<Reply> {
        let rest = path.strip_prefix("/admin/v1/")?;
        if !self.authorised(headers) {
            return Some(Reply::error(401, "authentication_error", "invalid_admin_token", "missing or wrong admin token"));
        }
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let reply = match (method.as_str(), parts.as_slice()) {
            ("POST", ["accounts"]) => self.create_account(body, now_ms).await,
            ("GET", ["accounts", id]) => self.get_account(id).await,
            ("PATCH", ["accounts", id]) => self.patch_account(id, body).await,
            ("POST", ["accounts", id, "keys"]) => create_key(&self.store, id, body, now_ms).await,
            ("GET", ["accounts", id, "keys"]) => self.list_keys(id).await,
            ("DELETE", ["keys", key_id]) => revoke_key(&self.store, None, key_id, now_ms).await,
            (_, ["accounts"] | ["accounts", _] | ["accounts", _, "keys"] | ["keys", _]) => {
                Reply::error(405, "invalid_request_error", "method_not_allowed", "method not allowed")
            }
            _ => Reply::not_found("route"),
        };
        Some(reply)
    }

    async fn create_account(&self, body: &[u8], now_ms: i64) -> Reply {
        let new: NewAccount = match parse(body) {
            Ok(n) => n,
            Err(r) => return r,
        };
        if new.name.trim().is_empty() {
            return Reply::bad_request("`name` must not be empty");
        }
        if let Err(r) = check_limits(&new.limits) {
            return r;
        }
        let account = Account {
            id: new_id("acct"),
            name: new.name,
            group: new.group.unwrap_or_else(|| "default".to_owned()),
            limits: new.limits,
            status: AccountStatus::Active,
            created_at_ms: now_ms,
        };
        match self.store.keys.create_account(&account).await {
            Ok(()) => Reply::json(201, &account_json(&account)),
            Err(e) => Reply::store(&e),
        }
    }

    async fn get_account(&self, id: &str) -> Reply {
        match self.store.keys.account(id).await {
            Ok(Some(a)) => Reply::json(200, &account_json(&a)),
            Ok(None) => Reply::not_found("account"),
            Err(e) => Reply::store(&e),
        }
    }

    async fn patch_account(&self, id: &str, body: &[u8]) -> Reply {
        let patch: AccountPatch = match parse(body) {
            Ok(p) => p,
            Err(r) => return r,
        };
        if let Some(limits) = &patch.limits {
            if let Err(r) = check_limits(limits) {
                return r;
            }
        }
        match self.store.keys.patch_account(id, &patch).await {
            Ok(Some(a)) => Reply::json(200, &account_json(&a)),
            Ok(None) => Reply::not_found("account"),
            Err(e) => Reply::store(&e),
        }
    }

    async fn list_keys(&self, id: &str) -> Reply {
        match self.store.keys.account(id).await {
            Ok(Some(_)) => list(&self.store, id).await,
            Ok(None) => Reply::not_found("account"),
            Err(e) => Reply::store(&e),
        }
    }
}

async fn list(store: &Store, account_id: &str) -> Reply {
    match store.keys.keys_of(account_id).await {
        Ok(keys) => Reply::json(200, &json!({"data": keys.iter().map(key_json).collect::<Vec<_>>()})),
        Err(e) => Reply::store(&e),
    }
}

/// Creates a key; the secret is in this answer only.
async fn create_key(store: &Store, account_id: &str, body: &[u8], now_ms: i64) -> Reply {
    let new: NewKey = match parse(body) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if new.name.trim().is_empty() {
        return Reply::bad_request("`name` must not be empty");
    }
    if let Err(r) = check_limits(&new.limits) {
        return r;
    }
    let expires_at_ms = match new.expires_at.as_deref().map(humantime::parse_rfc3339_weak) {
        None => None,
        Some(Ok(t)) => t.duration_since(std::time::UNIX_EPOCH).ok().and_then(|d| i64::try_from(d.as_millis()).ok()),
        Some(Err(_)) => return Reply::bad_request("`expires_at` must be an RFC 3339 time such as 2030-01-01T00:00:00Z"),
    };
    let secret = new_key();
    let record = KeyRecord {
        id: new_id("key"),
        account_id: account_id.to_owned(),
        name: new.name,
        digest: digest_hex(&secret),
        prefix: display_prefix(&secret),
        models: new.models,
        limits: new.limits,
        expires_at_ms,
        revoked_at_ms: None,
        created_at_ms: now_ms,
    };
    match store.keys.create_key(&record).await {
        Ok(true) => {
            let mut body = key_json(&record);
            body["key"] = Value::String(secret);
            Reply::json(201, &body)
        }
        Ok(false) => Reply::not_found("account"),
        Err(e) => Reply::store(&e),
    }
}

/// Revokes a key, only within `account` when given (a client never reaches another's keys).
async fn revoke_key(store: &Store, account: Option<&str>, key_id: &str, now_ms: i64) -> Reply {
    if let Some(account) = account {
        match store.keys.key(key_id).await {
            Ok(Some(k)) if k.account_id == account => {}
            Ok(_) => return Reply::not_found("key"),
            Err(e) => return Reply::store(&e),
        }
    }
    match store.keys.revoke_key(key_id, now_ms).await {
        Ok(Some(_)) => Reply { status: 204, body: Vec::new() },
        Ok(None) => Reply::not_found("key"),
        Err(e) => Reply::store(&e),
    }
}

/// The client's own key API: `GET`/`POST /v1/account/keys`, `DELETE /v1/account/keys/{id}`, and
/// the same under `/api/v1/keys`, for the account of the authenticated `principal`. `None` for
/// any other path. Keys declared in the config cannot manage keys (403): their account lives in
/// the config.
pub async fn client_keys(store: &Store, principal: &Principal, method: &Method, path: &str, body: &[u8], now_ms: i64) -> Option<Reply> {
    let rest = path.strip_prefix("/v1/account/keys").or_else(|| path.strip_prefix("/api/v1/keys"))?;
    let id = match rest.trim_end_matches('/') {
        "" => None,
        r => Some(r.strip_prefix('/')?),
    };
    let account = match (&principal.account_id, principal.from_config) {
        (Some(account), false) => account.as_str(),
        _ => {
            return Some(Reply::error(
                403,
                "permission_error",
                "keys_managed_in_config",
                "this key is declared in the gateway's config; its keys are managed there",
            ))
        }
    };
    let reply = match (method.as_str(), id) {
        ("GET", None) => list(store, account).await,
        ("POST", None) => create_key(store, account, body, now_ms).await,
        ("DELETE", Some(id)) => revoke_key(store, Some(account), id, now_ms).await,
        _ => Reply::error(405, "invalid_request_error", "method_not_allowed", "method not allowed"),
    };
    Some(reply)
}
