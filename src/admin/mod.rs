//! The admin listener: `/metrics` for Prometheus and `/healthz` for load balancers. The admin
//! API (behind `admin.token`) joins here in the operations issue.
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

use crate::telemetry::metrics::Metrics;
use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::Arc;

/// Serves the admin routes from shared metrics.
pub struct Admin {
    metrics: Arc<Metrics>,
    auth: AdminAuth,
    metrics_public: bool,
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
    /// An admin app rendering `metrics`, guarded as `config` says.
    pub fn new(metrics: Arc<Metrics>, config: &AdminConfig) -> Self {
        Admin { metrics, auth: AdminAuth::new(config.token.as_ref()), metrics_public: config.metrics_public }
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
        let authorization = header.headers.get(http::header::AUTHORIZATION).map(http::HeaderValue::as_bytes);
        let reply = self.route(header.uri.path(), authorization);
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
