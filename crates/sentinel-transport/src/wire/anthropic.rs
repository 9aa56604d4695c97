//! Anthropic: messages, including streaming events, and message batches.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Content, Extra};

/// `POST /v1/messages` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// The model.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// The system prompt: a string or text blocks.
    #[serde(default, skip_serializing_if = "Content::is_absent")]
    pub system: Content<ContentBlock>,
    /// The answer's token limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Whether to stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Everything else (tools, temperature, metadata...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    /// A string or content blocks.
    #[serde(default, skip_serializing_if = "Content::is_absent")]
    pub content: Content<ContentBlock>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A content block: `text`, `image`, `tool_use` (with `input`), `tool_result` (with
/// `content`), `thinking`...
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentBlock {
    /// The block type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The arguments of a `tool_use` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// The result of a `tool_result` block: a string or blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// Everything else (id, name, source, cache_control...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Token counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Everything else (cache tokens).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/messages/count_tokens` response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenCount {
    /// The tokens the request's input would take.
    pub input_tokens: u64,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/messages` response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    /// The answer's blocks.
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Everything else (id, type, role, model, stop_reason...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One streaming event (`message_start`, `content_block_start`, `content_block_delta`,
/// `content_block_stop`, `message_delta`, `message_stop`, `ping`, `error`). A struct
/// rather than an enum, so event types added later pass through intact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamEvent {
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The block's position (block events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The message (`message_start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessagesResponse>,
    /// The block (`content_block_start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_block: Option<ContentBlock>,
    /// The delta (`content_block_delta`: `text_delta` with `text`, `input_json_delta` with
    /// `partial_json`; `message_delta`: stop reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<Delta>,
    /// Everything else (usage, error).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A streaming delta.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// `text_delta`, `input_json_delta`, `thinking_delta`... (absent in `message_delta`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A text fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A fragment of a tool call's JSON input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_json: Option<String>,
    /// Everything else (stop_reason, thinking).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/messages/batches` request: messages requests answered together, later.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageBatchRequest {
    /// The requests.
    pub requests: Vec<BatchedRequest>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One request of a message batch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchedRequest {
    /// The caller's key to its result.
    pub custom_id: String,
    /// The request, as `POST /v1/messages` takes it.
    pub params: MessagesRequest,
}

/// A message batch (`type: "message_batch"`), as created, read or cancelled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageBatch {
    /// Its id (`msgbatch_...`).
    pub id: String,
    /// `in_progress`, `canceling`, `ended`.
    #[serde(default)]
    pub processing_status: String,
    /// Where its results are, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_url: Option<String>,
    /// Everything else (request_counts, created_at, ended_at, expires_at).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One line of a message batch's results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageBatchResult {
    /// The key its request was given.
    pub custom_id: String,
    /// `{"type": "succeeded", "message": ...}`, `errored`, `canceled` or `expired` (as
    /// JSON).
    pub result: Value,
}
