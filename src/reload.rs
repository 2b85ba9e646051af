//! Live config reload (`SIGHUP`, `POST /admin/v1/reload`).
//!
//! A reload reads the config file again, validates it and builds a whole new runtime snapshot
//! before anything changes; only then is the snapshot swapped in. A request keeps the snapshot it
//! started with, so in-flight requests finish on the old config, and a rejected file leaves the
//! running one untouched. The store is opened once per process and every snapshot shares it, so
//! counters, balances and keys carry over.
//!
//! Listeners, the admin settings, the store and the server's threads are bound when the process
//! starts; a file that changes them is rejected whole (with the field named) rather than half
//! applied. They change with a restart or a graceful upgrade.

use crate::config::{self, Config, ConfigError};
use crate::gateway::snapshot::{Snapshot, SnapshotError};
use crate::store::Store;
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Why a reload was refused; the running config stays in force in every case.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The process was not started from a config file (the demo), so there is nothing to re-read.
    #[error("this instance was not started from a config file; nothing to reload")]
    NoFile,
    /// The file does not load or validate.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The config is valid but cannot become a snapshot.
    #[error("{0}")]
    Snapshot(#[from] SnapshotError),
    /// A field that only takes effect at start changed.
    #[error("{0}: changed, but it only takes effect when the process starts (restart or upgrade to apply it)")]
    NeedsRestart(&'static str),
}

/// What a successful reload loaded, for the operator's answer and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Reloaded {
    /// Providers in the new config.
    pub providers: usize,
    /// Models in the new config.
    pub models: usize,
    /// Config keys in the new config.
    pub keys: usize,
}

/// Re-reads the config file into the live snapshot.
pub struct Reloader {
    path: Option<PathBuf>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    store: Store,
    /// Serialises reloads, so two at once cannot swap in an older file last.
    running: Mutex<()>,
}

impl Reloader {
    /// A reloader for the process started from `path` (`None`: started without a file).
    pub fn new(path: Option<PathBuf>, snapshot: Arc<ArcSwap<Snapshot>>, store: Store) -> Self {
        Reloader { path, snapshot, store, running: Mutex::new(()) }
    }

    /// Loads, validates and swaps in the config file; on any error nothing changes.
    ///
    /// # Errors
    /// [`ReloadError`] says why the file was refused, naming the field where there is one.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let path = self.path.as_ref().ok_or(ReloadError::NoFile)?;
        let _one_at_a_time = self.running.lock().await;
        let config = config::load(path)?;
        check_start_only(&self.snapshot.load().config, &config)?;
        let loaded = Reloaded { providers: config.providers.len(), models: config.models.len(), keys: config.keys.len() };
        let next = Snapshot::build(config, self.store.clone(), Some(&self.snapshot.load()))?;
        self.snapshot.store(Arc::new(next));
        Ok(loaded)
    }
}

/// Reloads on every `SIGHUP` (what `systemctl reload` sends), logging the outcome. Without it
/// the signal's default action would end the process, and systemd counts that as a clean exit.
pub struct HangupReload(pub Arc<Reloader>);

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for HangupReload {
    async fn start(&self, mut shutdown: pingora::server::ShutdownWatch) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot watch SIGHUP: {e}");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = hangups.recv() => match self.0.reload().await {
                    Ok(loaded) => tracing::info!(providers = loaded.providers, models = loaded.models, keys = loaded.keys, "config reloaded (SIGHUP)"),
                    Err(e) => tracing::warn!(error = %e, "config reload refused (SIGHUP); the running config stays"),
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Refuses a new config that changes what only a start applies.
fn check_start_only(running: &Config, next: &Config) -> Result<(), ReloadError> {
    let changed = [
        ("listen", running.listen != next.listen),
        ("admin", running.admin != next.admin),
        ("store", running.store != next.store),
        ("store_options", running.store_options != next.store_options),
        ("server", running.server != next.server),
        ("limits.h2_idle_timeout", running.limits.h2_idle_timeout != next.limits.h2_idle_timeout),
        ("limits.keepalive_request_limit", running.limits.keepalive_request_limit != next.limits.keepalive_request_limit),
    ];
    match changed.into_iter().find(|(_, differs)| *differs) {
        Some((field, _)) => Err(ReloadError::NeedsRestart(field)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "listen: 127.0.0.1:8080
providers:
  - { name: p, protocol: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: \"\" }
models:
  - { id: m, channels: [ { provider: p, model: m } ] }
";

    fn parse(text: &str) -> Config {
        config::parse(text, &|_| None).unwrap()
    }

    #[test]
    fn models_and_providers_may_change() {
        let next = format!("{BASE}  - {{ id: n, channels: [ {{ provider: p, model: n }} ] }}\n");
        assert!(check_start_only(&parse(BASE), &parse(&next)).is_ok());
    }

    #[test]
    fn listeners_and_store_are_start_only() {
        let moved = BASE.replace("127.0.0.1:8080", "127.0.0.1:8081");
        let err = check_start_only(&parse(BASE), &parse(&moved)).unwrap_err();
        assert!(err.to_string().starts_with("listen: changed"), "{err}");
        let threads = format!("{BASE}server: {{ threads: 3 }}\n");
        assert!(matches!(check_start_only(&parse(BASE), &parse(&threads)), Err(ReloadError::NeedsRestart("server"))));
    }
}
