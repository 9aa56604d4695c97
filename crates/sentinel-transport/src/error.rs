//! Transport errors: each failure has its own variant, so callers (and metrics) can tell a
//! slow upstream from an unreachable one from a broken body.

use std::time::Duration;

/// What went wrong talking to an upstream. Messages never carry request or response
/// content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TCP or TLS connection could not be made.
    #[error("cannot connect to upstream {endpoint}: {message}")]
    Connect {
        /// The endpoint's name.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// Connecting took longer than the connect timeout.
    #[error("connecting to upstream {endpoint} timed out after {after:?}")]
    ConnectTimeout {
        /// The endpoint's name.
        endpoint: String,
        /// The timeout.
        after: Duration,
    },
    /// The response headers did not arrive within the timeout.
    #[error("upstream {endpoint} sent no response headers within {after:?}")]
    HeadersTimeout {
        /// The endpoint's name.
        endpoint: String,
        /// The timeout.
        after: Duration,
    },
    /// A streamed body went quiet for longer than the idle timeout.
    #[error("upstream body idle for more than {after:?}")]
    IdleTimeout {
        /// The timeout.
        after: Duration,
    },
    /// The whole exchange took longer than the total timeout.
    #[error("upstream exchange exceeded the total timeout of {after:?}")]
    TotalTimeout {
        /// The timeout.
        after: Duration,
    },
    /// The connection broke while the body was arriving (reset, closed early).
    #[error("upstream body broke off: {message}")]
    Body {
        /// Why.
        message: String,
    },
    /// The body (or decoded body) is larger than allowed.
    #[error("upstream body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The response headers were larger than allowed, or malformed.
    #[error("upstream {endpoint} sent malformed or oversized headers: {message}")]
    Protocol {
        /// The endpoint's name.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// A compressed body could not be decoded.
    #[error("upstream body with content-encoding {encoding} could not be decoded")]
    Decode {
        /// The encoding.
        encoding: String,
    },
    /// The body is not the JSON expected.
    #[error("upstream body is not valid JSON: {message}")]
    InvalidJson {
        /// The parser's message (position and kind, no content).
        message: String,
    },
    /// Every endpoint of every upstream in the fallback chain has an open circuit.
    #[error("every upstream endpoint is unavailable (circuits open)")]
    CircuitOpen,
    /// The concurrency limit's queue is full, or the wait in it timed out.
    #[error("overloaded: retry after {retry_after:?}")]
    Overloaded {
        /// A suggested wait before retrying.
        retry_after: Duration,
    },
    /// The request could not be built (a bad path or header).
    #[error("invalid upstream request: {message}")]
    InvalidRequest {
        /// Why.
        message: String,
    },
    /// The transport is misconfigured (no endpoints, bad certificate file).
    #[error("transport configuration: {message}")]
    Config {
        /// Why.
        message: String,
    },
}

impl TransportError {
    /// Whether a new attempt (on another connection or endpoint) may succeed: connection
    /// failures and connect timeouts. Nothing that happened after the request was sent.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportError::Connect { .. } | TransportError::ConnectTimeout { .. }
        )
    }

    /// The metric kind of this error.
    pub fn kind(&self) -> sentinel_metrics::ErrorKind {
        use sentinel_metrics::ErrorKind as K;
        match self {
            TransportError::Connect { .. } => K::UpstreamConnect,
            TransportError::ConnectTimeout { .. }
            | TransportError::HeadersTimeout { .. }
            | TransportError::IdleTimeout { .. }
            | TransportError::TotalTimeout { .. } => K::UpstreamTimeout,
            TransportError::Body { .. }
            | TransportError::BodyTooLarge { .. }
            | TransportError::Protocol { .. }
            | TransportError::Decode { .. }
            | TransportError::InvalidJson { .. } => K::UpstreamProtocol,
            TransportError::CircuitOpen => K::CircuitOpen,
            TransportError::Overloaded { .. } => K::Overloaded,
            TransportError::InvalidRequest { .. } | TransportError::Config { .. } => K::Internal,
        }
    }
}
