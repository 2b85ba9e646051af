//! The mock upstream: OpenAI, Anthropic and Gemini on one loopback port, routed by path.
//!
//! The gateway's integration tests, the `demo` command and the load benchmarks need an upstream
//! that answers like the real APIs, deterministically, fast, and that can be told to fail in the
//! ways real providers fail (see [`Faults`]). It is written directly on tokio sockets (no HTTP
//! framework) so it controls framing and timing byte by byte.
//!
//! Routes (any path prefix): OpenAI `…/chat/completions`, `…/responses`, `…/embeddings`,
//! `…/images/generations`, `GET …/models`; Anthropic `…/v1/messages` and
//! `…/v1/messages/count_tokens`; Gemini `…models/{model}:generateContent`,
//! `:streamGenerateContent`, `:countTokens`, `:embedContent`, `:batchEmbedContents`. Each
//! protocol answers with its own wire shapes, stream grammar, auth and error envelope
//! (`/work/shared/PROTOCOLS.md` §1, §3.9); all share the answer rules of `text.rs`.
//!
//! Files: `http.rs` request parsing and response framing, `conn.rs` one connection's request
//! loop and stream faults, `routes.rs` protocol classification, refusals and dispatch,
//! `faults.rs` fault injection, `text.rs` the shared answer and token rules, one file per API
//! (`openai.rs`, `responses.rs`, `embeddings.rs`, `images.rs`, `anthropic.rs`, `gemini.rs`);
//! base64 comes from the `base64` crate.

mod anthropic;
mod conn;
mod embeddings;
mod faults;
mod gemini;
mod http;
mod images;
mod openai;
mod responses;
mod routes;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_anthropic;
#[cfg(test)]
mod tests_gemini;
#[cfg(test)]
mod tests_openai_extras;
mod text;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub use faults::{FaultOverride, Faults};
pub use openai::ReportedUsage;

/// One request as the mock received it, for tests that assert what the gateway sent upstream
/// (rewritten model, auth header, injected `stream_options`, forwarded unknown fields).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The request method, e.g. `POST`.
    pub method: String,
    /// The request target as sent, query string included.
    pub path: String,
    /// Headers in arrival order; names lower-cased because HTTP names are case-insensitive and
    /// tests should not depend on the client's spelling.
    pub headers: Vec<(String, String)>,
    /// The body after removing any chunked framing.
    pub body: Bytes,
}

impl RecordedRequest {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, `None` if it is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// State shared by the acceptor, every connection and the owning [`MockUpstream`].
///
/// Plain mutexes, each held only for a copy or a push and never across an await, so the mock
/// stays cheap as a load-benchmark upstream.
struct Shared {
    faults: Mutex<Faults>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Usage of every complete OpenAI chat answer sent (the usage chunk written, for streams).
    reported: Mutex<Vec<ReportedUsage>>,
    recording: AtomicBool,
    connections: AtomicUsize,
    api_key: Mutex<Option<String>>,
    /// Random per instance so ids from two mocks (or two runs) never collide in logs.
    id_seed: u64,
    next_id: AtomicU64,
}

/// Locks a mutex, recovering the data if a holder panicked: every value behind these locks is
/// valid after any partial update, and the mock must keep answering.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    fn report(&self, usage: ReportedUsage) {
        lock(&self.reported).push(usage);
    }

    /// Whether the request carries the configured key; compared under the lock to avoid
    /// cloning the key on every request.
    fn authorized(&self, authorization: Option<&str>) -> Result<(), bool> {
        match lock(&self.api_key).as_deref() {
            None => Ok(()),
            Some(key) => match authorization.and_then(|a| a.strip_prefix("Bearer ")) {
                Some(given) if given.trim() == key => Ok(()),
                Some(_) => Err(true),
                None => Err(authorization.is_some()),
            },
        }
    }

    /// Checks a key given by a non-OpenAI scheme (`x-api-key`, `x-goog-api-key`, `?key=`);
    /// the error says whether a key was given at all.
    fn check_key(&self, given: Option<&str>) -> Result<(), bool> {
        match lock(&self.api_key).as_deref() {
            None => Ok(()),
            Some(key) => match given {
                Some(g) if g.trim() == key => Ok(()),
                Some(_) => Err(true),
                None => Err(false),
            },
        }
    }

    fn record(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }

    /// A fresh unique hex suffix for request and completion ids.
    fn unique(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{n:016x}", self.id_seed)
    }
}

/// Seconds since the Unix epoch, for `created` fields.
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A running mock server. Dropping it stops it: the accept task is aborted, and with it every
/// open connection, so a test's sockets (including hung ones) never outlive the test.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

impl MockUpstream {
    /// Binds `listen` (port 0 picks a free port, see [`MockUpstream::addr`]) and starts serving.
    /// Every request is recorded; see [`MockUpstream::set_recording`] for long runs.
    pub async fn start(listen: SocketAddr) -> std::io::Result<MockUpstream> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            faults: Mutex::new(Faults::default()),
            requests: Mutex::new(Vec::new()),
            reported: Mutex::new(Vec::new()),
            recording: AtomicBool::new(true),
            connections: AtomicUsize::new(0),
            api_key: Mutex::new(None),
            id_seed: rand::random(),
            next_id: AtomicU64::new(0),
        });
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(MockUpstream { addr, shared, acceptor })
    }

    /// The bound address, to build the upstream base URL after binding port 0.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the instance faults; requests that start after this call see them, requests
    /// already being answered keep what they started with.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// The usage of every OpenAI chat answer the mock sent with its usage (whole answers, and
    /// streams whose usage chunk was written), in order.
    pub fn reported_usage(&self) -> Vec<ReportedUsage> {
        lock(&self.shared.reported).clone()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// TCP connections accepted so far; tests use it to check the gateway pools connections.
    pub fn connections_accepted(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// When `Some`, requests must carry the key or be refused, so tests can check the gateway
    /// sends the channel's credentials: OpenAI `Authorization: Bearer` (401), Anthropic
    /// `x-api-key` or Bearer (401), Gemini `x-goog-api-key` or `?key=` (400 if wrong, 403 if
    /// missing), each in its protocol's envelope.
    pub fn set_api_key(&self, key: Option<String>) {
        *lock(&self.shared.api_key) = key;
    }

    /// Turns request recording on or off (on by default). Off for load runs, where keeping
    /// every request would grow memory without bound.
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Relaxed);
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

/// Accepts connections until aborted. Connection tasks live in a `JoinSet` owned by this task,
/// so aborting it aborts them all; finished ones are reaped as they end.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    // Each stream event must leave at once, not wait for Nagle's timer.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "mock: set_nodelay failed");
                    }
                    connections.spawn(conn::serve(Arc::clone(&shared), stream));
                }
                Err(e) => {
                    // Usually descriptor exhaustion under load; back off instead of spinning.
                    tracing::warn!(error = %e, "mock: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Runs a mock until ctrl-c; used by `switchyard mock` and the bench scripts. Recording is off
/// because such runs are long.
pub async fn serve_forever(listen: SocketAddr) -> std::io::Result<()> {
    let mock = MockUpstream::start(listen).await?;
    mock.set_recording(false);
    tracing::info!(addr = %mock.addr(), "mock upstream listening");
    tokio::signal::ctrl_c().await?;
    tracing::info!("mock upstream stopping");
    drop(mock);
    Ok(())
}
