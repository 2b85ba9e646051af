//! Draining: once the process is told to hand over to a new binary (`SIGQUIT`, graceful
//! upgrade) or to stop (`SIGTERM`), every answer closes its connection.
//!
//! Pingora keeps serving keep-alive connections until its shutdown broadcast, which comes
//! seconds after the listening sockets went to the new process, and then drops the idle ones. A
//! client that sends its next request on such a connection at that moment sees a reset. Closing
//! each connection after its current answer from the first signal on (`Connection: close`) moves
//! every client to a fresh connection, which the process that stays accepts.

use pingora::server::{ExecutionPhase, ShutdownWatch};
use pingora::services::background::BackgroundService;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::{self, error::RecvError};

/// Set once the process starts to hand over or stop; read on every request.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Whether answers should close their connections now.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Watches the server's execution phases and sets [`Draining`] at the first sign of an
/// upgrade or a stop.
pub struct DrainWatch {
    phases: Mutex<Option<broadcast::Receiver<ExecutionPhase>>>,
    draining: Draining,
}

impl DrainWatch {
    /// A watch over `phases` (from `Server::watch_execution_phase`) that sets `draining`.
    pub fn new(phases: broadcast::Receiver<ExecutionPhase>, draining: Draining) -> Self {
        DrainWatch { phases: Mutex::new(Some(phases)), draining }
    }
}

/// Whether `phase` means the process is about to stop serving.
fn ends_service(phase: &ExecutionPhase) -> bool {
    !matches!(
        phase,
        ExecutionPhase::Setup | ExecutionPhase::Bootstrap | ExecutionPhase::BootstrapComplete | ExecutionPhase::Running
    )
}

#[async_trait::async_trait]
impl BackgroundService for DrainWatch {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let phases = self.phases.lock().ok().and_then(|mut p| p.take());
        let Some(mut phases) = phases else { return };
        loop {
            tokio::select! {
                phase = phases.recv() => match phase {
                    Ok(phase) if ends_service(&phase) => {
                        self.draining.set();
                        return;
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = shutdown.changed() => {
                    self.draining.set();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_phases_after_running_drain() {
        assert!(!ends_service(&ExecutionPhase::Running));
        assert!(!ends_service(&ExecutionPhase::Bootstrap));
        assert!(ends_service(&ExecutionPhase::GracefulUpgradeTransferringFds));
        assert!(ends_service(&ExecutionPhase::GracefulTerminate));
        assert!(ends_service(&ExecutionPhase::ShutdownStarted));
    }
}
