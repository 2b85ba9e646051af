//! Metrics, the process's log setup and the access log.

pub mod access_log;
mod json_format;
pub mod logging;
pub mod metrics;
