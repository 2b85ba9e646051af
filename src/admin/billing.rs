//! The billing APIs: credits and the ledger for operators (`/admin/v1/accounts/{id}/credit`,
//! `…/ledger`, `…/balance`), the balance and activity for clients with their own key
//! (`/v1/account/balance`, `/v1/account/activity`, aliases `/api/v1/balance`,
//! `/api/v1/transactions`). Amounts are shown as exact USD decimals; entries never hold content.

use super::accounts::{time_text, Reply};
use crate::account::secret::new_id;
use crate::account::Principal;
use crate::config::{Money, UsdAmount};
use crate::store::{Credit, Credited, EntryKind, LedgerEntry, Store};
use http::{HeaderMap, Method};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The header that makes a credit safe to retry.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Entries per page unless `limit` says otherwise; and the most one page holds.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCredit {
    amount: UsdAmount,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<EntryKind>,
}

/// An entry as the APIs show it.
pub fn entry_json(e: &LedgerEntry) -> Value {
    json!({
        "id": e.id, "type": e.kind.as_str(), "amount": e.amount.usd(), "balance_after": e.balance_after.usd(),
        "created_at": time_text(e.at_ms), "key_id": e.key_id, "model": e.model, "provider": e.provider,
        "tokens": e.tokens, "estimated": e.estimated, "aborted": e.aborted, "capped": e.capped, "reason": e.reason,
        "request_id": e.request_id.as_deref().unwrap_or(&e.id),
    })
}

/// `POST /admin/v1/accounts/{id}/credit` `{"amount": "10.00", "reason": "…", "type"?}` with a
/// required `Idempotency-Key`: a positive amount is a `credit` (or `refund`), a negative one an
/// `adjustment`. A replay of the same key and body answers the first entry and changes nothing;
/// the same key with another body is 409.
pub async fn credit(store: &Store, account_id: &str, headers: &HeaderMap, body: &[u8], now_ms: i64) -> Reply {
    let Some(key) = headers.get(IDEMPOTENCY_HEADER).and_then(|v| v.to_str().ok()).map(str::trim).filter(|k| !k.is_empty()) else {
        return Reply::bad_request("the `Idempotency-Key` header is required, so a retried credit is applied once");
    };
    if key.len() > 200 || key.contains(char::is_whitespace) {
        return Reply::bad_request("`Idempotency-Key` must be at most 200 characters without spaces");
    }
    let new: NewCredit = match serde_json::from_slice(body) {
        Ok(n) => n,
        Err(e) => return Reply::bad_request(&format!("invalid JSON body: {e}")),
    };
    let amount = new.amount.0;
    let kind = match (new.kind, amount > Money::ZERO) {
        (_, _) if amount == Money::ZERO => return Reply::bad_request("`amount` must not be zero"),
        (None, true) => EntryKind::Credit,
        (None, false) | (Some(EntryKind::Adjustment), _) => EntryKind::Adjustment,
        (Some(k @ (EntryKind::Credit | EntryKind::Refund)), true) => k,
        (Some(EntryKind::Usage), _) => return Reply::bad_request("`type` must be credit, refund or adjustment"),
        (Some(_), false) => return Reply::bad_request("a credit or refund must be positive; use type adjustment"),
    };
    let entry = LedgerEntry {
        id: new_id("cr"),
        kind,
        amount,
        balance_after: Money::ZERO,
        at_ms: now_ms,
        key_id: None,
        model: None,
        provider: None,
        tokens: None,
        estimated: false,
        aborted: false,
        capped: false,
        reason: new.reason,
        request_id: None,
    };
    let credit = Credit {
        account_id: account_id.to_owned(),
        idempotency_key: key.to_owned(),
        body_digest: hex::encode(Sha256::digest(body)),
        entry,
    };
    match store.billing.credit(&credit).await {
        Ok(Credited::Done(e) | Credited::Replayed(e)) => Reply::json(201, &entry_json(&e)),
        Ok(Credited::Conflict) => Reply::error(
            409,
            "conflict_error",
            "idempotency_key_reused",
            "this Idempotency-Key was used with another body; use a new key for another credit",
        ),
        Ok(Credited::Insufficient) => Reply::error(
            422,
            "invalid_request_error",
            "insufficient_balance",
            "the adjustment is larger than the available balance",
        ),
        Err(e) => Reply::store(&e),
    }
}

/// `?offset=&limit=&format=csv` of a ledger request.
struct Page {
    offset: usize,
    limit: usize,
    csv: bool,
}

fn page(query: &str) -> Result<Page, Reply> {
    let mut page = Page { offset: 0, limit: DEFAULT_PAGE, csv: false };
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let number = || v.parse::<usize>().map_err(|_| Reply::bad_request(&format!("`{k}` must be a whole number")));
        match k.as_ref() {
            "offset" => page.offset = number()?,
            "limit" => page.limit = number()?.clamp(1, MAX_PAGE),
            "format" if v == "csv" => page.csv = true,
            "format" if v == "json" => {}
            _ => return Err(Reply::bad_request(&format!("unknown query parameter `{k}`"))),
        }
    }
    Ok(page)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv(entries: &[LedgerEntry]) -> Vec<u8> {
    let mut out = String::from(
        "id,type,amount,balance_after,created_at,key_id,model,provider,prompt_tokens,completion_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,images,estimated,aborted,capped,reason\n",
    );
    for e in entries {
        let t = e.tokens.unwrap_or_default();
        let fields = [
            e.id.clone(),
            e.kind.as_str().to_owned(),
            e.amount.usd(),
            e.balance_after.usd(),
            time_text(e.at_ms),
            e.key_id.clone().unwrap_or_default(),
            e.model.clone().unwrap_or_default(),
            e.provider.clone().unwrap_or_default(),
            t.prompt.to_string(),
            t.completion.to_string(),
            t.cache_read.to_string(),
            t.cache_write.to_string(),
            t.reasoning.to_string(),
            t.images.to_string(),
            e.estimated.to_string(),
            e.aborted.to_string(),
            e.capped.to_string(),
            e.reason.clone().unwrap_or_default(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out.into_bytes()
}

/// `GET …/ledger?offset=&limit=` (oldest first) as JSON `{data, total, next_offset}` or, with
/// `format=csv`, as CSV.
pub async fn ledger(store: &Store, account_id: &str, query: &str) -> Reply {
    let page = match page(query) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match store.billing.ledger(account_id, page.offset, page.limit).await {
        Ok((entries, _)) if page.csv => Reply { status: 200, body: csv(&entries), content_type: "text/csv; charset=utf-8" },
        Ok((entries, total)) => {
            let next = page.offset + entries.len();
            Reply::json(
                200,
                &json!({
                    "data": entries.iter().map(entry_json).collect::<Vec<_>>(),
                    "total": total,
                    "next_offset": (next < total).then_some(next),
                }),
            )
        }
        Err(e) => Reply::store(&e),
    }
}

/// `{"balance", "reserved", "available", "currency"}` of an account.
pub async fn balance(store: &Store, account_id: &str, now_ms: i64) -> Reply {
    match store.billing.balance(account_id, now_ms).await {
        Ok(b) => Reply::json(
            200,
            &json!({
                "balance": b.balance.usd(), "reserved": b.reserved.usd(),
                "available": (b.balance - b.reserved).usd(), "currency": "USD",
            }),
        ),
        Err(e) => Reply::store(&e),
    }
}

/// Which client billing route `path` is.
fn client_route(path: &str) -> Option<&'static str> {
    match path.trim_end_matches('/') {
        "/v1/account/balance" | "/api/v1/balance" => Some("balance"),
        "/v1/account/activity" | "/api/v1/transactions" => Some("activity"),
        _ => None,
    }
}

/// Whether `path` (without query) is a client billing route.
pub fn is_client_billing_path(path: &str) -> bool {
    client_route(path).is_some()
}

/// The client's own balance and activity, for the account of `principal`; `None` for any other
/// path. A key without an account (an operator key) gets 403.
pub async fn client_billing(store: &Store, principal: &Principal, method: &Method, target: &str, now_ms: i64) -> Option<Reply> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let route = client_route(path)?;
    let Some(account) = principal.account_id.as_deref() else {
        return Some(Reply::error(403, "permission_error", "no_account", "this key has no account and no balance"));
    };
    if method != Method::GET {
        return Some(Reply::error(405, "invalid_request_error", "method_not_allowed", "method not allowed"));
    }
    Some(match route {
        "balance" => balance(store, account, now_ms).await,
        _ => ledger(store, account, query).await,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::accounts::AdminApi;

    const NOW: i64 = 1_709_294_400_000;

    async fn post(api: &AdminApi, key: Option<&str>, body: &str) -> (u16, Value) {
        let mut h = HeaderMap::new();
        if let Some(k) = key {
            h.insert(IDEMPOTENCY_HEADER, k.parse().unwrap());
        }
        let r = api.handle(&Method::POST, "/admin/v1/accounts/team/credit", &h, body.as_bytes(), NOW).await.unwrap();
        (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn credits_are_idempotent_and_the_ledger_pages() {
        let store = Store::memory();
        let api = AdminApi::new(store.clone(), None).with_config_accounts(vec!["team".into()]);
        assert_eq!(post(&api, None, r#"{"amount":"10.00"}"#).await.0, 400, "the key is required");
        let (status, first) = post(&api, Some("k1"), r#"{"amount":"10.00","reason":"top-up"}"#).await;
        assert_eq!((status, first["type"].as_str(), first["balance_after"].as_str()), (201, Some("credit"), Some("10.00")));
        let (status, again) = post(&api, Some("k1"), r#"{"amount":"10.00","reason":"top-up"}"#).await;
        assert_eq!((status, &again), (201, &first), "a replay answers the first entry");
        assert_eq!(post(&api, Some("k1"), r#"{"amount":"11.00"}"#).await.0, 409);
        let (_, adj) = post(&api, Some("k2"), r#"{"amount":"-2.5","reason":"correction"}"#).await;
        assert_eq!((adj["type"].as_str(), adj["balance_after"].as_str()), (Some("adjustment"), Some("7.50")));
        assert_eq!(post(&api, Some("k3"), r#"{"amount":"-8"}"#).await.0, 422, "never below zero");
        assert_eq!(store.billing.balance("team", NOW).await.unwrap().balance, Money::parse_usd("7.5").unwrap());

        let r = api.handle(&Method::GET, "/admin/v1/accounts/team/ledger?limit=1", &HeaderMap::new(), b"", NOW).await.unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (v["total"].as_u64(), v["next_offset"].as_u64(), v["data"][0]["amount"].as_str()),
            (Some(2), Some(1), Some("10.00"))
        );
        let r = api
            .handle(&Method::GET, "/admin/v1/accounts/team/ledger?format=csv", &HeaderMap::new(), b"", NOW)
            .await
            .unwrap();
        let text = String::from_utf8(r.body).unwrap();
        assert_eq!(r.content_type, "text/csv; charset=utf-8");
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().nth(2).unwrap().contains(",adjustment,-2.50,7.50,"));
        let nobody = api.handle(&Method::GET, "/admin/v1/accounts/acct_nope/ledger", &HeaderMap::new(), b"", NOW).await.unwrap();
        assert_eq!(nobody.status, 404);
    }
}
