//! Counting the pool's open connections: a connector that wraps each connection it makes
//! in a guard holding the `deepsentinel_upstream_pool_connections` gauge of its endpoint,
//! raised when the connection is made and lowered when hyper drops it (closed by either
//! side, reaped as idle, or dropped with the pool). hyper-util's pool does not expose its
//! size, so the count is kept where connections begin and end.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use metrics::Gauge;

use crate::Upstream;

/// A connector whose connections count themselves in their endpoint's gauge.
#[derive(Clone)]
pub(crate) struct Counted<C> {
    inner: C,
    /// The gauge of each `scheme://authority` the chain names (the pool's own key), resolved
    /// against the recorder current when the transport was built.
    gauges: Arc<HashMap<String, Gauge>>,
}

/// The pool's key for `uri`: scheme and authority.
fn origin(uri: &Uri) -> String {
    format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", |a| a.as_str())
    )
}

impl<C> Counted<C> {
    /// Wraps `inner`, with one gauge per origin of `chain`, labelled with the name of its
    /// first endpoint (endpoints at one origin share the pool's connections).
    pub(crate) fn new(inner: C, chain: &[Upstream]) -> Counted<C> {
        let mut gauges = HashMap::new();
        for e in chain.iter().flat_map(|u| &u.endpoints) {
            gauges.entry(origin(&e.base)).or_insert_with(|| {
                metrics::gauge!(
                    sentinel_metrics::names::POOL_CONNECTIONS,
                    sentinel_metrics::names::label::UPSTREAM => e.name.clone()
                )
            });
        }
        Counted {
            inner,
            gauges: Arc::new(gauges),
        }
    }
}

impl<C> tower_service::Service<Uri> for Counted<C>
where
    C: tower_service::Service<Uri>,
    C::Future: Send + 'static,
{
    type Response = CountedIo<C::Response>;
    type Error = C::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<CountedIo<C::Response>, C::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let gauge = self.gauges.get(&origin(&uri)).cloned();
        let connecting = self.inner.call(uri);
        Box::pin(async move {
            let io = connecting.await?;
            if let Some(g) = &gauge {
                g.increment(1.0);
            }
            Ok(CountedIo { io, gauge })
        })
    }
}

/// A connection that lowers its endpoint's gauge when dropped.
pub(crate) struct CountedIo<T> {
    io: T,
    gauge: Option<Gauge>,
}

impl<T> Drop for CountedIo<T> {
    fn drop(&mut self) {
        if let Some(g) = &self.gauge {
            g.decrement(1.0);
        }
    }
}

impl<T: Connection> Connection for CountedIo<T> {
    #[inline]
    fn connected(&self) -> Connected {
        // The inner stream's, ALPN's negotiated HTTP/2 included.
        self.io.connected()
    }
}

impl<T: Read + Unpin> Read for CountedIo<T> {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for CountedIo<T> {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
