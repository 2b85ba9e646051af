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
