//! Switchyard: a self-hosted LLM API gateway on Pingora.
//!
//! The crate is layered: `protocol` is pure wire-format code, `config` turns YAML into a
//! validated contract, `upstream`/`routing`/`account`/`telemetry` each own one job, and
//! `gateway` is where they meet inside Pingora's `ProxyHttp`. `server` assembles the services.

pub mod account;
pub mod admin;
pub mod config;
pub mod demo;
pub mod drain;
pub mod gateway;
pub mod mock;
pub mod protocol;
pub mod reload;
pub mod routing;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod usage;
