//! The `switchyard` command: a thin shell over the library.

use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc: the gateway allocates many small, short-lived buffers per request (headers, JSON
/// field lists, SSE events); glibc's malloc spent ~14% of a load run's CPU on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchyard::server::{self, ProcessOptions};
use switchyard::telemetry::logging::{self, LogFormat, LogGuard};
use switchyard::{config, demo};

#[derive(Parser)]
#[command(name = "switchyard", version, about = "A self-hosted LLM API gateway on Pingora")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as text (for a person) or JSON (for a collector); `auto`: text on a terminal.
    #[arg(long, global = true, value_enum, default_value_t = LogFormatArg::Auto)]
    log_format: LogFormatArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormatArg {
    /// Text when stdout is a terminal, JSON otherwise.
    Auto,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormatArg {
    fn resolve(self) -> LogFormat {
        match self {
            LogFormatArg::Auto => LogFormat::detect(),
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve with the given configuration.
    Run {
        /// The YAML configuration file.
        #[arg(short, long)]
        config: PathBuf,
        /// Fork into the background.
        #[arg(short, long)]
        daemon: bool,
        /// Take over the sockets of a running instance (zero-downtime upgrade).
        #[arg(short, long)]
        upgrade: bool,
        /// The pid file written in daemon mode.
        #[arg(long)]
        pid_file: Option<String>,
        /// The socket listening fds are handed over on during an upgrade.
        #[arg(long)]
        upgrade_sock: Option<String>,
    },
    /// Check a configuration file and exit (non-zero with a message naming the field).
    Validate {
        /// The YAML configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Run the gateway in front of the built-in mock upstream and print a ready request.
    Demo {
        /// The gateway's public address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The admin address (/metrics, /healthz).
        #[arg(long, default_value = "127.0.0.1:9090")]
        admin: SocketAddr,
        /// The mock upstream's address (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        mock: SocketAddr,
        /// The client key to accept (default: a random one, printed).
        #[arg(long)]
        key: Option<String>,
    },
    /// Run only the mock upstream (for load tests).
    Mock {
        /// Where it listens.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
    },
}

/// Runs the server until it is told to stop, then lets `_logs` flush what is still queued
/// (Pingora's `run_forever` would exit the process before that).
fn serve(server: pingora::server::Server, _logs: LogGuard) -> ExitCode {
    server.run(pingora::server::RunArgs::default());
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.log_format.resolve();
    match cli.command {
        Command::Validate { config } => validate(&config),
        Command::Run { config, daemon, upgrade, pid_file, upgrade_sock } => {
            let logs = logging::init(log_format, daemon);
            run(&config, &ProcessOptions { daemon, upgrade, pid_file, upgrade_sock }, logs)
        }
        Command::Demo { listen, admin, mock, key } => {
            let logs = logging::init(log_format, false);
            run_demo(listen, admin, mock, key, logs)
        }
        Command::Mock { listen } => run_mock(listen),
    }
}

/// Prints a config error, one problem per line, each prefixed with the file.
fn report_config_error(config: &Path, error: &config::ConfigError) {
    for line in error.to_string().lines() {
        eprintln!("{}: {line}", config.display());
    }
}

/// Binds every listener address once and lets go again, so that a busy or forbidden port ends
/// the process at once with one clear line. Pingora binds inside its service threads, where a
/// failure retries, panics and leaves a live process without a listener (which systemd would
/// report as "active"). A port taken in the instant between this probe and Pingora's bind is
/// not covered.
fn check_listeners(listeners: &[(&str, SocketAddr)]) -> Result<(), String> {
    for (field, addr) in listeners {
        if let Err(e) = TcpListener::bind(addr) {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                " (is another instance running? stop it, or pick another port)"
            } else if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (ports below 1024 need CAP_NET_BIND_SERVICE)"
            } else {
                ""
            };
            return Err(format!("cannot listen on {addr} ({field}): {e}{hint}"));
        }
    }
    Ok(())
}

/// Installs the process-wide SIGHUP handler at once, so that a SIGHUP in the moments before
/// the reload service runs is held for it rather than ending the process. Tokio registers a
/// signal's handler once per process and never removes it, and every runtime reads from the
/// same queue, so the throwaway runtime here keeps nothing that Pingora's runtimes need.
fn catch_sighup_now() {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_io().build() else { return };
    if let Err(e) = runtime.block_on(async { tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) }) {
        eprintln!("cannot watch SIGHUP: {e}");
    }
}

/// `validate`: load and check the file, say what it holds.
fn validate(config: &Path) -> ExitCode {
    match config::load(config) {
        Ok(c) => {
            println!(
                "{}: ok ({} providers, {} models, {} keys)",
                config.display(),
                c.providers.len(),
                c.models.len(),
                c.keys.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_config_error(config, &e);
            ExitCode::from(2)
        }
    }
}

/// `run`: serve the configuration until told to stop.
fn run(config: &Path, process: &ProcessOptions, logs: LogGuard) -> ExitCode {
    let conf = match config::load(config) {
        Ok(c) => c,
        Err(e) => {
            report_config_error(config, &e);
            return ExitCode::from(2);
        }
    };
    // On an upgrade the sockets come from the running instance, which still holds them.
    if !process.upgrade {
        if let Err(line) = check_listeners(&[("listen", conf.listen), ("admin.listen", conf.admin.listen)]) {
            eprintln!("{line}");
            return ExitCode::from(1);
        }
    }
    catch_sighup_now();
    match server::build(conf, Some(config.to_owned()), process) {
        Ok(server) => serve(server, logs),
        Err(e) => {
            eprintln!("cannot start: {e}");
            ExitCode::from(1)
        }
    }
}

/// `demo`: the gateway in front of the built-in mock, with a ready request printed.
fn run_demo(listen: SocketAddr, admin: SocketAddr, mock: SocketAddr, key: Option<String>, logs: LogGuard) -> ExitCode {
    let mock = match resolve_port(mock) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cannot pick a port for the mock upstream: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(line) = check_listeners(&[("--listen", listen), ("--admin", admin), ("--mock", mock)]) {
        eprintln!("{line}");
        return ExitCode::from(1);
    }
    let settings = demo::DemoSettings { listen, admin, mock, key: key.unwrap_or_else(demo::random_key) };
    let conf = match demo::config(&settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("demo config: {e}");
            return ExitCode::from(1);
        }
    };
    match server::build(conf, None, &ProcessOptions::default()) {
        Ok(mut server) => {
            server.add_service(pingora::services::background::background_service("demo-mock", demo::MockService { addr: mock }));
            println!("{}", demo::instructions(&settings));
            serve(server, logs)
        }
        Err(e) => {
            eprintln!("cannot start: {e}");
            ExitCode::from(1)
        }
    }
}

/// `mock`: only the mock upstream, for load tests.
fn run_mock(listen: SocketAddr) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(switchyard::mock::serve_forever(listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock upstream: {e}");
            ExitCode::from(1)
        }
    }
}

/// A concrete address for `addr`: port 0 becomes a free port chosen by the OS now.
fn resolve_port(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    TcpListener::bind(addr)?.local_addr()
}
