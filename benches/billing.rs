//! What billing adds to a request's store work: one admission with a reservation (and no rate
//! limit, whose rolling windows are a cost of their own) plus one settlement with its ledger entry, on the memory store and on a local `redis-server`
//! (started on a free loopback port; skipped when it is not installed). A timed loop, printed
//! as microseconds per admission + settlement, sequential (latency) and with 64 concurrent
//! callers (throughput). Compare the two stores within one run; these machines are shared.
//!
//! `cargo bench --bench billing`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use switchyard::config::{Money, StoreConfig, StoreOptions};
use switchyard::store::{self, AdmissionRequest, Charge, Credit, EntryKind, LedgerEntry, Reservation, Store};

const T0: i64 = 1_709_294_400_000;

fn entry(id: &str, kind: EntryKind, amount: Money) -> LedgerEntry {
    LedgerEntry {
        id: id.into(),
        kind,
        amount,
        balance_after: Money::ZERO,
        at_ms: T0,
        key_id: Some("key_b".into()),
        model: Some("m".into()),
        provider: Some("p".into()),
        tokens: None,
        estimated: false,
        aborted: false,
        capped: false,
        reason: None,
        request_id: None,
    }
}

/// One admission (a reservation) and its settlement.
async fn round(store: &Store, account: &str, i: usize) {
    let id = format!("req_{i}");
    let admission = AdmissionRequest {
        account_id: account.into(),
        now_ms: T0,
        tokens: 100,
        checks: Vec::new(),
        reserve: Some(Reservation {
            request_id: id.clone(),
            amount: Money(12_000_000_000),
            key_id: "key_b".into(),
            monthly_cap: None,
            month: 202_403,
            expires_at_ms: T0 + 900_000,
        }),
    };
    store.limits.admit(&admission).await.unwrap();
    let charge = Charge {
        account_id: account.into(),
        request_id: id.clone(),
        key_id: "key_b".into(),
        month: 202_403,
        entry: Some(entry(&id, EntryKind::Usage, Money(1_234_567))),
    };
    store.billing.settle_charge(&charge).await.unwrap();
}

async fn measure(name: &str, store: &Store, n: usize) {
    let credit = Credit {
        account_id: format!("acct_{name}"),
        idempotency_key: "bench".into(),
        body_digest: "d".into(),
        entry: entry("cr_bench", EntryKind::Credit, Money::parse_usd("1000000").unwrap()),
    };
    store.billing.credit(&credit).await.unwrap();
    let account = format!("acct_{name}");
    for i in 0..200 {
        round(store, &account, 10_000_000 + i).await;
    }
    let started = Instant::now();
    for i in 0..n {
        round(store, &account, i).await;
    }
    let sequential = started.elapsed();
    let started = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let (store, account) = (store.clone(), account.clone());
            tokio::spawn(async move {
                for i in 0..n / 64 {
                    round(&store, &account, 1_000_000 + t * n + i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let concurrent = started.elapsed();
    let per = |d: Duration, k: usize| d.as_secs_f64() * 1e6 / k as f64;
    println!(
        "{name:>6}: {:8.2} µs per admission+settlement sequential, {:8.2} µs per pair with 64 callers ({n} pairs each)",
        per(sequential, n),
        per(concurrent, n / 64 * 64)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; test runners list (`--list`) or run targets without it,
    // and this timed loop is not a test.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        measure("memory", &Store::memory(), 20_000).await;
        if Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_err() {
            println!(" redis: skipped (redis-server is not installed)");
            return;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let options = StoreOptions { timeout: Duration::from_secs(5), ..StoreOptions::default() };
        let redis = store::open(&StoreConfig::Redis(format!("redis://127.0.0.1:{port}/")), &options).unwrap();
        measure("redis", &redis, 5_000).await;
        let _ = child.kill();
        let _ = child.wait();
    });
}
