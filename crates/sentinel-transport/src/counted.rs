//! Counting the pool's open connections: a connector that wraps each connection it makes
//! in a guard holding its origin's count (read by [`EndpointState::connections`] and the
//! `deepsentinel_upstream_pool_connections` gauge), raised when the connection is made and
//! lowered when hyper drops it (closed by either side, reaped as idle, or dropped with the
//! pool). hyper-util's pool does not expose its size, so the count is kept where
//! connections begin and end.
//!
//! [`EndpointState::connections`]: crate::EndpointState::connections

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use metrics::Gauge;

use crate::Upstream;

/// The open connections to one origin: a count the health page reads and the gauge.
#[derive(Debug)]
pub(crate) struct Open {
    count: AtomicUsize,
    gauge: Gauge,
}

impl Open {
    /// Connections open now.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn opened(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.gauge.increment(1.0);
    }

    fn closed(&self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.gauge.decrement(1.0);
    }
}

/// One [`Open`] per `scheme://authority` of a chain (the pool's own key), labelled with the
/// name of its first endpoint (endpoints at one origin share the pool's connections), the
/// gauges resolved against the recorder current when the transport is built.
#[derive(Clone, Debug, Default)]
pub(crate) struct Origins(Arc<HashMap<String, Arc<Open>>>);

impl Origins {
    pub(crate) fn new(chain: &[Upstream]) -> Origins {
        let mut map = HashMap::new();
        for e in chain.iter().flat_map(|u| &u.endpoints) {
            map.entry(origin(&e.base)).or_insert_with(|| {
                Arc::new(Open {
                    count: AtomicUsize::new(0),
                    gauge: metrics::gauge!(
                        sentinel_metrics::names::POOL_CONNECTIONS,
                        sentinel_metrics::names::label::UPSTREAM => e.name.clone()
                    ),
                })
            });
        }
        Origins(Arc::new(map))
    }

    /// The count of `uri`'s origin.
    pub(crate) fn of(&self, uri: &Uri) -> Option<Arc<Open>> {
        self.0.get(&origin(uri)).cloned()
    }
}

/// A connector whose connections count themselves in their origin's [`Open`].
#[derive(Clone)]
pub(crate) struct Counted<C> {
    inner: C,
    origins: Origins,
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
    /// Wraps `inner`, counting into `origins`.
    pub(crate) fn new(inner: C, origins: Origins) -> Counted<C> {
        Counted { inner, origins }
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
        let open = self.origins.of(&uri);
        let connecting = self.inner.call(uri);
        Box::pin(async move {
            let io = connecting.await?;
            if let Some(o) = &open {
                o.opened();
            }
            Ok(CountedIo { io, open })
        })
    }
}

/// A connection that counts itself closed when dropped.
pub(crate) struct CountedIo<T> {
    io: T,
    open: Option<Arc<Open>>,
}

impl<T> Drop for CountedIo<T> {
    fn drop(&mut self) {
        if let Some(o) = &self.open {
            o.closed();
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
