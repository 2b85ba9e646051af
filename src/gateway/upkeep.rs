//! The background service that keeps every provider's address set current: DNS refreshes and
//! active health checks, for whatever snapshot is live (a reload's new providers included).

use super::snapshot::Snapshot;
use arc_swap::ArcSwap;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the service looks for due refreshes and probes; the finest probe interval that
/// takes effect.
const TICK: Duration = Duration::from_millis(100);

/// Runs [`Peers::upkeep`](crate::upstream::balance::Peers::upkeep) for every provider.
pub struct PeerUpkeep {
    snapshot: Arc<ArcSwap<Snapshot>>,
}

impl PeerUpkeep {
    /// Upkeep of the providers of the live `snapshot`.
    pub fn new(snapshot: Arc<ArcSwap<Snapshot>>) -> Self {
        PeerUpkeep { snapshot }
    }
}

#[async_trait::async_trait]
impl BackgroundService for PeerUpkeep {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let snapshot = self.snapshot.load_full();
                    let now = Instant::now();
                    for provider in &snapshot.providers {
                        provider.peers.upkeep(now).await;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}
