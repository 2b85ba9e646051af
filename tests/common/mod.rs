//! Test harness: the real `switchyard` binary on loopback ports in front of in-process mocks.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod redis;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchyard::mock::MockUpstream;

/// The client key every test config accepts.
pub const KEY: &str = "sk-test-client";
/// The upstream key every test provider sends.
pub const UPSTREAM_KEY: &str = "sk-upstream-secret-value";

/// A free loopback port (bound to port 0, then released for the child process).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A running gateway process; killed on drop.
pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    /// The config's first lines (listeners, server), kept by [`Gateway::rewrite_config`].
    head: String,
    /// Extra arguments and environment of the launch, reused by [`Gateway::upgrade`].
    args: Vec<String>,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// Starts the gateway with a config whose `listen`/`admin` lines are added here.
    pub async fn start(body: &str) -> Gateway {
        Self::start_with_env(body, &[]).await
    }

    /// Starts the gateway with extra environment variables (e.g. `SSL_CERT_FILE`).
    pub async fn start_with_env(body: &str, env: &[(&str, &str)]) -> Gateway {
        Self::launch(body, &Launch { env, ..Launch::default() }).await
    }

    /// Starts the gateway as `launch` says.
    pub async fn launch(body: &str, launch: &Launch<'_>) -> Gateway {
        let addr = free_addr();
        let admin = free_addr();
        let admin_extra = launch.admin;
        let (grace, shutdown) = launch.drain_seconds.map_or((0, 1), |s| (s, s));
        let head = format!(
            "listen: {addr}\nadmin: {{ listen: {admin}{admin_extra} }}\nserver: {{ threads: 2, grace_period_seconds: {grace}, graceful_shutdown_timeout_seconds: {shutdown} }}\n"
        );
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), &format!("{head}{body}"));
        let args: Vec<String> = launch.args.iter().map(|a| (*a).to_owned()).collect();
        let env: Vec<(String, String)> = launch.env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let child = spawn(dir.path(), &args, &env, false);
        let gw = Gateway { child, addr, admin, head, args, env, _dir: dir };
        gw.wait_ready().await;
        gw
    }

    /// Kills the gateway at once (SIGKILL): no drain, nothing settled, as when a machine dies.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Replaces the config file's body (everything below the listeners), as an operator edits
    /// it before a reload.
    pub fn rewrite_config(&self, body: &str) {
        write_config(self._dir.path(), &format!("{}{body}", self.head));
    }

    /// Sends SIGHUP (what `systemctl reload` does).
    pub fn hangup(&self) {
        let sent = Command::new("kill").args(["-HUP", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
    }

    /// A graceful upgrade, as the README describes it: a new process started with `-u` takes
    /// the listening sockets over, then the old one gets SIGQUIT and finishes its requests.
    /// Waits until the old process has exited.
    pub async fn upgrade(&mut self) {
        let new = spawn(self._dir.path(), &self.args, &self.env, true);
        // The new process waits for the sockets on the upgrade socket; give it a moment to bind.
        let sock = self._dir.path().join("upgrade.sock");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut old = std::mem::replace(&mut self.child, new);
        let sent = Command::new("kill").args(["-QUIT", &old.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if old.try_wait().unwrap().is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "the old process did not exit after SIGQUIT");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.wait_ready().await;
    }

    /// Asks the gateway to stop (SIGTERM) and waits until it has exited; its log is complete
    /// afterwards.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the gateway did not stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The access-log records once `ready` holds for them (each is written just after its
    /// response went out, so a test reading at once may be a moment early); the last read when
    /// the deadline passes.
    pub async fn access_records_when(&self, ready: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let records = self.access_records();
            if ready(&records) || Instant::now() > deadline {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            let public = client.get(self.url("/healthz")).send().await;
            let admin = client.get(format!("http://{}/healthz", self.admin)).send().await;
            if matches!((public, admin), (Ok(a), Ok(b)) if a.status() == 200 && b.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gateway did not become ready");
    }

    /// Everything the gateway wrote to stdout so far (the JSON logs).
    /// The gateway's resident memory in KiB (Linux `/proc`), for the bounded-memory tests.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// The access-log records so far: the flat JSON lines whose `target` is `access`.
    pub fn access_records(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"] == "access")
            .collect()
    }

    /// The access-log record of request `id`, waiting for it (it is written after the answer).
    pub async fn access_record(&self, id: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(r) = self.access_records().into_iter().find(|r| r["request_id"] == id) {
                return r;
            }
            assert!(std::time::Instant::now() < deadline, "no access record for {id}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs a chat completion with the test key.
    pub async fn chat(&self, body: serde_json::Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.admin)).await.unwrap().text().await.unwrap()
    }

    /// The metrics once `ready` holds: they are recorded in the logging hook, which runs just
    /// after the response went out, so a test reading them at once may be a moment early.
    pub async fn metrics_when(&self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let m = self.metrics().await;
            if ready(&m) || Instant::now() > deadline {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Writes `dir/switchyard.yaml` in one step (a reload never reads half a file).
fn write_config(dir: &std::path::Path, yaml: &str) {
    let tmp = dir.join("switchyard.yaml.tmp");
    std::fs::File::create(&tmp).unwrap().write_all(yaml.as_bytes()).unwrap();
    std::fs::rename(tmp, dir.join("switchyard.yaml")).unwrap();
}

/// Starts the binary on the config file in `dir`; `upgrade` adds `-u` (take over the listeners
/// of the running instance).
fn spawn(dir: &std::path::Path, args: &[String], env: &[(String, String)], upgrade: bool) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("stdout.log")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.args(["run", "-c"])
        .arg(dir.join("switchyard.yaml"))
        .args(["--pid-file", dir.join("pid").to_str().unwrap()])
        .args(["--upgrade-sock", dir.join("upgrade.sock").to_str().unwrap()]);
    if upgrade {
        cmd.arg("-u");
    }
    cmd.args(args)
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::from(log))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// How to start a gateway beyond its config body.
#[derive(Default)]
pub struct Launch<'a> {
    /// Extra environment variables (e.g. `SSL_CERT_FILE`).
    pub env: &'a [(&'a str, &'a str)],
    /// Extra command-line arguments after `run` (e.g. `--log-format text`).
    pub args: &'a [&'a str],
    /// Extra `admin:` fields, each starting with `, ` (e.g. `, token: t`).
    pub admin: &'a str,
    /// `grace_period_seconds` and `graceful_shutdown_timeout_seconds`: how long a stopping
    /// process keeps serving what it has (default 0 and 1, to keep tests quick).
    pub drain_seconds: Option<u64>,
}

/// A provider entry pointing at `addr` (OpenAI protocol, the test upstream key).
pub fn provider(name: &str, addr: SocketAddr, timeouts: &str) -> String {
    format!(
        "  - {{ name: {name}, protocol: openai, base_url: \"http://{addr}/v1\", api_key: \"{UPSTREAM_KEY}\", timeouts: {{ {timeouts} }} }}\n"
    )
}

/// A config with the given providers and one model `public-model` served by `channels`
/// (`(provider, priority)` each, upstream model `upstream-model`).
pub fn config(providers: &[String], channels: &[(&str, u32)], extra: &str) -> String {
    let mut yaml = String::from("providers:\n");
    for p in providers {
        yaml.push_str(p);
    }
    yaml.push_str("models:\n  - id: public-model\n    aliases: [vendor/public-model]\n    channels:\n");
    for (name, priority) in channels {
        yaml.push_str(&format!("      - {{ provider: {name}, model: upstream-model, priority: {priority}, weight: 1 }}\n"));
    }
    yaml.push_str(&format!("keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n"));
    yaml.push_str(extra);
    yaml
}

/// One mock and a gateway in front of it.
pub async fn single() -> (MockUpstream, Gateway) {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gw = Gateway::start(&config(
        &[provider("primary", mock.addr(), "connect: 1s, first_byte: 5s, idle: 5s")],
        &[("primary", 0)],
        "",
    ))
    .await;
    (mock, gw)
}

/// Two mocks as priority 0 and 1 channels of one model.
pub async fn pair(timeouts: &str, extra: &str) -> (MockUpstream, MockUpstream, Gateway) {
    let a = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let b = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gw = Gateway::start(&config(
        &[provider("first", a.addr(), timeouts), provider("second", b.addr(), timeouts)],
        &[("first", 0), ("second", 1)],
        extra,
    ))
    .await;
    (a, b, gw)
}

/// A user message request for `public-model`.
pub fn hello(extra: serde_json::Value) -> serde_json::Value {
    let mut body = serde_json::json!({"model": "public-model", "messages": [{"role": "user", "content": "Hello there"}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    body
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|frame| frame.lines().find_map(|l| l.strip_prefix("data: ")).map(str::to_owned))
        .collect()
}

/// Asserts an OpenAI error envelope whose request id matches the response header.
pub async fn assert_error(resp: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status);
    let id = resp.headers().get("x-request-id").expect("x-request-id").to_str().unwrap().to_owned();
    let body: serde_json::Value = resp.json().await.unwrap();
    let err = &body["error"];
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(err["type"].as_str().is_some(), "{body}");
    assert_eq!(err["request_id"], id.as_str(), "{body}");
    body
}
