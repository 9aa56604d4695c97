//! DeepSentinel's upstream transport: it should add nothing measurable to a request and
//! keep working when a provider misbehaves.
//!
//! - [`Transport`]: the seam (send a request, stream the response); [`HttpTransport`] is
//!   the production implementation: a pooled hyper client (HTTP/1.1 and HTTP/2 by ALPN, h2c
//!   when configured, TCP_NODELAY, keep-alive) over rustls (webpki roots, extra CAs, mTLS).
//! - Timeouts for connect, response headers, body idle gaps and the whole exchange, each its
//!   own [`TransportError`].
//! - Retries of connection failures and configured statuses with exponential backoff and
//!   full jitter, `Retry-After` (seconds or date, capped), and a [`RetryBudget`]; never
//!   once the response has been returned.
//! - A [`CircuitBreaker`] per endpoint; balancing across endpoints ([`Strategy`]: round
//!   robin, weighted, least outstanding, power of two choices over a latency EWMA) that
//!   skips open circuits; a fallback chain of upstreams.
//! - A [`PriorityLimiter`]: concurrency limit, queue by priority, queue timeout,
//!   "overloaded, retry after".
//! - Bodies streamed with a cap, or read whole and decoded (gzip, deflate, brotli, zstd)
//!   under a cap against decompression bombs; request gzip on request.
//! - Provider [`wire`] formats that keep unknown fields, and an [`sse`] parser and writer.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), sentinel_transport::TransportError> {
//! use sentinel_transport::{Endpoint, HttpTransport, OutboundRequest, Strategy, Transport, TransportConfig, Upstream};
//! let key = http::HeaderValue::from_str(&format!("Bearer {}", std::env::var("OPENAI_API_KEY").unwrap_or_default()))
//!     .map_err(|_| sentinel_transport::TransportError::Config { message: "bad key".into() })?;
//! let openai = Upstream {
//!     name: "openai".into(),
//!     endpoints: vec![Endpoint::new("openai", "https://api.openai.com/v1")?.header(http::header::AUTHORIZATION, key)],
//!     strategy: Strategy::RoundRobin,
//! };
//! let transport = HttpTransport::new(TransportConfig::default(), vec![openai])?;
//! let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
//! let response = transport.send(OutboundRequest::post_json("/chat/completions", body)).await?;
//! let answer: sentinel_transport::wire::openai::ChatCompletionResponse = response.json().await?;
//! # let _ = answer; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod balance;
mod body;
mod breaker;
mod config;
mod counted;
mod error;
mod limit;
mod retry;
pub mod sse;
mod transport;
pub mod wire;

pub use balance::{EndpointState, InFlight, Pool};
pub use body::{decode, ResponseBody};
pub use breaker::{Admission, CircuitBreaker, CircuitState};
pub use config::{
    BreakerConfig, Endpoint, Limits, PoolConfig, RetryConfig, Strategy, Timeouts, TlsConfig,
    TransportConfig, Upstream,
};
pub use error::TransportError;
pub use limit::{LimitConfig, Permit, Priority, PriorityLimiter};
pub use retry::{backoff, retry_after, RetryBudget};
pub use transport::{BoxFuture, HttpTransport, OutboundRequest, Transport, UpstreamResponse};
