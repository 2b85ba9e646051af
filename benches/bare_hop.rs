//! The plainest Pingora 0.9 pass-through hop, the yardstick for `benches/load/run.sh`.
//!
//! `bare_hop LISTEN UPSTREAM` (both `ip:port`): every request goes unchanged to UPSTREAM over
//! plain HTTP/1.1 with Pingora's pooled keep-alive connections, 2 worker threads, nothing else.
//! It is what BASELINE.md calls "plainest Pingora 0.9.1 `ProxyHttp` pass-through", so the
//! Switchyard/bare ratio measured in one run says what Switchyard's own work costs on top.

use std::net::SocketAddr;
use std::process::ExitCode;

use async_trait::async_trait;
use pingora::prelude::Result;
use pingora::proxy::{http_proxy_service, ProxyHttp, Session};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::upstreams::peer::HttpPeer;

/// Forwards everything to one fixed upstream.
struct BareHop {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for BareHop {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        // A SocketAddr peer: no DNS lookup, no TLS, no SNI.
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn parse_addr(what: &str, value: Option<String>) -> std::result::Result<SocketAddr, String> {
    let value = value.ok_or_else(|| format!("missing {what}"))?;
    value.parse().map_err(|e| format!("bad {what} {value:?}: {e}"))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addrs = parse_addr("LISTEN", args.next()).and_then(|l| Ok((l, parse_addr("UPSTREAM", args.next())?)));
    let (listen, upstream) = match addrs {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bare_hop: {e}\nusage: bare_hop LISTEN_ADDR UPSTREAM_ADDR   (e.g. 127.0.0.1:8090 127.0.0.1:8081)");
            return ExitCode::from(2);
        }
    };

    // 2 threads as in BASELINE.md; short grace periods so the script's SIGINT/SIGTERM ends it fast.
    let conf = ServerConf {
        threads: 2,
        grace_period_seconds: Some(1),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };

    let mut server = Server::new_with_opt_and_conf(Opt::default(), conf);
    server.bootstrap();

    let mut proxy = http_proxy_service(&server.configuration, BareHop { upstream });
    proxy.add_tcp(&listen.to_string());
    server.add_service(proxy);

    eprintln!("bare_hop: {listen} -> {upstream}");
    server.run_forever()
}
