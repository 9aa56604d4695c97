//! DeepSentinel's pipeline and SDK: every way of using DeepSentinel goes through here.
//!
//! - [`Pipeline`]: request text segments -> detection cache -> detector -> policy -> audit
//!   -> response cache (with single flight) -> transport -> restore and response scan
//!   (whole or streamed, with a bounded hold-back) -> metrics. A request with no findings
//!   goes upstream as the client's original bytes.
//! - [`Detection`]: `local`, `hybrid` (a remote Presidio-compatible detector for low-score
//!   findings and types only it knows, with a timeout and a cache) or `remote_first`.
//! - [`SentinelClient`]: typed like the providers' SDKs (`chat().completions().create`,
//!   `create_stream`, `embeddings()`, `messages()`), typed errors ([`ClientError`]), a
//!   batch helper with bounded concurrency and priorities, micro-batching of embeddings,
//!   and a `blocking` client (feature).
//! - [`SentinelConfig`]: the TOML the gateway uses too.
//!
//! # Example: a redaction, against any OpenAI-compatible server
//!
//! ```no_run
//! # async fn run() -> Result<(), sentinel_client::ClientError> {
//! use sentinel_client::{SentinelClient, SentinelConfig};
//! let config = SentinelConfig::from_toml("inline", r#"
//!     [network]
//!     upstream = "http://127.0.0.1:8000/v1"   # vLLM, Ollama, llama.cpp, or OpenAI
//! "#)?;
//! let client = SentinelClient::new(&config)?;
//! let req = serde_json::from_value(serde_json::json!({
//!     "model": "m", "messages": [{"role": "user", "content": "my SSN is 536-22-1234"}]
//! })).map_err(|e| sentinel_client::ClientError::BadRequest(e.to_string()))?;
//! // The strict preset (the default) sends "my SSN is <US_SSN_1>".
//! let answer = client.chat().completions().create(req).await?;
//! # let _ = answer; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
pub mod detection;
pub mod pipeline;
pub mod segments;

#[cfg(feature = "blocking")]
pub use client::blocking;
pub use client::{
    CallOptions, Chat, ChatCompletions, ClientError, Embeddings, EventStream, Messages,
    MicroBatchConfig, SentinelClient,
};
pub use config::{
    AuditSection, Auth, CacheSection, ConfigError, DetectionSection, FailureSection,
    NetworkSection, PolicySection, RemoteSection, SentinelConfig,
};
pub use detection::{Detected, Detection, DetectionMode, RemoteDetector, RemoteSettings};
pub use pipeline::{
    Pipeline, PipelineBody, PipelineConfig, PipelineError, PipelineRequest, PipelineResponse,
    ResponseStream, Stance,
};
pub use segments::Route;
