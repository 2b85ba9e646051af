//! The admin listener: `/metrics` for Prometheus and `/healthz` for load balancers. The admin
//! API (behind `admin.token`) joins here in the operations issue.

pub mod accounts;

use crate::telemetry::metrics::Metrics;
use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::Arc;

/// Serves the admin routes from shared metrics.
pub struct Admin {
    metrics: Arc<Metrics>,
}

impl Admin {
    /// An admin app rendering `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Admin { metrics }
    }
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let path = session.req_header().uri.path();
        let (status, content_type, body) = match path {
            "/metrics" => (200, "text/plain; version=0.0.4", self.metrics.render()),
            "/healthz" => (200, "application/json", br#"{"status":"ok"}"#.to_vec()),
            _ => (404, "application/json", br#"{"error":{"message":"not found","type":"invalid_request_error"}}"#.to_vec()),
        };
        let mut resp = http::Response::new(body);
        *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
        let len = resp.body().len();
        let headers = resp.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
        resp
    }
}
