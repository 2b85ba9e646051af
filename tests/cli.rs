//! The command line: `validate` names the faulty field, `demo` serves what it prints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn switchyard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

#[test]
fn validate_accepts_the_example_config() {
    let out = switchyard()
        .args(["validate", "-c", concat!(env!("CARGO_MANIFEST_DIR"), "/conf/switchyard.example.yaml")])
        .env("OPENAI_API_KEY", "sk-openai")
        .env("BACKUP_API_KEY", "sk-backup")
        .env("ANTHROPIC_API_KEY", "sk-ant")
        .env("DEMO_KEY", "sk-demo")
        .env("SWITCHYARD_ADMIN_TOKEN", "admin-token")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn validate_names_the_exact_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(
            b"listen: 127.0.0.1:8080\nproviders:\n  - { name: openai, protocol: openai, base_url: https://api.openai.com/v1, api_key: x }\n\
models:\n  - id: m\n    channels:\n      - { provider: openai, model: m }\n      - { provider: backup, model: m }\n",
        )
        .unwrap();
    let out = switchyard().args(["validate", "-c"]).arg(&path).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("models[0].channels[1].provider"), "{err}");
    assert!(err.contains("backup"), "{err}");

    let out = switchyard().args(["validate", "-c", "/nonexistent/switchyard.yaml"]).output().unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn demo_prints_a_key_and_a_request_that_works() {
    let listen = common::free_addr();
    let admin = common::free_addr();
    let mut child = switchyard()
        .args(["demo", "--listen", &listen.to_string(), "--admin", &admin.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Keep draining stdout after the key line: a closed pipe would break the demo's output.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(key) = line.strip_prefix("API key: ") {
                let _ = tx.send(key.to_owned());
            }
        }
    });
    let key = rx.recv_timeout(Duration::from_secs(20)).expect("the demo prints its key");

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let resp = loop {
        let attempt = client
            .post(format!("http://{listen}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"model": "demo-model", "messages": [{"role": "user", "content": "Hello from the demo"}]}))
            .send()
            .await;
        match attempt {
            Ok(r) => break r,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("demo never answered: {e}"),
        }
    };
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Echo: Hello from the demo");
    assert_eq!(body["model"], "demo-model");
    let _ = child.kill();
    let _ = child.wait();
}

/// Writes `yaml` to a fresh file; the directory lives as long as the returned guard.
fn config_file(yaml: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.yaml");
    std::fs::write(&path, yaml).unwrap();
    (dir, path)
}

/// Waits for `child` to exit within `limit`; kills it and fails otherwise.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process was still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const MINIMAL: &str = "providers:\n  - { name: p, protocol: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: x }\n\
models:\n  - { id: m, channels: [ { provider: p, model: m } ] }\n";

#[test]
fn a_busy_port_ends_run_at_once_with_one_line() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let admin = common::free_addr();
    let (dir, path) = config_file(&format!("listen: {addr}\nadmin: {{ listen: {admin} }}\n{MINIMAL}"));
    let started = Instant::now();
    let mut child = switchyard()
        .args(["run", "-c"])
        .arg(&path)
        .args(["--upgrade-sock", dir.path().join("upgrade.sock").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = exit_within(&mut child, Duration::from_secs(10));
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got: {err}");
    assert!(lines[0].starts_with(&format!("cannot listen on {addr} (listen): ")), "{err}");
    assert!(lines[0].contains("another instance"), "{err}");
    assert!(out.stdout.is_empty(), "nothing else is printed: {}", String::from_utf8_lossy(&out.stdout));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    drop(busy);
}

#[test]
fn a_busy_port_ends_demo_before_it_prints_a_key() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = busy.local_addr().unwrap();
    let listen = common::free_addr();
    let mut child = switchyard()
        .args(["demo", "--listen", &listen.to_string(), "--admin", &admin.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = exit_within(&mut child, Duration::from_secs(10));
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim_end().lines().count() == 1 && err.contains(&format!("cannot listen on {admin} (--admin)")), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("API key"), "no banner with a key that cannot work");
    drop(busy);
}

#[test]
fn validate_reports_every_unset_variable_at_once() {
    let (_dir, path) = config_file(
        "listen: 127.0.0.1:8080\nadmin: { token: \"${SY_TEST_UNSET_TOKEN}\" }\nproviders:\n\
  - { name: p, protocol: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: \"${SY_TEST_UNSET_A}\" }\n\
  - { name: q, protocol: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: \"${SY_TEST_UNSET_B}\" }\n\
models:\n  - { id: m, channels: [ { provider: p, model: m } ] }\n",
    );
    let out = switchyard().args(["validate", "-c"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let file = path.display().to_string();
    assert_eq!(
        lines,
        [
            format!("{file}: admin.token: environment variable SY_TEST_UNSET_TOKEN is not set"),
            format!("{file}: providers[0].api_key: environment variable SY_TEST_UNSET_A is not set"),
            format!("{file}: providers[1].api_key: environment variable SY_TEST_UNSET_B is not set"),
        ],
        "{err}"
    );
}

#[test]
fn validate_explains_that_listen_needs_an_ip() {
    let (_dir, path) = config_file(&format!("listen: localhost:8080\n{MINIMAL}"));
    let out = switchyard().args(["validate", "-c"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen: \"localhost:8080\" is not an IP address and port"), "{err}");
    assert!(err.contains("127.0.0.1:8080"), "the fix is shown: {err}");
}

/// The README's "Running" command sets exactly the variables the example config needs: the
/// example validates with those (and nothing else) in the environment.
#[test]
fn the_readme_running_command_sets_every_variable_the_example_needs() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("\n## Running\n").nth(1).expect("a Running section");
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("a sh block");
    let run = block.lines().take_while(|l| !l.contains("curl")).collect::<Vec<_>>().join(" ");
    assert!(run.contains("switchyard run -c conf/switchyard.example.yaml"), "{run}");
    let vars: Vec<&str> = run
        .split_whitespace()
        .filter_map(|w| w.split_once('=').map(|(name, _)| name))
        .filter(|n| !n.is_empty())
        .collect();
    assert!(!vars.is_empty(), "{run}");
    let mut cmd = switchyard();
    cmd.env_clear().args(["validate", "-c", concat!(env!("CARGO_MANIFEST_DIR"), "/conf/switchyard.example.yaml")]);
    for name in &vars {
        cmd.env(name, "set-by-test");
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "README sets {vars:?}: {}", String::from_utf8_lossy(&out.stderr));
}

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/switchyard.service");

/// The value of `Key=` in the unit (the last one, as systemd reads it).
fn unit_value(unit: &str, key: &str) -> Option<String> {
    unit.lines().rev().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('='))).map(str::to_owned)
}

#[test]
fn the_unit_validates_first_reloads_with_sighup_and_outwaits_the_grace_period() {
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let pre = unit_value(&unit, "ExecStartPre").unwrap();
    let start = unit_value(&unit, "ExecStart").unwrap();
    assert!(pre.contains("switchyard validate -c /etc/switchyard/switchyard.yaml"), "{pre}");
    assert!(start.contains("switchyard run -c /etc/switchyard/switchyard.yaml"), "{start}");
    assert_eq!(unit_value(&unit, "ExecReload").as_deref(), Some("/bin/kill -HUP $MAINPID"));
    assert_eq!(unit_value(&unit, "EnvironmentFile").as_deref(), Some("/etc/switchyard/switchyard.env"));
    // Above the default grace period plus the shutdown timeout (server.* in the config).
    let defaults = switchyard::config::ServerSettings::default();
    let stop: u64 = unit_value(&unit, "TimeoutStopSec").unwrap().parse().unwrap();
    assert!(stop > defaults.grace_period_seconds + defaults.graceful_shutdown_timeout_seconds, "TimeoutStopSec={stop}");
    assert_eq!(unit_value(&unit, "CapabilityBoundingSet").as_deref(), Some(""));

    // The EnvironmentFile template names every variable the example config reads.
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/switchyard.env.example")).unwrap();
    let mut cmd = switchyard();
    cmd.env_clear().args(["validate", "-c", concat!(env!("CARGO_MANIFEST_DIR"), "/conf/switchyard.example.yaml")]);
    for (name, value) in template.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_once('=')) {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `systemd-analyze verify` accepts the unit without a warning, and `security` rates it
/// below 2.0. Skips, saying why, only where the tool is missing.
#[test]
fn systemd_analyze_verifies_the_unit_and_rates_it_below_2() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian: apt-get install systemd)");
        return;
    }
    // verify checks that the binaries exist: point the copy at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(UNIT).unwrap().replace("/usr/local/bin/switchyard", env!("CARGO_BIN_EXE_switchyard"));
    let path = dir.path().join("switchyard.service");
    std::fs::write(&path, unit).unwrap();

    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "verify: {err}");

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("offline") {
        eprintln!("SKIPPED the score: this systemd-analyze has no --offline (systemd < 250)");
        return;
    }
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for switchyard.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no score in: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(score < 2.0, "exposure {score}:\n{text}");
}

/// `systemctl reload` sends SIGHUP; the signal's default action would end the process (and
/// systemd would not restart it, a SIGHUP exit counting as clean).
#[tokio::test]
async fn sighup_is_logged_and_the_server_keeps_serving() {
    let listen = common::free_addr();
    let admin = common::free_addr();
    let (dir, path) = config_file(&format!("listen: {listen}\nadmin: {{ listen: {admin} }}\n{MINIMAL}"));
    let log = std::fs::File::create(dir.path().join("out.log")).unwrap();
    let mut child = switchyard()
        .args(["run", "-c"])
        .arg(&path)
        .args(["--upgrade-sock", dir.path().join("upgrade.sock").to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let health = format!("http://{listen}/healthz");
    let client = reqwest::Client::new();
    let up = |deadline: Instant| {
        let (client, health) = (client.clone(), health.clone());
        async move {
            loop {
                if client.get(&health).send().await.is_ok_and(|r| r.status() == 200) {
                    return true;
                }
                if Instant::now() > deadline {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(up(Instant::now() + Duration::from_secs(20)).await, "the gateway did not start");
    let logged = || std::fs::read_to_string(dir.path().join("out.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    // The watcher starts with the background services: repeat the signal until it is logged.
    while !logged().contains("config reloaded (SIGHUP)") {
        assert!(child.try_wait().unwrap().is_none(), "SIGHUP ended the process");
        assert!(Instant::now() < deadline, "SIGHUP was not logged: {}", logged());
        assert!(Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap().success());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(child.try_wait().unwrap().is_none(), "SIGHUP ended the process");
    assert!(up(Instant::now() + Duration::from_secs(5)).await, "the gateway still serves after SIGHUP");
    let _ = child.kill();
    let _ = child.wait();
}
