//! The account APIs as plain functions of (method, path, headers, body) → (status, JSON), over
//! the store traits, so they are tested without a listener and routed by whoever serves them:
//! the admin API (`/admin/v1/…`, behind `admin.token`) and the client's own key API
//! (`/v1/account/keys`, `/api/v1/keys`, for the authenticated key's account).

use crate::account::secret::{digest_hex, display_prefix, new_id, new_key};
use crate::account::Principal;
use crate::config::{BillingMode, RateLimits, Secret, UsdAmount};
use crate::store::{Account, AccountPatch, AccountStatus, KeyRecord, Store, StoreError};
use http::{HeaderMap, Method};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

/// An answer: status and body (JSON unless `content_type` says otherwise; empty for 204).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// Its media type.
    pub content_type: &'static str,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &Value) -> Self {
        Reply { status, body: value.to_string().into_bytes(), content_type: "application/json" }
    }

    pub(crate) fn error(status: u16, kind: &str, code: &str, message: &str) -> Self {
        Self::json(status, &json!({"error": {"type": kind, "code": code, "message": message}}))
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::error(404, "not_found_error", "not_found", &format!("{what} not found"))
    }

    pub(crate) fn bad_request(message: &str) -> Self {
        Self::error(400, "invalid_request_error", "invalid_request", message)
    }

    pub(crate) fn store(err: &StoreError) -> Self {
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
    #[serde(default)]
    billing: BillingMode,
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
    #[serde(default)]
    monthly_spend_cap: Option<UsdAmount>,
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

pub(crate) fn time_text(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

fn account_json(a: &Account) -> Value {
    json!({
        "id": a.id, "name": a.name, "group": a.group, "limits": a.limits,
        "status": a.status, "billing": a.billing, "created_at": time_text(a.created_at_ms),
    })
}

/// A key as listed: never the secret, never the digest.
fn key_json(k: &KeyRecord) -> Value {
    json!({
        "id": k.id, "account_id": k.account_id, "name": k.name, "prefix": k.prefix, "models": k.models,
        "limits": k.limits, "expires_at": k.expires_at_ms.map(time_text),
        "revoked_at": k.revoked_at_ms.map(time_text), "created_at": time_text(k.created_at_ms),
        "monthly_spend_cap": k.monthly_spend_cap.map(|c| c.usd()),
    })
}

/// The admin API over a store.
pub struct AdminApi {
    store: Store,
    token: Option<Secret>,
    config_accounts: Vec<String>,
}

impl AdminApi {
    /// Serves `store`'s accounts to callers presenting `token` (none: open, for loopback only).
    pub fn new(store: Store, token: Option<Secret>) -> Self {
        AdminApi { store, token, config_accounts: Vec::new() }
    }

    /// The same API also crediting the accounts declared in the config (they are not in the store).
    pub fn with_config_accounts(mut self, ids: Vec<String>) -> Self {
        self.config_accounts = ids;
        self
    }

    /// Whether an account exists, in the store or the config.
    async fn exists(&self, id: &str) -> Result<bool, StoreError> {
        if self.config_accounts.iter().any(|a| a == id) {
            return Ok(true);
        }
        Ok(self.store.keys.account(id).await?.is_some())
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
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
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
            ("POST", ["accounts", id, "credit"]) => match self.exists(id).await {
                Ok(true) => super::billing::credit(&self.store, id, headers, body, now_ms).await,
                Ok(false) => Reply::not_found("account"),
                Err(e) => Reply::store(&e),
            },
            ("GET", ["accounts", id, "ledger"]) => match self.exists(id).await {
                Ok(true) => super::billing::ledger(&self.store, id, query).await,
                Ok(false) => Reply::not_found("account"),
                Err(e) => Reply::store(&e),
            },
            ("GET", ["accounts", id, "balance"]) => match self.exists(id).await {
                Ok(true) => super::billing::balance(&self.store, id, now_ms).await,
                Ok(false) => Reply::not_found("account"),
                Err(e) => Reply::store(&e),
            },
            (_, ["accounts"] | ["accounts", _] | ["accounts", _, "keys" | "credit" | "ledger" | "balance"] | ["keys", _]) => {
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
            billing: new.billing,
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
        monthly_spend_cap: new.monthly_spend_cap.map(|c| c.0),
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
        Ok(Some(_)) => Reply { status: 204, body: Vec::new(), content_type: "application/json" },
        Ok(None) => Reply::not_found("key"),
        Err(e) => Reply::store(&e),
    }
}

/// Whether `path` belongs to the client's own key API (so the gateway routes it here).
pub fn is_client_keys_path(path: &str) -> bool {
    client_keys_rest(path).is_some()
}

/// What follows the key API's prefix (`""` or `/{id}`), `None` for any other path.
fn client_keys_rest(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/account/keys").or_else(|| path.strip_prefix("/api/v1/keys"))?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The client's own key API: `GET`/`POST /v1/account/keys`, `DELETE /v1/account/keys/{id}`, and
/// the same under `/api/v1/keys`, for the account of the authenticated `principal`. `None` for
/// any other path. Keys declared in the config cannot manage keys (403): their account lives in
/// the config.
pub async fn client_keys(
    store: &Store,
    principal: &Principal,
    method: &Method,
    path: &str,
    body: &[u8],
    now_ms: i64,
) -> Option<Reply> {
    let rest = client_keys_rest(path)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::secret::digest_hex;

    const NOW: i64 = 1_709_294_400_000;

    fn auth(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        h
    }

    async fn call(api: &AdminApi, method: Method, path: &str, body: &str) -> (u16, Value) {
        let r = api.handle(&method, path, &auth("tok"), body.as_bytes(), NOW).await.unwrap();
        let v = if r.body.is_empty() { Value::Null } else { serde_json::from_slice(&r.body).unwrap() };
        (r.status, v)
    }

    #[tokio::test]
    async fn admin_api_manages_accounts_and_keys() {
        let store = Store::memory();
        let api = AdminApi::new(store.clone(), Some(Secret::new("tok")));
        assert!(api.handle(&Method::GET, "/metrics", &HeaderMap::new(), b"", NOW).await.is_none());
        let denied = api.handle(&Method::GET, "/admin/v1/accounts/x", &auth("wrong"), b"", NOW).await.unwrap();
        assert_eq!(denied.status, 401);

        let (status, account) = call(&api, Method::POST, "/admin/v1/accounts", r#"{"name":"Team","limits":{"rpm":10}}"#).await;
        assert_eq!(status, 201);
        let id = account["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("acct_"));
        assert_eq!((account["group"].as_str(), account["limits"]["rpm"].as_u64()), (Some("default"), Some(10)));
        let (status, patched) = call(&api, Method::PATCH, &format!("/admin/v1/accounts/{id}"), r#"{"status":"suspended"}"#).await;
        assert_eq!((status, patched["status"].as_str()), (200, Some("suspended")));
        let (status, got) = call(&api, Method::GET, &format!("/admin/v1/accounts/{id}"), "").await;
        assert_eq!((status, got["status"].as_str()), (200, Some("suspended")));

        let body = r#"{"name":"ci","models":["m"],"expires_at":"2030-01-01T00:00:00Z"}"#;
        let (status, created) = call(&api, Method::POST, &format!("/admin/v1/accounts/{id}/keys"), body).await;
        assert_eq!(status, 201);
        let secret = created["key"].as_str().unwrap();
        assert!(secret.starts_with("sk-sy-"));
        assert_eq!(created["expires_at"].as_str(), Some("2030-01-01T00:00:00Z"));
        let stored = store.keys.key_by_digest(&digest_hex(secret)).await.unwrap().unwrap();
        assert_eq!(stored.key.models, Some(vec!["m".to_owned()]));
        let (_, listed) = call(&api, Method::GET, &format!("/admin/v1/accounts/{id}/keys"), "").await;
        let text = listed.to_string();
        assert!(!text.contains(secret) && !text.contains(&stored.key.digest), "no secret or digest listed");
        let key_id = created["id"].as_str().unwrap();
        assert_eq!(call(&api, Method::DELETE, &format!("/admin/v1/keys/{key_id}"), "").await.0, 204);
        assert!(store.keys.key(key_id).await.unwrap().unwrap().revoked_at_ms.is_some());

        assert_eq!(call(&api, Method::DELETE, "/admin/v1/keys/key_nope", "").await.0, 404);
        assert_eq!(call(&api, Method::POST, "/admin/v1/accounts/acct_nope/keys", r#"{"name":"x"}"#).await.0, 404);
        let (status, err) = call(&api, Method::POST, "/admin/v1/accounts", r#"{"name":"x","limits":{"rpm":0}}"#).await;
        assert_eq!((status, err["error"]["type"].as_str()), (400, Some("invalid_request_error")));
        assert_eq!(call(&api, Method::PUT, "/admin/v1/accounts", "{}").await.0, 405);
    }

    #[tokio::test]
    async fn client_keys_see_only_their_account() {
        let store = Store::memory();
        let api = AdminApi::new(store.clone(), None);
        let mut ids = Vec::new();
        for name in ["a", "b"] {
            let r = api
                .handle(&Method::POST, "/admin/v1/accounts", &HeaderMap::new(), format!(r#"{{"name":"{name}"}}"#).as_bytes(), NOW)
                .await
                .unwrap();
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            ids.push(v["id"].as_str().unwrap().to_owned());
        }
        let principal = |account: &str| Principal {
            key_id: "key_x".into(),
            key_name: "x".into(),
            account_id: Some(account.to_owned()),
            group: None,
            models: None,
            key_limits: RateLimits::default(),
            account_limits: RateLimits::default(),
            from_config: false,
            billing: BillingMode::None,
            monthly_spend_cap: None,
        };
        let (a, b) = (principal(&ids[0]), principal(&ids[1]));
        let created = client_keys(&store, &a, &Method::POST, "/v1/account/keys", br#"{"name":"mine"}"#, NOW).await.unwrap();
        assert_eq!(created.status, 201);
        let key_id = serde_json::from_slice::<Value>(&created.body).unwrap()["id"].as_str().unwrap().to_owned();
        let listed = client_keys(&store, &b, &Method::GET, "/api/v1/keys", b"", NOW).await.unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&listed.body).unwrap()["data"], json!([]));
        let theirs = client_keys(&store, &b, &Method::DELETE, &format!("/api/v1/keys/{key_id}"), b"", NOW).await.unwrap();
        assert_eq!(theirs.status, 404, "another account's key is not found");
        let mine = client_keys(&store, &a, &Method::DELETE, &format!("/v1/account/keys/{key_id}"), b"", NOW).await.unwrap();
        assert_eq!(mine.status, 204);
        let config_key = Principal { from_config: true, ..a.clone() };
        assert_eq!(client_keys(&store, &config_key, &Method::GET, "/v1/account/keys", b"", NOW).await.unwrap().status, 403);
        assert!(client_keys(&store, &a, &Method::GET, "/v1/models", b"", NOW).await.is_none());
        assert!(is_client_keys_path("/api/v1/keys/key_1") && is_client_keys_path("/v1/account/keys"));
        assert!(!is_client_keys_path("/v1/account/keysx") && !is_client_keys_path("/v1/chat/completions"));
    }
}
