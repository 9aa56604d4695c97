//! OpenAI: chat completions (tools and streaming chunks included), completions,
//! embeddings, the Responses API, files and batches.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Content, Extra};

/// `POST /v1/chat/completions` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// The model.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Whether to stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Sampling temperature, as written (`0` stays `0`, not `0.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<serde_json::Number>,
    /// Tools the model may call (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// Everything else (top_p, max_tokens, seed, response_format, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant`, `tool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text, parts, or null (an assistant message with tool calls).
    #[serde(default, skip_serializing_if = "Content::is_absent")]
    pub content: Content<ContentPart>,
    /// Tool calls of an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Everything else (name, refusal, audio...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A typed content part.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    /// `text`, `image_url`, `input_audio`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool call (whole in a response, a fragment in a streaming delta).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The position among the calls (streaming deltas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The call's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The function and its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCall>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A function call: the arguments are JSON text (a fragment of it in a delta).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The arguments, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Token counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// Completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    /// Everything else (total, details).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/chat/completions` response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionResponse {
    /// The choices.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Everything else (id, object, created, model, system_fingerprint...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One choice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    /// The message.
    pub message: ChatMessage,
    /// Everything else (index, finish_reason, logprobs).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One streamed chunk (`data:` of a `text/event-stream`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// The choices' deltas.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Token counts (last chunk, with `stream_options.include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A choice's delta.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// The delta: role, a content fragment, tool call fragments.
    #[serde(default)]
    pub delta: ChatMessage,
    /// Everything else (index, finish_reason).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/completions` request (legacy).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The model.
    pub model: String,
    /// A string, a list of strings, or tokens.
    pub prompt: Value,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/completions` response (or a streamed chunk of it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// The choices.
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One completion choice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/embeddings` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// The model.
    pub model: String,
    /// A string, a list of strings, or tokens.
    pub input: Value,
    /// Everything else (dimensions, encoding_format, user).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/embeddings` response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// One embedding per input.
    pub data: Vec<Embedding>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Everything else (object, model).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/moderations` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModerationRequest {
    /// A string, a list of strings, or a list of text and image parts.
    pub input: Value,
    /// Everything else (model).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/moderations` response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModerationResponse {
    /// One result per input.
    pub results: Vec<ModerationResult>,
    /// Everything else (id, model).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One moderation result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModerationResult {
    /// Whether any category was flagged.
    pub flagged: bool,
    /// Everything else (categories, category_scores, category_applied_input_types).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/images/generations` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageRequest {
    /// The prompt.
    pub prompt: String,
    /// Everything else (model, n, size, quality, response_format).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/images/generations` response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageResponse {
    /// The images.
    pub data: Vec<Image>,
    /// Everything else (created, usage).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One generated image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The image, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    /// Where the image can be fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The prompt as the model rewrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/audio/speech` request (the answer is audio).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpeechRequest {
    /// The text to speak.
    pub input: String,
    /// Everything else (model, voice, instructions, response_format, speed).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/audio/transcriptions` (and translations) answer, in the JSON formats
/// (`json`, `verbose_json`, `diarized_json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcription {
    /// The transcript.
    pub text: String,
    /// Everything else (segments, words, language, duration, usage).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A stored file (`POST /v1/files`, `GET /v1/files/{id}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileObject {
    /// Its id (`file-...`).
    pub id: String,
    /// The name it was uploaded under.
    #[serde(default)]
    pub filename: String,
    /// What it is for (`batch`, `fine-tune`, `user_data`, ...).
    #[serde(default)]
    pub purpose: String,
    /// Everything else (bytes, created_at, status, expires_at).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/batches` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    /// The uploaded JSONL file of requests (purpose `batch`).
    pub input_file_id: String,
    /// The route every request goes to (`/v1/chat/completions`).
    pub endpoint: String,
    /// How long the batch may take (`24h`).
    pub completion_window: String,
    /// Everything else (metadata, output_expires_after).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A batch (`POST /v1/batches`, `GET /v1/batches/{id}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Its id (`batch_...`).
    pub id: String,
    /// `validating`, `in_progress`, `finalizing`, `completed`, `failed`, `expired`,
    /// `cancelling`, `cancelled`.
    #[serde(default)]
    pub status: String,
    /// The file of answers, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file_id: Option<String>,
    /// The file of failed requests, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_file_id: Option<String>,
    /// Everything else (endpoint, input_file_id, request_counts, errors, metadata).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/responses` request (the Responses API).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponsesRequest {
    /// The model.
    pub model: String,
    /// A string, or input items (messages with text or parts, function call outputs,
    /// items of earlier turns), kept as JSON.
    #[serde(default, skip_serializing_if = "Content::is_absent")]
    pub input: Content<Value>,
    /// The system (developer) message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// The answer this request follows, kept on the provider's side (`store`): its
    /// pseudonyms restore in this request's answer too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// A stored conversation this request adds to (its id, or `{"id": ...}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
    /// Whether to stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Tools the model may call (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// Everything else (store, background, text, reasoning, temperature, metadata, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl ResponsesRequest {
    /// A request of `model` with `input` as its one user text.
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_transport::wire::openai::ResponsesRequest;
    /// let req = ResponsesRequest::new("gpt-5", "Hello");
    /// assert_eq!(
    ///     serde_json::to_string(&req).expect("json"),
    ///     r#"{"model":"gpt-5","input":"Hello"}"#
    /// );
    /// ```
    pub fn new(model: &str, input: &str) -> ResponsesRequest {
        ResponsesRequest {
            model: model.to_owned(),
            input: Content::Text(input.to_owned()),
            ..ResponsesRequest::default()
        }
    }
}

/// A Responses API answer (`object: "response"`): created, retrieved or cancelled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Its id (`resp_...`), for `previous_response_id` and retrieval.
    pub id: String,
    /// `completed`, `in_progress`, `queued` (background), `incomplete`, `failed`,
    /// `cancelled`.
    #[serde(default)]
    pub status: String,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// What the model produced: messages, function and tool calls, reasoning (as JSON).
    #[serde(default)]
    pub output: Vec<Value>,
    /// Everything else (usage, error, incomplete_details, created_at, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Response {
    /// The text of the answer's messages: every `output_text` part of every `message`
    /// item, in order, as the official SDKs' `output_text` gives it.
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_transport::wire::openai::Response;
    /// let r: Response = serde_json::from_str(r#"{"id":"resp_1","output":[
    ///     {"type":"reasoning","summary":[]},
    ///     {"type":"message","role":"assistant","content":[
    ///         {"type":"output_text","text":"Hello "},{"type":"output_text","text":"there"}]}]}"#)
    ///     .expect("a response");
    /// assert_eq!(r.output_text(), "Hello there");
    /// ```
    pub fn output_text(&self) -> String {
        self.output
            .iter()
            .filter(|item| item["type"] == "message")
            .filter_map(|item| item["content"].as_array())
            .flatten()
            .filter(|part| part["type"] == "output_text")
            .filter_map(|part| part["text"].as_str())
            .collect()
    }
}

/// One event of a streamed Responses API answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseStreamEvent {
    /// `response.created`, `response.output_text.delta`, `response.output_item.done`,
    /// `response.completed`, `error`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// A piece of text (`.delta` events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<String>,
    /// A whole text (`.done` events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The answer as it stands (`response.created`, `response.completed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    /// Everything else (sequence_number, item_id, output_index, item, part, code, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/conversations` request: a conversation kept on the provider's side.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationRequest {
    /// Its first items (messages and other Responses API input items, as JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Value>,
    /// Keys and strings of the caller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A conversation (`object: "conversation"`), as created, read or changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Its id (`conv_...`), for a Responses API request's `conversation`.
    pub id: String,
    /// Keys and strings of the caller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Everything else (created_at, object).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A list of a conversation's items (`object: "list"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemList {
    /// The items (messages, tool calls and outputs, reasoning), as JSON.
    #[serde(default)]
    pub data: Vec<Value>,
    /// Everything else (first_id, last_id, has_more).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One embedding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Its input's position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Floats, or base64 text with `encoding_format: base64`.
    pub embedding: Value,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}
