//! Where and how the process logs: human-readable lines on a terminal, JSON lines otherwise.
//!
//! Every line goes to stdout through one writer, so an access line and a diagnostic line never
//! interleave mid-line. Outside daemon mode that writer is non-blocking: request threads hand
//! whole lines to a background thread and never wait on a slow terminal or pipe (lines are never
//! dropped; only when the reader stalls entirely does a request thread wait). A daemon writes
//! directly, because `fork` keeps no threads and a background writer started before it would be
//! gone in the child.

use std::io::{IsTerminal, Write};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One compact human line per event; the access log as a short summary line.
    Text,
    /// One JSON object per line; the access log as one flat object per request.
    Json,
}

impl LogFormat {
    /// Text when stdout is a terminal (a person is reading), JSON when it is a pipe or a file
    /// (a collector is).
    pub fn detect() -> Self {
        if std::io::stdout().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        }
    }
}

/// The one destination every line is written to.
#[derive(Clone)]
pub(crate) enum LogWriter {
    /// Through the background thread.
    Background(NonBlocking),
    /// Straight to stdout (daemon mode).
    Direct,
}

impl LogWriter {
    /// Writes one whole line (it must end with a newline).
    pub(crate) fn write_line(&self, line: &[u8]) -> std::io::Result<()> {
        match self {
            LogWriter::Background(w) => w.clone().write_all(line),
            LogWriter::Direct => std::io::stdout().lock().write_all(line),
        }
    }
}

/// The writer handed to the `fmt` layer for each event.
pub(crate) enum EventWriter {
    Background(NonBlocking),
    Direct(std::io::Stdout),
}

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            EventWriter::Background(w) => w.write(buf),
            EventWriter::Direct(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            EventWriter::Background(w) => w.flush(),
            EventWriter::Direct(w) => w.flush(),
        }
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> EventWriter {
        match self {
            LogWriter::Background(w) => EventWriter::Background(w.clone()),
            LogWriter::Direct => EventWriter::Direct(std::io::stdout()),
        }
    }
}

/// Keeps the background writer alive; dropping it flushes what is still queued. Hold it until
/// the server has stopped.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _worker: Option<WorkerGuard>,
}

/// Installs the global subscriber (filter from `RUST_LOG`, default `info`) and the access-log
/// sink, in `format`. `daemon`: write directly, without a background thread (see the module
/// doc). A second call leaves the first setup in place.
pub fn init(format: LogFormat, daemon: bool) -> LogGuard {
    let (writer, worker) = if daemon {
        (LogWriter::Direct, None)
    } else {
        let (w, guard) = NonBlockingBuilder::default().lossy(false).thread_name("switchyard-log").finish(std::io::stdout());
        (LogWriter::Background(w), Some(guard))
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let installed = match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .compact()
            .with_target(false)
            .with_ansi(std::io::stdout().is_terminal())
            .with_env_filter(filter)
            .with_writer(writer.clone())
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .event_format(super::json_format::FlatJson)
            .with_env_filter(filter)
            .with_writer(writer.clone())
            .try_init(),
    };
    if installed.is_ok() {
        super::access_log::install(format, writer);
    }
    LogGuard { _worker: worker }
}
