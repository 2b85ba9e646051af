//! The admin listener: `/metrics` for Prometheus, `/healthz` for load balancers, and the admin
//! API for accounts and keys (see [`accounts`]) and channel health (see [`channels`]) under
//! `/admin/v1/`, behind `admin.token`.
//!
//! When `admin.token` is set, `/metrics` needs it too (`Authorization: Bearer <token>`, which
//! Prometheus sends from `authorization` / `bearer_token`), unless `admin.metrics_public` keeps
//! it open; `/healthz` is always open so load balancers need no secret.

mod auth;
mod error;

pub use auth::AdminAuth;
pub use error::{AdminError, AdminErrorType};

use crate::config::AdminConfig;
pub mod accounts;
pub mod billing;
pub mod channels;

use crate::reload::Reloader;
use crate::store::Store;
use crate::telemetry::metrics::Metrics;
use accounts::AdminApi;
use async_trait::async_trait;
use channels::ChannelsApi;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::Arc;

/// Where an operator asks for a config reload.
const RELOAD_PATH: &str = "/admin/v1/reload";

/// The largest admin API request body read; admin bodies are small JSON objects.
const MAX_ADMIN_BODY: usize = 64 * 1024;

/// Serves the admin routes from shared metrics and the gateway's store.
pub struct Admin {
    metrics: Arc<Metrics>,
    auth: AdminAuth,
    metrics_public: bool,
    api: AdminApi,
    channels: ChannelsApi,
    reloader: Arc<Reloader>,
}

/// A finished admin answer before it becomes an `http::Response`.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    challenge: bool,
}

impl From<AdminError> for Reply {
    fn from(e: AdminError) -> Self {
        let challenge = e.status == 401;
        Reply { status: e.status, content_type: "application/json", body: e.to_json(), challenge }
    }
}

impl Admin {
    /// An admin app rendering `metrics`, managing the accounts in `store` (with
    /// `config_accounts`, the ids of the accounts declared in the config, creditable too) and the
    /// channels of `channels`, reloading the config through `reloader`, guarded as `config` says.
    pub fn new(
        metrics: Arc<Metrics>,
        config: &AdminConfig,
        store: Store,
        config_accounts: Vec<String>,
        channels: ChannelsApi,
        reloader: Arc<Reloader>,
    ) -> Self {
        Admin {
            metrics,
            auth: AdminAuth::new(config.token.as_ref()),
            metrics_public: config.metrics_public,
            api: AdminApi::new(store, config.token.clone()).with_config_accounts(config_accounts),
            channels,
            reloader,
        }
    }

    /// `POST /admin/v1/reload`: re-reads the config file; 200 with what was loaded, or 422 with
    /// why the file was refused (the running config stays).
    async fn reload(&self, authorization: Option<&[u8]>) -> Reply {
        if !self.auth.allows(authorization) {
            return AdminError::unauthorized().into();
        }
        match self.reloader.reload().await {
            Ok(loaded) => {
                tracing::info!(
                    providers = loaded.providers,
                    models = loaded.models,
                    keys = loaded.keys,
                    "config reloaded (admin API)"
                );
                let body = serde_json::json!({"status": "reloaded", "loaded": loaded});
                Reply { status: 200, content_type: "application/json", body: body.to_string().into_bytes(), challenge: false }
            }
            Err(e) => {
                tracing::warn!(error = %e, "config reload refused (admin API); the running config stays");
                AdminError::invalid_config(e.to_string()).into()
            }
        }
    }

    /// The admin API's answer to a request under `/admin/v1/`, its body read first (bounded).
    async fn api(&self, session: &mut ServerSession) -> Reply {
        let mut body = Vec::new();
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_ADMIN_BODY => body.extend_from_slice(&chunk),
                Ok(Some(_)) => return AdminError::too_large(MAX_ADMIN_BODY).into(),
                Ok(None) => break,
                Err(_) => return AdminError::bad_body().into(),
            }
        }
        let header = session.req_header();
        if let Some(rest) = header.uri.path().strip_prefix("/admin/v1/").filter(|r| r.starts_with("channels")) {
            let authorization = header.headers.get(http::header::AUTHORIZATION).map(http::HeaderValue::as_bytes);
            if !self.auth.allows(authorization) {
                return AdminError::unauthorized().into();
            }
            if let Some(reply) = self.channels.handle(header.method.as_str(), rest, std::time::Instant::now()) {
                return Reply { challenge: false, status: reply.status, content_type: "application/json", body: reply.body };
            }
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let now_ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
        let target = header.uri.path_and_query().map_or_else(|| header.uri.path(), |pq| pq.as_str());
        match self.api.handle(&header.method, target, &header.headers, &body, now_ms).await {
            Some(reply) => {
                Reply { challenge: reply.status == 401, status: reply.status, content_type: reply.content_type, body: reply.body }
            }
            None => AdminError::not_found(header.uri.path()).into(),
        }
    }

    fn route(&self, path: &str, authorization: Option<&[u8]>) -> Reply {
        match path {
            "/healthz" => {
                Reply { status: 200, content_type: "application/json", body: br#"{"status":"ok"}"#.to_vec(), challenge: false }
            }
            "/metrics" if self.metrics_public || self.auth.allows(authorization) => {
                Reply { status: 200, content_type: "text/plain; version=0.0.4", body: self.metrics.render(), challenge: false }
            }
            "/metrics" => AdminError::unauthorized().into(),
            _ => AdminError::not_found(path).into(),
        }
    }
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let header = session.req_header();
        let reply = if header.uri.path() == RELOAD_PATH && header.method == http::Method::POST {
            let authorization = header.headers.get(http::header::AUTHORIZATION).map(|v| v.as_bytes().to_vec());
            self.reload(authorization.as_deref()).await
        } else if header.uri.path().starts_with("/admin/v1/") {
            self.api(session).await
        } else {
            let authorization = header.headers.get(http::header::AUTHORIZATION).map(http::HeaderValue::as_bytes);
            self.route(header.uri.path(), authorization)
        };
        let mut resp = http::Response::new(reply.body);
        *resp.status_mut() = http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::OK);
        let len = resp.body().len();
        let headers = resp.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(reply.content_type));
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
        if reply.challenge {
            headers.insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer realm=\"switchyard-admin\""));
        }
        resp
    }
}
