//! Response bodies: streamed with idle and total deadlines and a size cap, or read whole
//! and decoded (gzip, deflate, brotli, zstd) under a cap against decompression bombs.

use std::io::Read;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use tokio::time::Instant;

use crate::TransportError;

/// A body arriving over HTTP, read with idle and total deadlines and a size cap: an
/// upstream's answer, or (through [`ResponseBody::new`]) a caller's request body, which a
/// gateway reads the same way.
#[derive(Debug)]
pub struct ResponseBody {
    inner: Option<Incoming>,
    idle: Duration,
    deadline: Instant,
    total: Duration,
    limit: usize,
    read: usize,
    /// Held until the body ends: the concurrency slot and the endpoint's in-flight mark.
    guards: Option<(Option<crate::limit::Permit>, crate::balance::InFlight)>,
}

impl ResponseBody {
    /// Reads `inner` with at most `idle` between two frames, until `deadline` (`total`
    /// after its exchange began, named in the timeout error), and at most `limit` bytes.
    pub fn new(
        inner: Incoming,
        idle: Duration,
        deadline: Instant,
        total: Duration,
        limit: usize,
    ) -> ResponseBody {
        ResponseBody {
            inner: Some(inner),
            idle,
            deadline,
            total,
            limit,
            read: 0,
            guards: None,
        }
    }

    pub(crate) fn hold(
        mut self,
        permit: Option<crate::limit::Permit>,
        inflight: crate::balance::InFlight,
    ) -> ResponseBody {
        self.guards = Some((permit, inflight));
        self
    }

    fn finish(&mut self) {
        self.inner = None;
        self.guards = None;
    }

    /// The next piece of the body; `None` at its end.
    ///
    /// # Errors
    ///
    /// [`TransportError::IdleTimeout`] after a silence longer than the idle timeout,
    /// [`TransportError::TotalTimeout`] past the exchange's deadline,
    /// [`TransportError::BodyTooLarge`] past `limit` bytes, [`TransportError::Body`] when
    /// the connection breaks. After an error the body is finished.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, TransportError>> {
        loop {
            let Some(inner) = self.inner.as_mut() else {
                self.guards = None;
                return None;
            };
            // A frame already received is taken without reading the clock or arming a
            // timer: the deadlines bound waiting, and the size cap bounds a body that
            // never makes us wait.
            let ready = std::future::poll_fn(|cx| {
                Poll::Ready(std::pin::Pin::new(&mut *inner).poll_frame(cx))
            })
            .await;
            let next = match ready {
                Poll::Ready(next) => next,
                Poll::Pending => {
                    let now = Instant::now();
                    if now >= self.deadline {
                        self.finish();
                        return Some(Err(TransportError::TotalTimeout { after: self.total }));
                    }
                    let wait = self.idle.min(self.deadline - now);
                    match tokio::time::timeout(wait, inner.frame()).await {
                        Ok(next) => next,
                        Err(_) => {
                            self.finish();
                            return Some(Err(if Instant::now() >= self.deadline {
                                TransportError::TotalTimeout { after: self.total }
                            } else {
                                TransportError::IdleTimeout { after: self.idle }
                            }));
                        }
                    }
                }
            };
            let frame = match next {
                None => {
                    self.finish();
                    return None;
                }
                Some(Err(e)) => {
                    self.finish();
                    return Some(Err(TransportError::Body {
                        message: error_chain(&e),
                    }));
                }
                Some(Ok(frame)) => frame,
            };
            // Trailers carry no body bytes.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            self.read += data.len();
            if self.read > self.limit {
                self.finish();
                return Some(Err(TransportError::BodyTooLarge { limit: self.limit }));
            }
            return Some(Ok(data));
        }
    }

    /// The whole body, undecoded.
    ///
    /// # Errors
    ///
    /// As [`ResponseBody::chunk`].
    pub async fn collect(mut self) -> Result<Bytes, TransportError> {
        let mut out = BytesMut::new();
        while let Some(chunk) = self.chunk().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }
}

/// The error and its sources, without content.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Decodes `body` sent with `content-encoding: encoding`, refusing output past `limit`.
///
/// # Errors
///
/// [`TransportError::BodyTooLarge`] past the limit (a decompression bomb stops there),
/// [`TransportError::Decode`] for corrupt data or an unknown encoding.
pub fn decode(encoding: &str, body: &[u8], limit: usize) -> Result<Bytes, TransportError> {
    let encoding = encoding.trim().to_ascii_lowercase();
    let decode_error = || TransportError::Decode {
        encoding: encoding.clone(),
    };
    let reader: Box<dyn Read + '_> = match encoding.as_str() {
        "" | "identity" => return Ok(Bytes::copy_from_slice(body)),
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(body)),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(body)),
        "br" => Box::new(brotli::Decompressor::new(body, 8192)),
        "zstd" => Box::new(zstd::stream::read::Decoder::new(body).map_err(|_| decode_error())?),
        _ => return Err(decode_error()),
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    // One byte more than allowed tells "exactly at the limit" from "over it".
    let n = reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| decode_error())?;
    if n > limit {
        return Err(TransportError::BodyTooLarge { limit });
    }
    Ok(Bytes::from(out))
}

/// Gzips a request body.
pub(crate) fn gzip(body: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(body).ok()?;
    enc.finish().ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decodes_each_encoding_and_stops_bombs() {
        let plain = b"{\"hello\":\"world\"}".repeat(100);
        let gz = gzip(&plain).expect("gzip");
        assert_eq!(&decode("gzip", &gz, 1 << 20).expect("gzip")[..], &plain[..]);
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(&plain).expect("write");
        }
        assert_eq!(&decode("br", &br, 1 << 20).expect("br")[..], &plain[..]);
        let zs = zstd::encode_all(&plain[..], 3).expect("zstd");
        assert_eq!(&decode("zstd", &zs, 1 << 20).expect("zstd")[..], &plain[..]);
        // A bomb: 64 MiB of zeros compresses to ~64 KiB; a 1 MiB cap stops it.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 64 << 20]).expect("gzip");
        let bomb = enc.finish().expect("gzip");
        assert!(bomb.len() < 256 << 10);
        assert!(matches!(
            decode("gzip", &bomb, 1 << 20),
            Err(TransportError::BodyTooLarge { limit }) if limit == 1 << 20
        ));
        assert!(matches!(
            decode("gzip", b"not gzip", 1 << 20),
            Err(TransportError::Decode { .. })
        ));
        assert!(matches!(
            decode("lzma", b"x", 1 << 20),
            Err(TransportError::Decode { .. })
        ));
    }
}
