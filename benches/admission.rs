//! What admission and settlement cost per request, memory store against Redis: one
//! `Accounts::admit` (every limit of the key and its account checked and counted in one store
//! round trip) plus one `Accounts::settle` (the TPM estimate corrected), for a key with RPM,
//! RPD and TPM limits on itself and its account.
//!
//! The Redis half starts its own `redis-server` on a free loopback port (skipped when the
//! binary is missing).
//!
//! Run: `cargo bench --bench admission -- --warm-up-time 1 --measurement-time 3`

// Benches are test code: the crate-wide deny of unwrap/expect/panic is for production paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchyard::account::{Accounts, AdmitRequest};
use switchyard::config::{Money, StoreConfig, StoreOptions};
use switchyard::store::{self, Store};

const CONFIG: &str = r#"
listen: 127.0.0.1:8080
providers: [ { name: p, protocol: openai, base_url: "http://127.0.0.1:1", api_key: x } ]
models: [ { id: m, channels: [ { provider: p, model: m } ] } ]
accounts: [ { id: team, limits: { rpm: 1000000000, rpd: 1000000000, tpm: 1000000000000 } } ]
keys:
  - { name: member, key: sk-bench-member, account: team, limits: { rpm: 1000000000, rpd: 1000000000, tpm: 1000000000000 } }
"#;

/// A `redis-server` on a free loopback port, killed on drop.
struct Redis(Child, u16);

impl Redis {
    fn start() -> Option<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Redis(child, port))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bench_store(c: &mut Criterion, name: &str, store: Store) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = switchyard::config::parse(CONFIG, &|_| None).unwrap();
    let accounts = Accounts::new(&config, store);
    let principal = runtime.block_on(accounts.authenticate("sk-bench-member", 0)).unwrap();
    let now_ms = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let request = AdmitRequest {
        model: "m".into(),
        free: false,
        est_tokens: 1200,
        now_ms,
        request_id: "bench".into(),
        worst_case: Money::ZERO,
    };
    c.bench_function(&format!("admit_and_settle/{name}"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let admitted = accounts.admit(&principal, &request).await.unwrap();
                assert!(!admitted.unchecked, "the store answered");
                accounts.settle(&admitted, 900).await;
            });
        });
    });
}

fn admission(c: &mut Criterion) {
    bench_store(c, "memory", Store::memory());
    let Some(redis) = Redis::start() else {
        eprintln!("redis-server is not installed: the Redis half is skipped");
        return;
    };
    let options = StoreOptions { timeout: Duration::from_secs(2), ..StoreOptions::default() };
    let store = store::open(&StoreConfig::Redis(format!("redis://127.0.0.1:{}/", redis.1)), &options).unwrap();
    bench_store(c, "redis", store);
}

criterion_group!(benches, admission);
criterion_main!(benches);
