//! DeepSentinel's pipeline and SDK: every way of using DeepSentinel goes through here.
//!
//! - [`Pipeline`]: request text segments -> detection cache -> detector -> policy -> audit
//!   -> response cache (with single flight) -> transport -> restore and response scan
//!   (whole or streamed, with a bounded hold-back) -> metrics. A request with no findings
//!   goes upstream as the client's original bytes.
//! - [`Detection`]: `local`, `hybrid` (a remote Presidio-compatible detector for low-score
//!   findings and types only it knows, with a timeout and a cache) or `remote_first`.
//! - [`SentinelClient`]: typed like the providers' SDKs (`chat().completions().create`,
//!   `create_stream`, `embeddings()`, `messages()`, `responses()`, audio, images, files and
//!   batches), typed errors ([`ClientError`]), a batch helper with bounded concurrency
//!   and priorities, micro-batching of embeddings, and a `blocking` client (feature).
//! - [`Route`]: the provider routes the pipeline reads, each with walkers that find every
//!   text its requests and answers carry (a batch file's lines included).
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
//!
//! # Example: streaming, embeddings, Anthropic, batches
//!
//! ```no_run
//! # async fn run(client: sentinel_client::SentinelClient) -> Result<(), sentinel_client::ClientError> {
//! use sentinel_client::{CallOptions, MicroBatchConfig};
//! use sentinel_transport::Priority;
//! fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, sentinel_client::ClientError> {
//!     serde_json::from_value(v).map_err(|e| sentinel_client::ClientError::BadRequest(e.to_string()))
//! }
//!
//! // A stream: chunks arrive scanned, with pseudonyms restored, as they pass.
//! let opts = CallOptions { conversation: Some("conv-42".into()), ..CallOptions::default() };
//! let mut stream = client.chat().completions().create_stream(
//!     parse(serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))?,
//!     &opts,
//! ).await?;
//! while let Some(chunk) = stream.next().await {
//!     let _chunk: sentinel_transport::wire::openai::ChatCompletionChunk = chunk?;
//! }
//!
//! // Embeddings, coalesced with concurrent calls into one upstream request.
//! let batching = client.clone().with_micro_batching(MicroBatchConfig::default());
//! let vectors = batching.embeddings().create(parse(serde_json::json!({"model": "e", "input": "text"}))?).await?;
//!
//! // Anthropic messages.
//! let message = client.messages().create(parse(serde_json::json!({
//!     "model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]
//! }))?).await?;
//!
//! // A batch: at most 4 at once, high priority first, results in order.
//! let requests = (0..10)
//!     .map(|i| Ok((
//!         parse(serde_json::json!({"model": "m", "messages": [{"role": "user", "content": format!("item {i}")}]}))?,
//!         CallOptions { priority: if i < 2 { Priority::High } else { Priority::Low }, ..CallOptions::default() },
//!     )))
//!     .collect::<Result<Vec<_>, sentinel_client::ClientError>>()?;
//! let results = client.batch(requests, 4).await;
//! # let _ = (vectors, message, results); Ok(()) }
//! ```
//!
//! With the `blocking` feature, `blocking::SentinelClient::new(&config)?.chat_completion(req)`
//! does the same without an async runtime.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod chains;
mod client;
mod config;
pub mod detection;
mod files;
mod fingerprint;
mod form;
mod json_out;
mod json_text;
mod logprobs;
pub mod pipeline;
mod refusal;
pub mod segments;
mod shared_vault;

#[cfg(feature = "blocking")]
pub use client::blocking;
pub use client::{
    AudioUpload, CallOptions, Chat, ChatCompletions, ClientError, Conversations, Embeddings,
    EventStream, FileUpload, Messages, MicroBatchConfig, Page, Responses, SentinelClient,
};
pub use config::{
    AuditSection, Auth, CacheSection, ConfigError, DetectionSection, DetectionSource,
    FailureSection, KeySection, MetricsSection, NetworkSection, OtherRoutes, PolicySection,
    RemoteSection, ResponseStage, SentinelConfig, ServerSection,
};
pub use detection::{
    Detected, Detection, DetectionMode, RemoteDetector, RemoteSettings, StreamWindow,
};
pub use fingerprint::{process_key, Fingerprinter, MIN_FINGERPRINT_KEY};
pub use pipeline::{
    new_request_id, CacheSize, LargeAnswer, Operated, Pipeline, PipelineBody, PipelineConfig,
    PipelineError, PipelineRequest, PipelineResponse, ResponseStream, ScanOutcome, Stages, Stance,
    ANALYZE_ROUTE, ANONYMIZE_ROUTE, DEANONYMIZE_ROUTE, SCAN_ROUTE,
};
pub use refusal::{Refusal, REFUSALS_PER_SECOND};
pub use segments::{OtherMethod, Route};
pub use shared_vault::SharedVault;
