//! HTTPS upstreams: rustls with SNI and certificate verification, `Host`, ALPN h2.
//!
//! nginx terminates TLS (with a certificate from a throwaway CA made by `openssl`) in front of
//! the mock; the gateway trusts that CA through `SSL_CERT_FILE` only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchyard::mock::MockUpstream;

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a `localhost` leaf certificate signed by it.
fn make_certs(dir: &Path) {
    let d = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Switchyard Test CA"])
        .args(["-keyout", &d("ca.key"), "-out", &d("ca.pem")]));
    run(Command::new("openssl").args(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"]).args([
        "-keyout",
        &d("leaf.key"),
        "-out",
        &d("leaf.csr"),
    ]));
    std::fs::write(dir.join("leaf.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").unwrap();
    run(Command::new("openssl").args(["x509", "-req", "-days", "2", "-CAcreateserial"]).args([
        "-in",
        &d("leaf.csr"),
        "-CA",
        &d("ca.pem"),
        "-CAkey",
        &d("ca.key"),
        "-out",
        &d("leaf.pem"),
        "-extfile",
        &d("leaf.ext"),
    ]));
}

/// nginx in the foreground as one process (`daemon off; master_process off;`): killing the
/// child ends all of it. With a master, `Child::kill` ended only the master and left a worker
/// listening after every run.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

async fn start_nginx(dir: &Path, port: u16, upstream: std::net::SocketAddr) -> Nginx {
    let p = dir.to_str().unwrap();
    let user = if unsafe_is_root() { "user root;" } else { "" };
    let conf = format!(
        "{user}\ndaemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\nevents {{ worker_connections 64; }}\n\
http {{\n  access_log off;\n  client_body_temp_path {p}/body; proxy_temp_path {p}/proxy; fastcgi_temp_path {p}/fcgi; uwsgi_temp_path {p}/uwsgi; scgi_temp_path {p}/scgi;\n\
  server {{\n    listen 127.0.0.1:{port} ssl http2;\n    server_name localhost;\n    ssl_certificate {p}/leaf.pem;\n    ssl_certificate_key {p}/leaf.key;\n\
    location / {{\n      proxy_pass http://{upstream};\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_buffering off;\n\
      proxy_set_header X-Seen-Host $http_host;\n      proxy_set_header X-Seen-Sni $ssl_server_name;\n      proxy_set_header X-Seen-Protocol $server_protocol;\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(nginx_binary())
        .args(["-p", p, "-c", &format!("{p}/nginx.conf"), "-e", &format!("{p}/error.log")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx is installed by scripts/test.sh");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Nginx(child)
}

fn unsafe_is_root() -> bool {
    // `id -u` avoids a libc dependency for one check.
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false)
}

#[tokio::test]
async fn https_upstream_with_sni_host_and_verified_certificate() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = free_addr().port();
    let nginx = start_nginx(dir.path(), port, mock.addr()).await;

    let yaml = config(
        &[format!(
            "  - {{ name: tls, protocol: openai, base_url: \"https://localhost:{port}/v1\", api_key: \"{UPSTREAM_KEY}\", timeouts: {{ connect: 2s, first_byte: 5s, idle: 5s }} }}\n"
        )],
        &[("tls", 0)],
        "",
    );
    let ca = dir.path().join("ca.pem");
    let gw = Gateway::start_with_env(&yaml, &[("SSL_CERT_FILE", ca.to_str().unwrap())]).await;
    for stream in [false, true, false] {
        let resp = gw.chat(hello(json!({"stream": stream}))).await;
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "{text} {}", std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default());
        assert!(text.contains("Echo"));
    }
    let sent = &mock.requests()[0];
    assert_eq!(sent.header("x-seen-sni"), Some("localhost"));
    assert_eq!(sent.header("x-seen-host"), Some(format!("localhost:{port}").as_str()));
    assert_eq!(sent.header("x-seen-protocol"), Some("HTTP/2.0"), "ALPN negotiated h2 with the provider");
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {UPSTREAM_KEY}").as_str()));

    // Without the test CA the certificate cannot be verified: the channel fails, nothing is sent.
    let untrusted = Gateway::start_with_env(&yaml, &[("SSL_CERT_FILE", "/nonexistent-ca.pem")]).await;
    let before = mock.requests().len();
    let body = assert_error(untrusted.chat(hello(json!({}))).await, 503).await;
    assert_eq!(body["error"]["code"], "no_available_channel");
    assert_eq!(mock.requests().len(), before);

    // Nothing of nginx outlives the test: once it is stopped, its port refuses connections.
    drop(nginx);
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
        assert!(Instant::now() < deadline, "an nginx process still listens on {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
