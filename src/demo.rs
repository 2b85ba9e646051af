//! `switchyard demo`: the gateway with the memory store in front of the built-in mock upstream,
//! configured from the embedded `conf/demo.yaml`.

use crate::config::{self, Config, ConfigError};
use crate::mock::MockUpstream;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::net::SocketAddr;

/// The embedded demo configuration.
pub const DEMO_YAML: &str = include_str!("../conf/demo.yaml");

/// Addresses and key of one demo run.
#[derive(Clone, Debug)]
pub struct DemoSettings {
    /// The gateway's public listener.
    pub listen: SocketAddr,
    /// The admin listener.
    pub admin: SocketAddr,
    /// The mock upstream's address.
    pub mock: SocketAddr,
    /// The client key printed for the user.
    pub key: String,
}

/// The demo config with `settings` filled in.
pub fn config(settings: &DemoSettings) -> Result<Config, ConfigError> {
    let env = |name: &str| match name {
        "SWITCHYARD_DEMO_LISTEN" => Some(settings.listen.to_string()),
        "SWITCHYARD_DEMO_ADMIN" => Some(settings.admin.to_string()),
        "SWITCHYARD_DEMO_MOCK" => Some(settings.mock.to_string()),
        "SWITCHYARD_DEMO_KEY" => Some(settings.key.clone()),
        _ => None,
    };
    config::parse(DEMO_YAML, &env)
}

/// A fresh random client key (`sk-demo-` + 32 hex digits).
pub fn random_key() -> String {
    format!("sk-demo-{}", uuid::Uuid::new_v4().simple())
}

/// What the demo prints: where things are and a request to paste.
pub fn instructions(settings: &DemoSettings) -> String {
    format!(
        "Switchyard demo: gateway on http://{listen}, admin on http://{admin}, mock upstream on http://{mock}\n\
         API key: {key}\n\n\
         Try it:\n\
         curl -s http://{listen}/v1/chat/completions \\\n  -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n  -d '{{\"model\":\"demo-model\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello from the demo\"}}]}}'\n\n\
         Streamed: add \"stream\":true to the body (and curl -N). Metrics: curl http://{admin}/metrics\n",
        listen = settings.listen,
        admin = settings.admin,
        mock = settings.mock,
        key = settings.key
    )
}

/// Runs the mock upstream inside the Pingora server until shutdown.
pub struct MockService {
    /// Where the mock listens.
    pub addr: SocketAddr,
}

#[async_trait]
impl BackgroundService for MockService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        match MockUpstream::start(self.addr).await {
            Ok(mock) => {
                mock.set_recording(false);
                let _ = shutdown.changed().await;
                drop(mock);
            }
            Err(e) => tracing::error!("the demo mock upstream cannot listen on {}: {e}", self.addr),
        }
    }
}
