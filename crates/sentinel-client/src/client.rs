//! The SDK: `SentinelClient`, typed like the providers' own SDKs, running the pipeline
//! in-process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sentinel_metrics::MonitorSnapshot;
use sentinel_policy::Reason;
use sentinel_transport::sse::{SseEvent, SseParser};
use sentinel_transport::wire::{anthropic, openai, List};
use sentinel_transport::{Priority, TransportError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{oneshot, Semaphore};

use crate::config::{ConfigError, SentinelConfig};
use crate::form::Form;
use crate::pipeline::{Pipeline, PipelineBody, PipelineError, PipelineRequest, ResponseStream};
use crate::segments::Route;

/// What can go wrong for an SDK call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Policy refused the request or the answer; reasons name entity types and rules.
    #[error("blocked by policy ({direction}): {}", reasons.iter().map(|r| r.entity.as_str()).collect::<Vec<_>>().join(", "))]
    Blocked {
        /// `request` or `response`.
        direction: &'static str,
        /// Entity types and rules, never values.
        reasons: Vec<Reason>,
    },
    /// The provider answered with an error status.
    #[error("upstream answered {status}")]
    Upstream {
        /// The status.
        status: u16,
        /// The provider's body.
        body: String,
        /// How long the provider asked to wait before trying again (its `retry-after`),
        /// once the transport's own retries are spent.
        retry_after: Option<Duration>,
    },
    /// A timeout (connect, first byte, idle stream, whole exchange).
    #[error("timed out: {0}")]
    Timeout(TransportError),
    /// Too many requests in flight; retry after the hint.
    #[error("overloaded, retry after {retry_after:?}")]
    Overloaded {
        /// The suggested wait.
        retry_after: Duration,
    },
    /// Every upstream endpoint is unavailable (circuits open).
    #[error("upstream unavailable (circuits open)")]
    Unavailable,
    /// The request is not valid.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The detector failed under a fail-closed stance.
    #[error("detector unavailable: {0}")]
    Detector(String),
    /// The audit log failed under a fail-closed stance.
    #[error("audit log unavailable: {0}")]
    Audit(String),
    /// Another transport failure (connection, broken body).
    #[error(transparent)]
    Transport(TransportError),
    /// The answer is not what the API returns.
    #[error("unexpected answer: {0}")]
    InvalidResponse(String),
    /// The client could not be built.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl From<PipelineError> for ClientError {
    fn from(e: PipelineError) -> ClientError {
        match e {
            PipelineError::BadRequest { message } => ClientError::BadRequest(message),
            PipelineError::Blocked { direction, reasons } => {
                ClientError::Blocked { direction, reasons }
            }
            PipelineError::Upstream {
                status,
                body,
                headers,
            } => ClientError::Upstream {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
                retry_after: sentinel_transport::retry_after(
                    &headers,
                    std::time::SystemTime::now(),
                ),
            },
            PipelineError::Detector { message } => ClientError::Detector(message),
            PipelineError::Audit { message } => ClientError::Audit(message),
            PipelineError::TimedOut { after } => {
                ClientError::Timeout(TransportError::TotalTimeout { after })
            }
            PipelineError::Transport(t) => match t {
                TransportError::Overloaded { retry_after } => {
                    ClientError::Overloaded { retry_after }
                }
                TransportError::CircuitOpen => ClientError::Unavailable,
                TransportError::ConnectTimeout { .. }
                | TransportError::HeadersTimeout { .. }
                | TransportError::IdleTimeout { .. }
                | TransportError::TotalTimeout { .. } => ClientError::Timeout(t),
                other => ClientError::Transport(other),
            },
        }
    }
}

/// Which page of a listing to read ([`SentinelClient::list_files`] and the other lists):
/// the items after `after` (an id from the last page's [`List::last_id`]), at most `limit`
/// of them; the provider's defaults for what is `None`.
///
/// [`List::last_id`]: sentinel_transport::wire::List::last_id
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// List the items after this id.
    pub after: Option<String>,
    /// At most this many.
    pub limit: Option<u32>,
}

impl Page {
    /// The query string, with `after` under the name the provider gives it (`after` for
    /// OpenAI, `after_id` for Anthropic); `None` when nothing is asked.
    fn query(&self, after_name: &str) -> Result<Option<String>, ClientError> {
        let mut parts = Vec::new();
        if let Some(after) = &self.after {
            if !crate::segments::is_id(after) {
                return Err(ClientError::BadRequest(
                    "`after` must be an id (letters, digits, `_`, `-`)".to_owned(),
                ));
            }
            parts.push(format!("{after_name}={after}"));
        }
        if let Some(limit) = self.limit {
            parts.push(format!("limit={limit}"));
        }
        Ok((!parts.is_empty()).then(|| parts.join("&")))
    }
}

/// Per-call options.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// A conversation id: pseudonyms issued in earlier turns are restored in later ones.
    pub conversation: Option<String>,
    /// The priority in the concurrency limit.
    pub priority: Priority,
}

/// An audio file to transcribe or translate ([`SentinelClient::transcribe`]), sent as the
/// `multipart/form-data` upload OpenAI's audio routes take.
///
/// # Example
///
/// ```
/// use sentinel_client::AudioUpload;
///
/// let upload = AudioUpload {
///     model: "whisper-1".into(),
///     file_name: "call.wav".into(),
///     audio: std::fs::read("Cargo.toml")?.into(),
///     fields: vec![("prompt".into(), "Names: Ada Lovelace".into())],
/// };
/// assert_eq!(upload.fields.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct AudioUpload {
    /// The model (`whisper-1`, `gpt-4o-transcribe`).
    pub model: String,
    /// The file's name: its extension tells the upstream the format (`call.wav`).
    pub file_name: String,
    /// The audio, sent as it is (never read as text).
    pub audio: Bytes,
    /// The other fields, in order: `prompt` (scanned and decided like a prompt),
    /// `language`, `response_format` (a JSON one, or `text`, `srt`, `vtt`, whose text comes
    /// back as [`openai::Transcription::text`]), `temperature`, `timestamp_granularities[]`.
    pub fields: Vec<(String, String)>,
}

/// A file to store with the provider ([`SentinelClient::upload_file`]), sent as the
/// `multipart/form-data` upload `POST /v1/files` takes. A JSONL file (a batch's requests,
/// fine-tuning examples) is read line by line and decided; any other UTF-8 file whole; a
/// file that is not UTF-8 goes as it is.
///
/// # Example
///
/// ```
/// use sentinel_client::FileUpload;
///
/// let line = r#"{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}}"#;
/// let upload = FileUpload {
///     purpose: "batch".into(),
///     file_name: "requests.jsonl".into(),
///     data: format!("{line}\n").into(),
/// };
/// assert!(upload.data.ends_with(b"\n"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct FileUpload {
    /// What the file is for (`batch`, `fine-tune`, `user_data`, `evals`).
    pub purpose: String,
    /// The file's name (decided like a text too).
    pub file_name: String,
    /// The content.
    pub data: Bytes,
}

/// Coalescing of concurrent embedding requests (same model): up to `max_batch` inputs
/// waiting at most `max_wait` go upstream as one request and are split back per caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MicroBatchConfig {
    /// Inputs per upstream request.
    pub max_batch: usize,
    /// The longest a request waits for company.
    pub max_wait: Duration,
}

impl Default for MicroBatchConfig {
    /// 64 inputs, 5 ms.
    fn default() -> MicroBatchConfig {
        MicroBatchConfig {
            max_batch: 64,
            max_wait: Duration::from_millis(5),
        }
    }
}

type Waiter = (usize, oneshot::Sender<Result<Vec<Value>, Arc<ClientError>>>);

struct PendingBatch {
    inputs: Vec<Value>,
    waiters: Vec<Waiter>,
    extra: serde_json::Map<String, Value>,
}

/// The DeepSentinel SDK.
///
/// ```no_run
/// # async fn run() -> Result<(), sentinel_client::ClientError> {
/// use sentinel_client::{SentinelClient, SentinelConfig};
/// use sentinel_transport::wire::openai::ChatCompletionRequest;
/// let config = SentinelConfig::from_toml("inline", r#"
///     [policy]
///     preset = "strict"
///     [network]
///     upstream = "https://api.openai.com/v1"
///     api_key_env = "OPENAI_API_KEY"
/// "#)?;
/// let client = SentinelClient::new(&config)?;
/// let request: ChatCompletionRequest = serde_json::from_value(serde_json::json!({
///     "model": "gpt-4o-mini",
///     "messages": [{"role": "user", "content": "Write to jane@example.com"}]
/// })).map_err(|e| sentinel_client::ClientError::BadRequest(e.to_string()))?;
/// let answer = client.chat().completions().create(request).await?; // the model saw <EMAIL_ADDRESS_1>
/// # let _ = answer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct SentinelClient {
    pipeline: Arc<Pipeline>,
    tenant: String,
    batching: Option<MicroBatchConfig>,
    pending: Arc<Mutex<HashMap<String, PendingBatch>>>,
}

impl std::fmt::Debug for SentinelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelClient")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl SentinelClient {
    /// A client built from `config` (call within a Tokio runtime).
    ///
    /// # Errors
    ///
    /// A layer that cannot be built.
    pub fn new(config: &SentinelConfig) -> Result<SentinelClient, ClientError> {
        Ok(SentinelClient::from_pipeline(
            Arc::new(config.build()?),
            config.tenant(),
        ))
    }

    /// A client over an existing pipeline, as `tenant`.
    pub fn from_pipeline(pipeline: Arc<Pipeline>, tenant: &str) -> SentinelClient {
        SentinelClient {
            pipeline,
            tenant: tenant.to_owned(),
            batching: None,
            pending: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The same client coalescing concurrent embedding requests.
    #[must_use]
    pub fn with_micro_batching(mut self, config: MicroBatchConfig) -> SentinelClient {
        self.batching = Some(config);
        self
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// The last minute's figures (latency percentiles per stage, cache hit rates...).
    pub fn monitor(&self) -> MonitorSnapshot {
        self.pipeline.telemetry().monitor().snapshot()
    }

    /// OpenAI chat.
    pub fn chat(&self) -> Chat<'_> {
        Chat(self)
    }

    /// OpenAI embeddings.
    pub fn embeddings(&self) -> Embeddings<'_> {
        Embeddings(self)
    }

    /// Anthropic messages.
    pub fn messages(&self) -> Messages<'_> {
        Messages(self)
    }

    /// Anthropic message batches: each request decided going up, the results restored
    /// in the batch's scope coming back.
    pub fn message_batches(&self) -> MessageBatches<'_> {
        MessageBatches(self)
    }

    /// OpenAI's Responses API: answers created, streamed, fetched, cancelled and deleted,
    /// each restored in the scope of the conversation it continues.
    pub fn responses(&self) -> Responses<'_> {
        Responses(self)
    }

    /// OpenAI's Conversations API: conversations and their items, kept on the provider's
    /// side, decided going up and restored coming back.
    pub fn conversations(&self) -> Conversations<'_> {
        Conversations(self)
    }

    /// OpenAI moderations: the input is scanned and decided like a prompt first.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn moderate(
        &self,
        req: openai::ModerationRequest,
    ) -> Result<openai::ModerationResponse, ClientError> {
        self.call(Route::Moderations, &req, &CallOptions::default())
            .await
    }

    /// OpenAI image generation: the prompt is scanned and decided like any prompt, each
    /// `revised_prompt` of the answer like an answer's text.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn generate_image(
        &self,
        req: openai::ImageRequest,
    ) -> Result<openai::ImageResponse, ClientError> {
        self.call(Route::ImagesGenerations, &req, &CallOptions::default())
            .await
    }

    /// OpenAI text to speech: the input is scanned and decided like a prompt (a
    /// pseudonym would be spoken as such: audio cannot be restored), the audio comes back
    /// as it was made.
    ///
    /// # Errors
    ///
    /// See [`ClientError`]; an event stream (`stream_format: "sse"`) is
    /// [`ClientError::InvalidResponse`]: ask for the audio whole.
    pub async fn speech(&self, req: openai::SpeechRequest) -> Result<Bytes, ClientError> {
        let body = serde_json::to_vec(&req).map_err(|e| ClientError::BadRequest(e.to_string()))?;
        let opts = CallOptions::default();
        let response = self
            .pipeline
            .handle(self.request(Route::AudioSpeech, Bytes::from(body), &opts))
            .await?;
        match response.body {
            PipelineBody::Full(audio) => Ok(audio),
            PipelineBody::Stream(_) => Err(ClientError::InvalidResponse(
                "speech came as an event stream; leave stream_format unset".to_owned(),
            )),
        }
    }

    /// OpenAI transcription of an upload: its prompt is scanned and decided like a
    /// prompt, the audio sent as it is, and the transcript scanned like an answer.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn transcribe(
        &self,
        upload: &AudioUpload,
    ) -> Result<openai::Transcription, ClientError> {
        self.upload(Route::AudioTranscriptions, upload).await
    }

    /// OpenAI translation of an upload into English, as [`SentinelClient::transcribe`].
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn translate(
        &self,
        upload: &AudioUpload,
    ) -> Result<openai::Transcription, ClientError> {
        self.upload(Route::AudioTranslations, upload).await
    }

    /// OpenAI file upload: the file is decided as [`FileUpload`] says, and sent; the
    /// answer's file name scanned. Its id names it to [`SentinelClient::create_batch`] and
    /// [`SentinelClient::file_content`], which restore pseudonyms issued here.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn upload_file(
        &self,
        upload: &FileUpload,
    ) -> Result<openai::FileObject, ClientError> {
        let mut form = Form::new();
        form.text("purpose", &upload.purpose);
        form.file("file", &upload.file_name, upload.data.clone());
        let response = self
            .pipeline
            .handle(self.form_request(Route::Files, &form)?);
        Self::parse_whole(response.await?.body)
    }

    /// A stored file's content (`GET /v1/files/{id}/content`): a batch's output or
    /// errors, read line by line, restored in the scope of the upload the batch came from
    /// and scanned like answers.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn file_content(&self, id: &str) -> Result<Bytes, ClientError> {
        self.stored_bytes(Route::FilesContent, id).await
    }

    /// OpenAI batch creation: the batch continues the scope of its input file's upload.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create_batch(
        &self,
        req: openai::BatchRequest,
    ) -> Result<openai::Batch, ClientError> {
        self.call(Route::Batches, &req, &CallOptions::default())
            .await
    }

    /// A batch as it stands (`GET /v1/batches/{id}`): once it completed, its
    /// `output_file_id` for [`SentinelClient::file_content`].
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn batch_status(&self, id: &str) -> Result<openai::Batch, ClientError> {
        self.stored(Route::BatchesRetrieve, id).await
    }

    /// A page of the uploaded files (`GET /v1/files`); their names scanned as answers.
    ///
    /// # Errors
    ///
    /// See [`ClientError`]; an `after` that is not an id is [`ClientError::BadRequest`]
    /// before anything is sent.
    pub async fn list_files(&self, page: &Page) -> Result<List<openai::FileObject>, ClientError> {
        self.listed(Route::FilesList, page.query("after")?).await
    }

    /// A page of the batches (`GET /v1/batches`): each batch's output and error files are
    /// linked to the scope of the upload the batch came from, so reading them restores.
    ///
    /// # Errors
    ///
    /// See [`SentinelClient::list_files`].
    pub async fn list_batches(&self, page: &Page) -> Result<List<openai::Batch>, ClientError> {
        self.listed(Route::BatchesList, page.query("after")?).await
    }

    async fn upload(
        &self,
        route: Route,
        upload: &AudioUpload,
    ) -> Result<openai::Transcription, ClientError> {
        let mut form = Form::new();
        form.text("model", &upload.model);
        for (name, value) in &upload.fields {
            form.text(name, value);
        }
        form.file("file", &upload.file_name, upload.audio.clone());
        let response = self
            .pipeline
            .handle(self.form_request(route, &form)?)
            .await?;
        let b = Self::whole(response.body)?;
        if response.content_type.starts_with("application/json") {
            Self::parse(&b)
        } else {
            // `text`, `srt`, `vtt`: the answer is the text.
            Ok(openai::Transcription {
                text: String::from_utf8_lossy(&b).into_owned(),
                extra: Default::default(),
            })
        }
    }

    fn request(&self, route: Route, body: Bytes, opts: &CallOptions) -> PipelineRequest {
        let mut r = PipelineRequest::new(route, &self.tenant, body);
        r.conversation.clone_from(&opts.conversation);
        r.priority = opts.priority;
        r
    }

    async fn call<T: DeserializeOwned>(
        &self,
        route: Route,
        body: &impl Serialize,
        opts: &CallOptions,
    ) -> Result<T, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::BadRequest(e.to_string()))?;
        let response = self
            .pipeline
            .handle(self.request(route, Bytes::from(bytes), opts))
            .await?;
        Self::parse_whole(response.body)
    }

    /// A whole answer's bytes.
    fn whole(body: PipelineBody) -> Result<Bytes, ClientError> {
        match body {
            PipelineBody::Full(b) => Ok(b),
            PipelineBody::Stream(_) => Err(ClientError::InvalidResponse(
                "a stream answered a request without `stream: true`".to_owned(),
            )),
        }
    }

    /// An answer's JSON, parsed.
    fn parse<T: DeserializeOwned>(b: &[u8]) -> Result<T, ClientError> {
        serde_json::from_slice(b).map_err(|e| ClientError::InvalidResponse(format!("{e}")))
    }

    /// A whole JSON answer, parsed.
    fn parse_whole<T: DeserializeOwned>(body: PipelineBody) -> Result<T, ClientError> {
        let b = Self::whole(body)?;
        Self::parse(&b)
    }

    /// The request that sends `form` on `route`.
    fn form_request(&self, route: Route, form: &Form) -> Result<PipelineRequest, ClientError> {
        let body = form
            .encode(&form.fields())
            .map_err(|e| ClientError::BadRequest(e.to_string()))?;
        let mut req = self.request(route, body, &CallOptions::default());
        req.content_type = Some(form.content_type());
        Ok(req)
    }

    /// The answer of `route` on the stored resource `id`.
    async fn stored_bytes(&self, route: Route, id: &str) -> Result<Bytes, ClientError> {
        let response = self.pipeline.handle(self.on_resource(route, id));
        Self::whole(response.await?.body)
    }

    /// The JSON answer of `route` on the stored resource `id`, parsed.
    async fn stored<T: DeserializeOwned>(&self, route: Route, id: &str) -> Result<T, ClientError> {
        let b = self.stored_bytes(route, id).await?;
        Self::parse(&b)
    }

    /// The JSON answer of `route` on the stored resource `id`, sent `body` (decided as the
    /// route's request), parsed.
    async fn stored_with<T: DeserializeOwned>(
        &self,
        route: Route,
        id: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        let mut req = self.on_resource(route, id);
        req.body = serde_json::to_vec(body)
            .map_err(|e| ClientError::BadRequest(e.to_string()))?
            .into();
        let response = self.pipeline.handle(req);
        Self::parse_whole(response.await?.body)
    }

    /// The JSON answer of the listing `route` with `query`, parsed.
    async fn listed<T: DeserializeOwned>(
        &self,
        route: Route,
        query: Option<String>,
    ) -> Result<T, ClientError> {
        let mut req = self.request(route, Bytes::new(), &CallOptions::default());
        req.query = query;
        let response = self.pipeline.handle(req);
        Self::parse_whole(response.await?.body)
    }

    /// The request of `route` on the stored resource `id`.
    fn on_resource(&self, route: Route, id: &str) -> PipelineRequest {
        let mut req = self.request(route, Bytes::new(), &CallOptions::default());
        req.resource = Some(id.to_owned());
        req
    }

    async fn call_stream<T: DeserializeOwned>(
        &self,
        route: Route,
        body: &impl Serialize,
        opts: &CallOptions,
    ) -> Result<EventStream<T>, ClientError> {
        let mut value =
            serde_json::to_value(body).map_err(|e| ClientError::BadRequest(e.to_string()))?;
        if let Some(o) = value.as_object_mut() {
            o.insert("stream".to_owned(), Value::Bool(true));
        }
        let bytes =
            serde_json::to_vec(&value).map_err(|e| ClientError::BadRequest(e.to_string()))?;
        let response = self
            .pipeline
            .handle(self.request(route, Bytes::from(bytes), opts))
            .await?;
        match response.body {
            PipelineBody::Stream(s) => Ok(EventStream {
                inner: Some(s),
                full: None,
                parser: SseParser::new(1 << 20),
                events: std::collections::VecDeque::new(),
                _t: std::marker::PhantomData,
            }),
            PipelineBody::Full(b) => Ok(EventStream {
                inner: None,
                full: Some(b),
                parser: SseParser::new(1 << 20),
                events: std::collections::VecDeque::new(),
                _t: std::marker::PhantomData,
            }),
        }
    }

    /// Runs `requests` with at most `concurrency` in flight, higher priorities started
    /// first, and returns each result in the order given, failures included.
    pub async fn batch(
        &self,
        requests: Vec<(openai::ChatCompletionRequest, CallOptions)>,
        concurrency: usize,
    ) -> Vec<Result<openai::ChatCompletionResponse, ClientError>> {
        let gate = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(requests[i].1.priority));
        let mut tasks: Vec<Option<tokio::task::JoinHandle<_>>> =
            (0..requests.len()).map(|_| None).collect();
        let mut requests: Vec<Option<_>> = requests.into_iter().map(Some).collect();
        for i in order {
            let Some((req, opts)) = requests[i].take() else {
                continue;
            };
            // Started in priority order; the semaphore bounds how many run at once.
            let Ok(permit) = Arc::clone(&gate).acquire_owned().await else {
                break;
            };
            let client = self.clone();
            tasks[i] = Some(tokio::spawn(async move {
                let r = client.chat().completions().create_with(req, &opts).await;
                drop(permit);
                r
            }));
        }
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(match t {
                Some(handle) => handle.await.unwrap_or_else(|e| {
                    Err(ClientError::InvalidResponse(format!("task failed: {e}")))
                }),
                None => Err(ClientError::InvalidResponse("not started".to_owned())),
            });
        }
        out
    }

    async fn embed_batched(
        &self,
        req: openai::EmbeddingRequest,
        opts: &CallOptions,
        config: MicroBatchConfig,
    ) -> Result<openai::EmbeddingResponse, ClientError> {
        let inputs: Vec<Value> = match &req.input {
            Value::String(_) => vec![req.input.clone()],
            Value::Array(items) if items.iter().all(Value::is_string) => items.clone(),
            // Token inputs are sent on their own.
            _ => return self.call(Route::Embeddings, &req, opts).await,
        };
        let key = format!(
            "{}\0{}",
            req.model,
            serde_json::to_string(&req.extra).unwrap_or_default()
        );
        let (tx, rx) = oneshot::channel();
        let flush_now = {
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let first = !pending.contains_key(&key);
            let batch = pending.entry(key.clone()).or_insert_with(|| PendingBatch {
                inputs: Vec::new(),
                waiters: Vec::new(),
                extra: req.extra.clone(),
            });
            batch.waiters.push((inputs.len(), tx));
            batch.inputs.extend(inputs);
            if batch.inputs.len() >= config.max_batch {
                pending.remove(&key)
            } else {
                if first {
                    let client = self.clone();
                    let (key, model, opts) = (key.clone(), req.model.clone(), opts.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(config.max_wait).await;
                        let batch = client
                            .pending
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&key);
                        if let Some(b) = batch {
                            client.send_batch(&model, b, &opts).await;
                        }
                    });
                }
                None
            }
        };
        if let Some(batch) = flush_now {
            self.send_batch(&req.model, batch, opts).await;
        }
        let vectors = rx
            .await
            .map_err(|_| ClientError::InvalidResponse("batch dropped".to_owned()))?
            .map_err(|e| ClientError::InvalidResponse(format!("batched request failed: {e}")))?;
        Ok(openai::EmbeddingResponse {
            data: vectors
                .into_iter()
                .enumerate()
                .map(|(i, v)| openai::Embedding {
                    index: Some(u32::try_from(i).unwrap_or(u32::MAX)),
                    embedding: v,
                    extra: serde_json::Map::from_iter([(
                        "object".to_owned(),
                        Value::String("embedding".to_owned()),
                    )]),
                })
                .collect(),
            usage: None,
            extra: serde_json::Map::from_iter([
                ("object".to_owned(), Value::String("list".to_owned())),
                ("model".to_owned(), Value::String(req.model)),
            ]),
        })
    }

    async fn send_batch(&self, model: &str, batch: PendingBatch, opts: &CallOptions) {
        let request = openai::EmbeddingRequest {
            model: model.to_owned(),
            input: Value::Array(batch.inputs),
            extra: batch.extra,
        };
        let result: Result<openai::EmbeddingResponse, ClientError> =
            self.call(Route::Embeddings, &request, opts).await;
        match result {
            Ok(mut response) => {
                response.data.sort_by_key(|e| e.index.unwrap_or(0));
                let mut vectors = response.data.into_iter().map(|e| e.embedding);
                for (n, tx) in batch.waiters {
                    let mine: Vec<Value> = vectors.by_ref().take(n).collect();
                    let _ = tx.send(if mine.len() == n {
                        Ok(mine)
                    } else {
                        Err(Arc::new(ClientError::InvalidResponse(
                            "fewer embeddings than inputs".to_owned(),
                        )))
                    });
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                for (_, tx) in batch.waiters {
                    let _ = tx.send(Err(Arc::clone(&e)));
                }
            }
        }
    }
}

/// `client.chat()`.
#[derive(Debug)]
pub struct Chat<'a>(&'a SentinelClient);

impl<'a> Chat<'a> {
    /// `client.chat().completions()`.
    pub fn completions(&self) -> ChatCompletions<'a> {
        ChatCompletions(self.0)
    }
}

/// `client.chat().completions()`.
#[derive(Debug)]
pub struct ChatCompletions<'a>(&'a SentinelClient);

impl ChatCompletions<'_> {
    /// Creates a completion.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create(
        &self,
        req: openai::ChatCompletionRequest,
    ) -> Result<openai::ChatCompletionResponse, ClientError> {
        self.create_with(req, &CallOptions::default()).await
    }

    /// Creates a completion with options (conversation, priority).
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create_with(
        &self,
        req: openai::ChatCompletionRequest,
        opts: &CallOptions,
    ) -> Result<openai::ChatCompletionResponse, ClientError> {
        self.0.call(Route::ChatCompletions, &req, opts).await
    }

    /// Streams a completion: chunks arrive scanned and restored.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create_stream(
        &self,
        req: openai::ChatCompletionRequest,
        opts: &CallOptions,
    ) -> Result<EventStream<openai::ChatCompletionChunk>, ClientError> {
        self.0.call_stream(Route::ChatCompletions, &req, opts).await
    }
}

/// `client.embeddings()`.
#[derive(Debug)]
pub struct Embeddings<'a>(&'a SentinelClient);

impl Embeddings<'_> {
    /// Creates embeddings (coalesced with concurrent calls when micro-batching is on).
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create(
        &self,
        req: openai::EmbeddingRequest,
    ) -> Result<openai::EmbeddingResponse, ClientError> {
        let opts = CallOptions::default();
        match self.0.batching {
            Some(config) => self.0.embed_batched(req, &opts, config).await,
            None => self.0.call(Route::Embeddings, &req, &opts).await,
        }
    }
}

/// `client.responses()` (OpenAI's Responses API).
///
/// A request that continues an earlier answer (`previous_response_id`) or a stored
/// conversation (`conversation`) is decided in that answer's or conversation's pseudonym
/// scope, so pseudonyms the model quotes from earlier turns come back restored. A stored
/// answer fetched later ([`Responses::retrieve`]: a background one, say) is restored in
/// the scope of the request that created it.
///
/// # Example
///
/// ```no_run
/// # async fn run(client: sentinel_client::SentinelClient) -> Result<(), sentinel_client::ClientError> {
/// use sentinel_transport::wire::openai::ResponsesRequest;
/// let first = client
///     .responses()
///     .create(ResponsesRequest::new("gpt-5", "Write to jane@example.com for me."))
///     .await?;
/// println!("{}", first.output_text());
/// let mut next = ResponsesRequest::new("gpt-5", "Now shorter.");
/// next.previous_response_id = Some(first.id.clone());
/// let second = client.responses().create(next).await?;
/// let again = client.responses().retrieve(&second.id).await?;
/// assert_eq!(again.id, second.id);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Responses<'a>(&'a SentinelClient);

impl Responses<'_> {
    /// Creates an answer.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create(
        &self,
        req: openai::ResponsesRequest,
    ) -> Result<openai::Response, ClientError> {
        self.create_with(req, &CallOptions::default()).await
    }

    /// Creates an answer with options (a conversation of the caller's, priority).
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create_with(
        &self,
        req: openai::ResponsesRequest,
        opts: &CallOptions,
    ) -> Result<openai::Response, ClientError> {
        self.0.call(Route::Responses, &req, opts).await
    }

    /// Streams an answer: its events arrive scanned and restored (a text's deltas held
    /// back as far as a value can reach, its `.done` event whole).
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create_stream(
        &self,
        req: openai::ResponsesRequest,
        opts: &CallOptions,
    ) -> Result<EventStream<openai::ResponseStreamEvent>, ClientError> {
        self.0.call_stream(Route::Responses, &req, opts).await
    }

    /// A stored answer as it stands (`GET /v1/responses/{id}`): a background one once it
    /// completed, restored in the scope of the request that created it.
    ///
    /// # Errors
    ///
    /// See [`ClientError`]; an id that is not one (letters, digits, `_`, `-`) is
    /// [`ClientError::BadRequest`] before anything is sent.
    pub async fn retrieve(&self, id: &str) -> Result<openai::Response, ClientError> {
        self.0.stored(Route::ResponsesRetrieve, id).await
    }

    /// Cancels a background answer (`POST /v1/responses/{id}/cancel`): what it had
    /// produced, restored.
    ///
    /// # Errors
    ///
    /// See [`Responses::retrieve`].
    pub async fn cancel(&self, id: &str) -> Result<openai::Response, ClientError> {
        self.0.stored(Route::ResponsesCancel, id).await
    }

    /// Deletes a stored answer (`DELETE /v1/responses/{id}`).
    ///
    /// # Errors
    ///
    /// See [`Responses::retrieve`].
    pub async fn delete(&self, id: &str) -> Result<(), ClientError> {
        self.0
            .stored_bytes(Route::ResponsesDelete, id)
            .await
            .map(drop)
    }

    /// A page of the input a stored answer was made from
    /// (`GET /v1/responses/{id}/input_items`), restored in its scope.
    ///
    /// # Errors
    ///
    /// See [`Responses::retrieve`]; an `after` that is not an id is
    /// [`ClientError::BadRequest`].
    pub async fn input_items(
        &self,
        id: &str,
        page: &Page,
    ) -> Result<openai::ItemList, ClientError> {
        let mut req = self.0.on_resource(Route::ResponsesInputItems, id);
        req.query = page.query("after")?;
        let response = self.0.pipeline.handle(req);
        SentinelClient::parse_whole(response.await?.body)
    }
}

/// `client.conversations()` (OpenAI's Conversations API).
///
/// A conversation keeps the pseudonym scope of the request that created it: a Responses
/// API request naming it (`conversation`), and its items read back, are restored in that
/// scope. Items going up (at creation or added later) are decided as Responses API input;
/// metadata as identifiers.
///
/// # Example
///
/// ```no_run
/// # async fn run(client: sentinel_client::SentinelClient) -> Result<(), sentinel_client::ClientError> {
/// use sentinel_transport::wire::openai::{ConversationRequest, ResponsesRequest};
/// let message = serde_json::json!({"type": "message", "role": "user",
///     "content": "My address is jane@example.com."});
/// let conversation = client
///     .conversations()
///     .create(ConversationRequest { items: vec![message], ..Default::default() })
///     .await?;
/// let mut turn = ResponsesRequest::new("gpt-5", "Where do I live?");
/// turn.conversation = Some(conversation.id.clone().into());
/// let answer = client.responses().create(turn).await?;
/// let items = client.conversations().items(&conversation.id).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Conversations<'a>(&'a SentinelClient);

impl Conversations<'_> {
    /// Creates a conversation.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create(
        &self,
        req: openai::ConversationRequest,
    ) -> Result<openai::Conversation, ClientError> {
        self.0
            .call(Route::Conversations, &req, &CallOptions::default())
            .await
    }

    /// A conversation (`GET /v1/conversations/{id}`).
    ///
    /// # Errors
    ///
    /// See [`ClientError`]; an id that is not one (letters, digits, `_`, `-`) is
    /// [`ClientError::BadRequest`] before anything is sent.
    pub async fn retrieve(&self, id: &str) -> Result<openai::Conversation, ClientError> {
        self.0.stored(Route::ConversationsRetrieve, id).await
    }

    /// Sets a conversation's metadata (`POST /v1/conversations/{id}`).
    ///
    /// # Errors
    ///
    /// See [`Conversations::retrieve`].
    pub async fn update(
        &self,
        id: &str,
        metadata: Value,
    ) -> Result<openai::Conversation, ClientError> {
        let body = serde_json::json!({ "metadata": metadata });
        self.0
            .stored_with(Route::ConversationsUpdate, id, &body)
            .await
    }

    /// Deletes a conversation (its items go with it).
    ///
    /// # Errors
    ///
    /// See [`Conversations::retrieve`].
    pub async fn delete(&self, id: &str) -> Result<(), ClientError> {
        self.0
            .stored_bytes(Route::ConversationsDelete, id)
            .await
            .map(drop)
    }

    /// A conversation's items, restored.
    ///
    /// # Errors
    ///
    /// See [`Conversations::retrieve`].
    pub async fn items(&self, id: &str) -> Result<openai::ItemList, ClientError> {
        self.0.stored(Route::ConversationItems, id).await
    }

    /// Adds items to a conversation: decided going up; what it answers, restored.
    ///
    /// # Errors
    ///
    /// See [`Conversations::retrieve`].
    pub async fn add_items(
        &self,
        id: &str,
        items: Vec<Value>,
    ) -> Result<openai::ItemList, ClientError> {
        let body = serde_json::json!({ "items": items });
        self.0
            .stored_with(Route::ConversationItemsCreate, id, &body)
            .await
    }

    /// One item of a conversation, restored.
    ///
    /// # Errors
    ///
    /// See [`Conversations::retrieve`]; the item's id is held to the same rule.
    pub async fn item(&self, id: &str, item_id: &str) -> Result<Value, ClientError> {
        self.0
            .stored(Route::ConversationItem, &format!("{id}/items/{item_id}"))
            .await
    }

    /// Deletes one item; the conversation as it is after.
    ///
    /// # Errors
    ///
    /// See [`Conversations::item`].
    pub async fn delete_item(
        &self,
        id: &str,
        item_id: &str,
    ) -> Result<openai::Conversation, ClientError> {
        self.0
            .stored(
                Route::ConversationItemDelete,
                &format!("{id}/items/{item_id}"),
            )
            .await
    }
}

/// `client.messages()` (Anthropic).
#[derive(Debug)]
pub struct Messages<'a>(&'a SentinelClient);

impl Messages<'_> {
    /// Creates a message.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create(
        &self,
        req: anthropic::MessagesRequest,
    ) -> Result<anthropic::MessagesResponse, ClientError> {
        self.create_with(req, &CallOptions::default()).await
    }

    /// Creates a message with options (a conversation of the caller's, whose pseudonyms
    /// later turns restore; priority).
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create_with(
        &self,
        req: anthropic::MessagesRequest,
        opts: &CallOptions,
    ) -> Result<anthropic::MessagesResponse, ClientError> {
        self.0.call(Route::Messages, &req, opts).await
    }

    /// Streams a message.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create_stream(
        &self,
        req: anthropic::MessagesRequest,
    ) -> Result<EventStream<anthropic::StreamEvent>, ClientError> {
        self.create_stream_with(req, &CallOptions::default()).await
    }

    /// Streams a message with options, as [`Messages::create_with`].
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create_stream_with(
        &self,
        req: anthropic::MessagesRequest,
        opts: &CallOptions,
    ) -> Result<EventStream<anthropic::StreamEvent>, ClientError> {
        self.0.call_stream(Route::Messages, &req, opts).await
    }

    /// Counts the tokens a request would take (`POST /v1/messages/count_tokens`): its
    /// messages decided as for [`Messages::create`] first, so a count is never taken of
    /// what the policy would not send. `max_tokens` is not part of a count: leave it
    /// `None`.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn count_tokens(
        &self,
        req: anthropic::MessagesRequest,
    ) -> Result<anthropic::TokenCount, ClientError> {
        self.0
            .call(Route::MessagesCountTokens, &req, &CallOptions::default())
            .await
    }
}

/// `client.message_batches()` (Anthropic's Message Batches API).
///
/// Each request's `params` are decided as a messages request; the batch keeps the
/// pseudonym scope of the request that created it, so its results come back restored.
///
/// # Example
///
/// ```no_run
/// # async fn run(client: sentinel_client::SentinelClient, params: sentinel_transport::wire::anthropic::MessagesRequest) -> Result<(), sentinel_client::ClientError> {
/// use sentinel_transport::wire::anthropic::{BatchedRequest, MessageBatchRequest};
/// let batch = client
///     .message_batches()
///     .create(MessageBatchRequest {
///         requests: vec![BatchedRequest { custom_id: "r1".into(), params }],
///         ..Default::default()
///     })
///     .await?;
/// // Poll until its `processing_status` is `ended`, then:
/// for line in client.message_batches().results(&batch.id).await? {
///     println!("{}: {}", line.custom_id, line.result["type"]);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MessageBatches<'a>(&'a SentinelClient);

impl MessageBatches<'_> {
    /// Creates a batch.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn create(
        &self,
        req: anthropic::MessageBatchRequest,
    ) -> Result<anthropic::MessageBatch, ClientError> {
        self.0
            .call(Route::MessagesBatches, &req, &CallOptions::default())
            .await
    }

    /// A batch as it stands; its `results_url` is the gateway's own path.
    ///
    /// # Errors
    ///
    /// See [`ClientError`]; an id that is not one (letters, digits, `_`, `-`) is
    /// [`ClientError::BadRequest`] before anything is sent.
    pub async fn retrieve(&self, id: &str) -> Result<anthropic::MessageBatch, ClientError> {
        self.0.stored(Route::MessagesBatchesRetrieve, id).await
    }

    /// Cancels a batch still in progress.
    ///
    /// # Errors
    ///
    /// See [`MessageBatches::retrieve`].
    pub async fn cancel(&self, id: &str) -> Result<anthropic::MessageBatch, ClientError> {
        self.0.stored(Route::MessagesBatchesCancel, id).await
    }

    /// Deletes an ended batch.
    ///
    /// # Errors
    ///
    /// See [`MessageBatches::retrieve`].
    pub async fn delete(&self, id: &str) -> Result<(), ClientError> {
        self.0
            .stored_bytes(Route::MessagesBatchesDelete, id)
            .await
            .map(drop)
    }

    /// A page of the message batches (`GET /v1/messages/batches`), each `results_url`
    /// made the gateway's own path. `after` is Anthropic's `after_id`.
    ///
    /// # Errors
    ///
    /// See [`SentinelClient::list_files`].
    pub async fn list(&self, page: &Page) -> Result<List<anthropic::MessageBatch>, ClientError> {
        self.0
            .listed(Route::MessagesBatchesList, page.query("after_id")?)
            .await
    }

    /// An ended batch's results, one per request: restored in the batch's scope and
    /// scanned as answers.
    ///
    /// # Errors
    ///
    /// See [`MessageBatches::retrieve`]; a line that is not a result is
    /// [`ClientError::InvalidResponse`].
    pub async fn results(
        &self,
        id: &str,
    ) -> Result<Vec<anthropic::MessageBatchResult>, ClientError> {
        let b = self
            .0
            .stored_bytes(Route::MessagesBatchesResults, id)
            .await?;
        b.split(|&c| c == b'\n')
            .filter(|line| !line.trim_ascii().is_empty())
            .map(SentinelClient::parse)
            .collect()
    }
}

/// Typed events of a streamed answer.
pub struct EventStream<T> {
    inner: Option<Box<ResponseStream>>,
    full: Option<Bytes>,
    parser: SseParser,
    events: std::collections::VecDeque<SseEvent>,
    _t: std::marker::PhantomData<T>,
}

impl<T> std::fmt::Debug for EventStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl<T: DeserializeOwned> EventStream<T> {
    /// The next event; `None` at the end (after `[DONE]`).
    ///
    /// # Errors
    ///
    /// The stream broke, an event is not the expected JSON, or the answer was blocked
    /// mid-stream ([`ClientError::Blocked`]).
    pub async fn next(&mut self) -> Option<Result<T, ClientError>> {
        loop {
            if let Some(e) = self.events.pop_front() {
                if e.is_done() {
                    continue;
                }
                let v: Value = match serde_json::from_str(&e.data) {
                    Ok(v) => v,
                    Err(err) => return Some(Err(ClientError::InvalidResponse(err.to_string()))),
                };
                if v.get("error")
                    .and_then(|x| x.get("code"))
                    .and_then(Value::as_str)
                    == Some("response_blocked")
                {
                    return Some(Err(ClientError::Blocked {
                        direction: "response",
                        reasons: Vec::new(),
                    }));
                }
                return Some(
                    serde_json::from_value(v)
                        .map_err(|err| ClientError::InvalidResponse(err.to_string())),
                );
            }
            let bytes = if let Some(b) = self.full.take() {
                b
            } else {
                match &mut self.inner {
                    Some(s) => match s.next().await {
                        Some(Ok(b)) => b,
                        Some(Err(e)) => return Some(Err(e.into())),
                        None => return None,
                    },
                    None => return None,
                }
            };
            let mut events = Vec::new();
            if let Err(e) = self.parser.push(&bytes, &mut events) {
                return Some(Err(ClientError::InvalidResponse(e.to_string())));
            }
            self.events.extend(events);
        }
    }
}

/// A synchronous client (feature `blocking`), for code without an async runtime.
#[cfg(feature = "blocking")]
pub mod blocking {
    use super::*;

    /// [`super::SentinelClient`] on a private Tokio runtime.
    #[derive(Debug)]
    pub struct SentinelClient {
        runtime: tokio::runtime::Runtime,
        inner: super::SentinelClient,
    }

    impl SentinelClient {
        /// A client built from `config`.
        ///
        /// # Errors
        ///
        /// A runtime or layer that cannot be built.
        pub fn new(config: &SentinelConfig) -> Result<SentinelClient, ClientError> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| ClientError::Config(ConfigError(format!("runtime: {e}"))))?;
            let inner = runtime.block_on(async { super::SentinelClient::new(config) })?;
            Ok(SentinelClient { runtime, inner })
        }

        /// A chat completion.
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn chat_completion(
            &self,
            req: openai::ChatCompletionRequest,
        ) -> Result<openai::ChatCompletionResponse, ClientError> {
            self.runtime
                .block_on(self.inner.chat().completions().create(req))
        }

        /// Embeddings.
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn embeddings(
            &self,
            req: openai::EmbeddingRequest,
        ) -> Result<openai::EmbeddingResponse, ClientError> {
            self.runtime.block_on(self.inner.embeddings().create(req))
        }

        /// A moderation.
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn moderate(
            &self,
            req: openai::ModerationRequest,
        ) -> Result<openai::ModerationResponse, ClientError> {
            self.runtime.block_on(self.inner.moderate(req))
        }

        /// An image.
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn generate_image(
            &self,
            req: openai::ImageRequest,
        ) -> Result<openai::ImageResponse, ClientError> {
            self.runtime.block_on(self.inner.generate_image(req))
        }

        /// Speech.
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn speech(&self, req: openai::SpeechRequest) -> Result<Bytes, ClientError> {
            self.runtime.block_on(self.inner.speech(req))
        }

        /// A transcript.
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn transcribe(
            &self,
            upload: &super::AudioUpload,
        ) -> Result<openai::Transcription, ClientError> {
            self.runtime.block_on(self.inner.transcribe(upload))
        }

        /// A file stored with the provider ([`super::SentinelClient::upload_file`]).
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn upload_file(
            &self,
            upload: &super::FileUpload,
        ) -> Result<openai::FileObject, ClientError> {
            self.runtime.block_on(self.inner.upload_file(upload))
        }

        /// A stored file's content ([`super::SentinelClient::file_content`]).
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn file_content(&self, id: &str) -> Result<Bytes, ClientError> {
            self.runtime.block_on(self.inner.file_content(id))
        }

        /// A batch created ([`super::SentinelClient::create_batch`]).
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn create_batch(
            &self,
            req: openai::BatchRequest,
        ) -> Result<openai::Batch, ClientError> {
            self.runtime.block_on(self.inner.create_batch(req))
        }

        /// A batch as it stands ([`super::SentinelClient::batch_status`]).
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn batch_status(&self, id: &str) -> Result<openai::Batch, ClientError> {
            self.runtime.block_on(self.inner.batch_status(id))
        }

        /// An Anthropic message.
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn message(
            &self,
            req: anthropic::MessagesRequest,
        ) -> Result<anthropic::MessagesResponse, ClientError> {
            self.runtime.block_on(self.inner.messages().create(req))
        }

        /// A Responses API answer ([`super::Responses::create`]).
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn response(
            &self,
            req: openai::ResponsesRequest,
        ) -> Result<openai::Response, ClientError> {
            self.runtime.block_on(self.inner.responses().create(req))
        }

        /// A stored Responses API answer ([`super::Responses::retrieve`]).
        ///
        /// # Errors
        ///
        /// See [`ClientError`].
        pub fn stored_response(&self, id: &str) -> Result<openai::Response, ClientError> {
            self.runtime.block_on(self.inner.responses().retrieve(id))
        }
    }
}
