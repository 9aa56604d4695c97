//! The gateway benchmark's floor: hyper's server (through `sentinel_testkit::serve`, which
//! reads each body whole as the gateway does) and DeepSentinel's `HttpTransport`, with no
//! pipeline between them: no parsing, scanning, policy, audit or metrics. What the gateway
//! adds above this is the pipeline's cost. Usage: `proxy-floor UPSTREAM_URL [WORKERS]`,
//! WORKERS as the gateway's `[server] workers` (`1`: one current-thread runtime; a number:
//! that many threads; absent or `auto`: one per core); prints `127.0.0.1:PORT` once it
//! listens, then serves until interrupted (SIGINT, which the benchmark sends; handled
//! here, since a shell starting the benchmark in the background leaves SIGINT ignored in
//! its children) or killed. A benchmark fixture, never shipped.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use sentinel_client::ServerSection;
use sentinel_transport::{
    Endpoint, HttpTransport, OutboundRequest, Transport, TransportConfig, Upstream,
};

/// The gateway's allocator, so the two differ only by the pipeline.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = std::env::args()
        .nth(1)
        .ok_or("usage: proxy-floor UPSTREAM_URL")?;
    let transport = Arc::new(HttpTransport::new(
        TransportConfig::default(),
        vec![Upstream::single(Endpoint::new("upstream", &upstream)?)],
    )?);
    // The gateway's runtime, built as `deepsentinel serve` builds it.
    let server = ServerSection {
        workers: std::env::args()
            .nth(2)
            .filter(|w| w != "auto")
            .map(|w| w.parse::<usize>())
            .transpose()?,
        ..ServerSection::default()
    };
    let rt = server.runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut out = std::io::stdout();
        writeln!(out, "{}", listener.local_addr()?)?;
        out.flush()?;
        let serve = sentinel_testkit::serve(listener, move |path: String, body: Bytes| {
            let transport = Arc::clone(&transport);
            async move {
                let sent = transport
                    .send(OutboundRequest::post_json(&path, body))
                    .await;
                match sent {
                    Ok(r) => {
                        let status = r.status.as_u16();
                        sentinel_testkit::json(status, r.bytes().await.unwrap_or_default())
                    }
                    Err(_) => sentinel_testkit::json(502, Bytes::new()),
                }
            }
        });
        tokio::select! {
            served = serve => served?,
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(())
    })
}
