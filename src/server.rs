//! Assembles the Pingora server: the public gateway service (HTTP/1.1 and h2c), the admin
//! service, and any background services (the demo's mock upstream).

use crate::admin::channels::ChannelsApi;
use crate::admin::Admin;
use crate::config::Config;
use crate::drain::{DrainWatch, Draining};
use crate::gateway::snapshot::{Snapshot, SnapshotError};
use crate::gateway::upkeep::PeerUpkeep;
use crate::gateway::Gateway;
use crate::reload::{HangupReload, Reloader};
use crate::routing::health::HealthBook;
use crate::store::{self, StoreError};
use crate::telemetry::metrics::{Metrics, MetricsError};
use arc_swap::ArcSwap;
use pingora::apps::{http_app::HttpServer, HttpServerOptions};
use pingora::connectors::http::Connector;
use pingora::connectors::ConnectorOptions;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::path::PathBuf;
use std::sync::Arc;

/// Pingora process options Switchyard exposes on `run`.
#[derive(Clone, Debug, Default)]
pub struct ProcessOptions {
    /// Fork into the background (`-d`).
    pub daemon: bool,
    /// Take over the listening sockets of a running instance (`-u`), for zero-downtime upgrades.
    pub upgrade: bool,
    /// Where the process id is written in daemon mode.
    pub pid_file: Option<String>,
    /// The socket the listening fds are handed over on during an upgrade.
    pub upgrade_sock: Option<String>,
}

/// Why the server could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The config could not become a runtime snapshot.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Metrics could not be registered.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The configured store could not be opened.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

fn server_conf(config: &Config, process: &ProcessOptions) -> ServerConf {
    let mut conf = ServerConf {
        threads: config.server.threads,
        grace_period_seconds: Some(config.server.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(config.server.graceful_shutdown_timeout_seconds),
        daemon: process.daemon,
        // Pooled upstream connections per thread; the pool is shared by every provider.
        upstream_keepalive_pool_size: 256,
        ..ServerConf::default()
    };
    if let Some(pid) = &process.pid_file {
        conf.pid_file = pid.clone();
    }
    if let Some(sock) = &process.upgrade_sock {
        conf.upgrade_sock = sock.clone();
    }
    conf
}

/// Builds a bootstrapped server with the gateway and admin services, reloading from `source`
/// (the config file it was loaded from; `None` for the demo) on `SIGHUP` and the admin API.
pub fn build(config: Config, source: Option<PathBuf>, process: &ProcessOptions) -> Result<Server, ServerError> {
    let opt = Opt { upgrade: process.upgrade, daemon: process.daemon, ..Opt::default() };
    let conf = server_conf(&config, process);
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let metrics = Arc::new(Metrics::new()?);
    let listen = config.listen.to_string();
    let admin_listen = config.admin.listen.to_string();
    let config_admin = config.admin.clone();
    let limits = config.limits.clone();
    let config_accounts: Vec<String> = config.accounts.iter().map(|a| a.id.clone()).collect();
    // One store per process, shared by every snapshot and the admin API.
    let store = store::open(&config.store, &config.store_options)?;
    let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot::build(config, store.clone(), None)?));
    let connector = Connector::new(Some(ConnectorOptions::from_server_conf(&server.configuration)));

    // Channel health outlives every snapshot (a reload keeps it); the admin API reads it too.
    let health = Arc::new(HealthBook::new());
    let reloader = Arc::new(Reloader::new(source, snapshot.clone(), store.clone()));
    server.add_service(background_service("sighup", HangupReload(reloader.clone())));
    server.add_service(background_service("upstream-upkeep", PeerUpkeep::new(snapshot.clone())));
    let draining = Draining::default();
    server.add_service(background_service("drain", DrainWatch::new(server.watch_execution_phase(), draining.clone())));
    let gateway = Gateway::new(snapshot.clone(), connector, metrics.clone(), health.clone(), draining);
    let mut proxy = pingora::proxy::http_proxy_service_with_name(&server.configuration, gateway, "switchyard");
    if let Some(app) = proxy.app_logic_mut() {
        let mut options = HttpServerOptions::default();
        options.h2c = true;
        options.h2_idle_timeout = Some(limits.h2_idle_timeout);
        options.keepalive_request_limit = Some(limits.keepalive_request_limit);
        app.server_options = Some(options);
    }
    proxy.add_tcp(&listen);
    server.add_service(proxy);

    let channels = ChannelsApi::new(snapshot, health);
    let mut admin = Service::new(
        "switchyard-admin".to_owned(),
        HttpServer::new_app(Admin::new(metrics, &config_admin, store, config_accounts, channels, reloader)),
    );
    admin.add_tcp(&admin_listen);
    admin.threads = Some(1);
    server.add_service(admin);
    Ok(server)
}
