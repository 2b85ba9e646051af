//! A real `redis-server` for the Redis store tests, on a free loopback port.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` on a loopback port; killed on drop.
pub struct Redis {
    child: Option<Child>,
    /// Its loopback port.
    pub port: u16,
    /// Where it keeps an append-only file synced on every write, when it must survive restarts.
    persist: Option<std::path::PathBuf>,
}

impl Redis {
    /// A running server, or `None` (with a notice) when redis-server is not installed and the
    /// test command did not require it.
    pub fn start() -> Option<Redis> {
        if Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_err() {
            // The test command installs redis-server and sets this: there, a missing server fails.
            assert!(std::env::var_os("SWITCHYARD_REQUIRE_REDIS").is_none(), "redis-server is required but not installed");
            eprintln!("NOTICE: redis-server is not installed; skipping (scripts/test.sh installs it)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = Redis { child: None, port, persist: None };
        redis.launch();
        Some(redis)
    }

    /// A server that keeps its data in `dir` across [`Redis::stop`] and [`Redis::launch`]
    /// (append-only file, fsync on every write).
    pub fn start_persistent(dir: &std::path::Path) -> Option<Redis> {
        let mut redis = Self::start()?;
        redis.stop();
        redis.persist = Some(dir.to_owned());
        redis.launch();
        Some(redis)
    }

    /// Starts (or restarts) the server on its port and waits until it accepts connections.
    pub fn launch(&mut self) {
        let mut command = Command::new("redis-server");
        command.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""]);
        match &self.persist {
            Some(dir) => command.args(["--appendonly", "yes", "--appendfsync", "always", "--dir"]).arg(dir),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command.stdout(Stdio::null()).spawn().unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (its port stays reserved for `launch`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A three-master Redis Cluster on loopback (`redis-server --cluster-enabled yes` ×3, joined
/// by `redis-cli --cluster create`); killed on drop.
pub struct RedisCluster {
    nodes: Vec<Child>,
    /// The nodes' ports.
    pub ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// A running cluster with every slot covered, or `None` as [`Redis::start`].
    pub fn start() -> Option<RedisCluster> {
        Redis::start()?; // the same "is redis-server installed" rule; that server is dropped at once
        let dir = tempfile::tempdir().unwrap();
        let ports = cluster_ports(3);
        let nodes = ports
            .iter()
            .map(|port| {
                Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                    .args(["--cluster-config-file", dir.path().join(format!("nodes-{port}.conf")).to_str().unwrap()])
                    .args(["--dir", dir.path().to_str().unwrap()])
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let cluster = RedisCluster { nodes, ports, _dir: dir };
        for port in &cluster.ports {
            let deadline = Instant::now() + Duration::from_secs(10);
            while TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(Instant::now() < deadline, "redis-server (cluster node) did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let addrs: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(created.status.success(), "redis-cli --cluster create failed: {}", String::from_utf8_lossy(&created.stdout));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.ports.iter().all(|p| cluster_ok(*p)) {
            assert!(Instant::now() < deadline, "the cluster did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(cluster)
    }

    /// `redis-cluster://127.0.0.1:a,127.0.0.1:b,127.0.0.1:c`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis-cluster://{}", nodes.join(","))
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

/// Whether the node on `port` reports `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
}

/// `n` free ports (chosen by the OS, so parallel tests do not collide) whose cluster bus ports
/// (port + 10000) are free too.
fn cluster_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    while ports.len() < n {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bus_free = port.checked_add(10_000).is_some_and(|bus| TcpListener::bind(("127.0.0.1", bus)).is_ok());
        if bus_free && !ports.contains(&port) {
            ports.push(port);
        }
    }
    ports
}
