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
