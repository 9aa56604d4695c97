//! Where the text is: the routes the pipeline understands, and the paths to every
//! string a request or response carries that a person or a model wrote (message contents,
//! text parts, tool-call arguments, tool results, system prompts, prompts, inputs, tool
//! definitions) or that names who the request is for (`user`, `metadata`).

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use sentinel_policy::{UNREAD_AUDIO, UNREAD_FILE, UNREAD_IMAGE};

use crate::form::FILE_DOCUMENTS;

/// A provider route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// OpenAI `POST /v1/chat/completions`.
    ChatCompletions,
    /// OpenAI `POST /v1/completions`.
    Completions,
    /// OpenAI `POST /v1/embeddings`.
    Embeddings,
    /// OpenAI `POST /v1/responses`.
    Responses,
    /// OpenAI `GET /v1/responses/{id}`: a stored or background response, fetched (or its
    /// events streamed again with `?stream=true`); the answer is scanned and restored as a
    /// Responses API answer, in the scope of the request that created it.
    ResponsesRetrieve,
    /// OpenAI `POST /v1/responses/{id}/cancel` (a background response); the answer as for
    /// [`Route::ResponsesRetrieve`].
    ResponsesCancel,
    /// OpenAI `GET /v1/responses/{id}/input_items`: the input a response was given, as the
    /// gateway sent it (restored and scanned like an answer).
    ResponsesInputItems,
    /// OpenAI `DELETE /v1/responses/{id}` (the answer holds no text).
    ResponsesDelete,
    /// OpenAI `POST /v1/responses/input_tokens`: the input is scanned and decided as for
    /// [`Route::Responses`] (a count is taken of what would be sent); the answer is a
    /// number.
    ResponsesInputTokens,
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// Anthropic `POST /v1/messages/count_tokens` (the messages are scanned as for
    /// [`Route::Messages`]; the answer is a number).
    MessagesCountTokens,
    /// OpenAI `POST /v1/moderations` (the input is scanned; the answer holds no text).
    Moderations,
    /// OpenAI `POST /v1/images/generations` (the prompt, and the answer's revised prompts).
    ImagesGenerations,
    /// OpenAI `POST /v1/images/edits`, a `multipart/form-data` upload (the prompt; the
    /// images and mask are not read; the answer as for generations).
    ImagesEdits,
    /// OpenAI `POST /v1/images/variations`, a `multipart/form-data` upload of an image
    /// (no text of its own; the answer as for generations).
    ImagesVariations,
    /// OpenAI `POST /v1/audio/speech` (the input and instructions; the answer is audio).
    AudioSpeech,
    /// OpenAI `POST /v1/audio/transcriptions`, a `multipart/form-data` upload (its text
    /// fields; the answer is the transcript).
    AudioTranscriptions,
    /// OpenAI `POST /v1/audio/translations`, as transcriptions.
    AudioTranslations,
    /// OpenAI `POST /v1/files`, a `multipart/form-data` upload whose `file` is read when
    /// it is text: a JSONL file line by line (a batch's requests each as its route's
    /// request, other lines every string), any other UTF-8 file whole. A file that is not
    /// UTF-8 is carried unread. The file's name is decided too, and scanned in the answer.
    Files,
    /// OpenAI `GET /v1/files` (the answer's file names are scanned).
    FilesList,
    /// OpenAI `GET /v1/files/{id}`, as [`Route::FilesList`].
    FilesRetrieve,
    /// OpenAI `DELETE /v1/files/{id}`.
    FilesDelete,
    /// OpenAI `GET /v1/files/{id}/content`: the file, read as an upload's is (a batch's
    /// output lines each as the answer its `object` names), restored in the scope of the
    /// upload or batch that made it.
    FilesContent,
    /// OpenAI `POST /v1/batches` (its `metadata`; the batch continues its input file's
    /// scope).
    Batches,
    /// OpenAI `GET /v1/batches` (the answer's metadata and error messages are scanned).
    BatchesList,
    /// OpenAI `GET /v1/batches/{id}`, as [`Route::BatchesList`]; its output and error
    /// files continue the batch's scope.
    BatchesRetrieve,
    /// OpenAI `POST /v1/batches/{id}/cancel`, as [`Route::BatchesRetrieve`].
    BatchesCancel,
    /// OpenAI `POST /v1/conversations`: its first items (as a Responses API request's
    /// input items) and metadata. Later requests on the conversation (a Responses API
    /// request naming it, its items) continue this request's scope.
    Conversations,
    /// OpenAI `GET /v1/conversations/{id}` (the metadata is scanned).
    ConversationsRetrieve,
    /// OpenAI `POST /v1/conversations/{id}`: new metadata.
    ConversationsUpdate,
    /// OpenAI `DELETE /v1/conversations/{id}`.
    ConversationsDelete,
    /// OpenAI `GET /v1/conversations/{id}/items`: the items, restored and scanned as a
    /// response's input items are.
    ConversationItems,
    /// OpenAI `POST /v1/conversations/{id}/items`: items added, decided as a Responses
    /// API request's input items; the answer lists them as [`Route::ConversationItems`].
    ConversationItemsCreate,
    /// OpenAI `GET /v1/conversations/{id}/items/{item_id}`: one item, as in a listing.
    ConversationItem,
    /// OpenAI `DELETE /v1/conversations/{id}/items/{item_id}` (the answer is the
    /// conversation).
    ConversationItemDelete,
    /// Anthropic `POST /v1/messages/batches`: each request's `params` decided as a
    /// [`Route::Messages`] request. Its results continue this request's scope.
    MessagesBatches,
    /// Anthropic `GET /v1/messages/batches` (batches hold no text; each `results_url`
    /// is made the gateway's own path, so that SDKs fetch the results through it).
    MessagesBatchesList,
    /// Anthropic `GET /v1/messages/batches/{id}`, as [`Route::MessagesBatchesList`].
    MessagesBatchesRetrieve,
    /// Anthropic `POST /v1/messages/batches/{id}/cancel`, as
    /// [`Route::MessagesBatchesList`].
    MessagesBatchesCancel,
    /// Anthropic `DELETE /v1/messages/batches/{id}`.
    MessagesBatchesDelete,
    /// Anthropic `GET /v1/messages/batches/{id}/results`: JSONL, each result's message
    /// restored and scanned as a [`Route::Messages`] answer, in the batch's scope.
    MessagesBatchesResults,
    /// A path under `/v1/` that no other route names, with its method (a gateway with
    /// `[server] other_routes = "scan"`; [`Route::other`]): every string of the JSON
    /// request (or of a form: its text fields, file names and files that are text) and
    /// of the answer is decided, as no walker knows which hold text. The path
    /// is the request's [`PipelineRequest::resource`](crate::PipelineRequest::resource);
    /// metrics and audit records name it `other`.
    Other(OtherMethod),
}

/// Whether `s` is a provider's id as the routes take one (`file-abc`, `resp_1`): letters,
/// digits, `_` and `-`, at most 128 of them. What else would be put in a path or a query
/// could step out of it (`../`, `&`).
pub(crate) fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The method of a [`Route::Other`] request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OtherMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl OtherMethod {
    /// The method, if it is one of these.
    pub fn of(method: &http::Method) -> Option<OtherMethod> {
        Some(match *method {
            http::Method::GET => OtherMethod::Get,
            http::Method::POST => OtherMethod::Post,
            http::Method::PUT => OtherMethod::Put,
            http::Method::PATCH => OtherMethod::Patch,
            http::Method::DELETE => OtherMethod::Delete,
            _ => return None,
        })
    }
}

impl Route {
    /// The path under the provider's base (`/chat/completions`), as upstreams expect it:
    /// the gateway path without its `/v1`; a template with `{id}` for the routes
    /// [`on a resource`](Route::on_resource).
    pub fn upstream_path(self) -> &'static str {
        let path = self.as_str();
        path.strip_prefix("/v1").unwrap_or(path)
    }

    /// The gateway path, as metrics and audit records name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::ChatCompletions => "/v1/chat/completions",
            Route::Completions => "/v1/completions",
            Route::Embeddings => "/v1/embeddings",
            Route::Responses => "/v1/responses",
            Route::ResponsesRetrieve | Route::ResponsesDelete => "/v1/responses/{id}",
            Route::ResponsesCancel => "/v1/responses/{id}/cancel",
            Route::ResponsesInputItems => "/v1/responses/{id}/input_items",
            Route::ResponsesInputTokens => "/v1/responses/input_tokens",
            Route::Messages => "/v1/messages",
            Route::MessagesCountTokens => "/v1/messages/count_tokens",
            Route::Moderations => "/v1/moderations",
            Route::ImagesGenerations => "/v1/images/generations",
            Route::ImagesEdits => "/v1/images/edits",
            Route::ImagesVariations => "/v1/images/variations",
            Route::AudioSpeech => "/v1/audio/speech",
            Route::AudioTranscriptions => "/v1/audio/transcriptions",
            Route::AudioTranslations => "/v1/audio/translations",
            Route::Files | Route::FilesList => "/v1/files",
            Route::FilesRetrieve | Route::FilesDelete => "/v1/files/{id}",
            Route::FilesContent => "/v1/files/{id}/content",
            Route::Batches | Route::BatchesList => "/v1/batches",
            Route::BatchesRetrieve => "/v1/batches/{id}",
            Route::BatchesCancel => "/v1/batches/{id}/cancel",
            Route::Conversations => "/v1/conversations",
            Route::ConversationsRetrieve
            | Route::ConversationsUpdate
            | Route::ConversationsDelete => "/v1/conversations/{id}",
            Route::ConversationItems | Route::ConversationItemsCreate => {
                "/v1/conversations/{id}/items"
            }
            Route::ConversationItem | Route::ConversationItemDelete => {
                "/v1/conversations/{id}/items/{item_id}"
            }
            Route::MessagesBatches | Route::MessagesBatchesList => "/v1/messages/batches",
            Route::MessagesBatchesRetrieve | Route::MessagesBatchesDelete => {
                "/v1/messages/batches/{id}"
            }
            Route::MessagesBatchesCancel => "/v1/messages/batches/{id}/cancel",
            Route::MessagesBatchesResults => "/v1/messages/batches/{id}/results",
            Route::Other(_) => "other",
        }
    }

    /// The HTTP method.
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_client::Route;
    ///
    /// assert_eq!(Route::ResponsesDelete.method(), http::Method::DELETE);
    /// assert_eq!(Route::ChatCompletions.method(), http::Method::POST);
    /// ```
    pub fn method(self) -> http::Method {
        match self {
            Route::ResponsesRetrieve
            | Route::ResponsesInputItems
            | Route::FilesList
            | Route::FilesRetrieve
            | Route::FilesContent
            | Route::BatchesList
            | Route::BatchesRetrieve
            | Route::ConversationsRetrieve
            | Route::ConversationItems
            | Route::ConversationItem
            | Route::MessagesBatchesList
            | Route::MessagesBatchesRetrieve
            | Route::MessagesBatchesResults => http::Method::GET,
            Route::ResponsesDelete
            | Route::FilesDelete
            | Route::ConversationsDelete
            | Route::ConversationItemDelete
            | Route::MessagesBatchesDelete => http::Method::DELETE,
            Route::Other(m) => match m {
                OtherMethod::Get => http::Method::GET,
                OtherMethod::Post => http::Method::POST,
                OtherMethod::Put => http::Method::PUT,
                OtherMethod::Patch => http::Method::PATCH,
                OtherMethod::Delete => http::Method::DELETE,
            },
            _ => http::Method::POST,
        }
    }

    /// The [`Route::Other`] of a request the other routes do not name: a path under
    /// `/v1/` of segments of letters, digits and `.` `_` `-` `~` (no empty or dot
    /// segments, at most 512 bytes), with `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    /// `None` for anything else, and for what [`Route::of`] names.
    ///
    /// # Example
    ///
    /// ```
    /// use http::Method;
    /// use sentinel_client::{OtherMethod, Route};
    ///
    /// assert_eq!(
    ///     Route::other(&Method::POST, "/v1/vector_stores/vs_1/search"),
    ///     Some(Route::Other(OtherMethod::Post))
    /// );
    /// assert_eq!(Route::other(&Method::POST, "/v1/chat/completions"), None);
    /// assert_eq!(Route::other(&Method::GET, "/v1/files/../admin"), None);
    /// assert_eq!(Route::other(&Method::GET, "/admin"), None);
    /// ```
    pub fn other(method: &http::Method, path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/v1/")?;
        let valid = path.len() <= 512
            && rest.split('/').all(|s| {
                !s.is_empty()
                    && s != "."
                    && s != ".."
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
            });
        if !valid || Route::of(method, path).is_some() {
            return None;
        }
        OtherMethod::of(method).map(Route::Other)
    }

    /// Whether the route acts on a stored resource whose id is in its path
    /// ([`PipelineRequest::resource`](crate::PipelineRequest::resource)).
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_client::Route;
    ///
    /// assert!(Route::ResponsesRetrieve.on_resource());
    /// assert!(!Route::Responses.on_resource());
    /// ```
    pub fn on_resource(self) -> bool {
        // A byte, not a substring, is looked for: this runs for every request.
        self.as_str().as_bytes().contains(&b'{')
    }

    /// Whether the request has a body to read: a `POST` but for a cancellation.
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_client::Route;
    ///
    /// assert!(Route::Batches.takes_body());
    /// assert!(Route::ConversationItemsCreate.takes_body());
    /// assert!(!Route::BatchesList.takes_body());
    /// assert!(!Route::BatchesCancel.takes_body());
    /// ```
    pub fn takes_body(self) -> bool {
        if let Route::Other(m) = self {
            return matches!(m, OtherMethod::Post | OtherMethod::Put | OtherMethod::Patch);
        }
        self.method() == http::Method::POST
            && !matches!(
                self,
                Route::ResponsesCancel | Route::BatchesCancel | Route::MessagesBatchesCancel
            )
    }

    /// Whether the answer is a file read back (OpenAI's file content, Anthropic's batch
    /// results): as large as the file, up to `[network] max_answer_bytes`, whatever the
    /// request.
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_client::Route;
    ///
    /// assert!(Route::FilesContent.answers_a_file());
    /// assert!(!Route::ChatCompletions.answers_a_file());
    /// ```
    pub fn answers_a_file(self) -> bool {
        matches!(self, Route::FilesContent | Route::MessagesBatchesResults)
    }

    /// Whether the answer is one model generation or a count, whose size the model's
    /// output limit bounds (chat completions, completions, messages, responses, token
    /// counts, moderations), rather than a size that follows the request's inputs or what
    /// is stored (embeddings, images, transcripts, listings, stored items, files).
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_client::Route;
    ///
    /// assert!(Route::ChatCompletions.answer_is_bounded());
    /// assert!(!Route::Embeddings.answer_is_bounded());
    /// ```
    pub fn answer_is_bounded(self) -> bool {
        matches!(
            self,
            Route::ChatCompletions
                | Route::Completions
                | Route::Responses
                | Route::ResponsesInputTokens
                | Route::Messages
                | Route::MessagesCountTokens
                | Route::Moderations
        )
    }

    /// Whether an answer may come from the response cache: one that a model generated
    /// from the request alone. A request that creates, lists, reads or changes something
    /// stored (an upload, a batch, a conversation, a stored response) never does, nor
    /// does a form (its key would need its files).
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_client::Route;
    ///
    /// assert!(Route::ChatCompletions.cacheable());
    /// assert!(!Route::Batches.cacheable());
    /// assert!(!Route::FilesContent.cacheable());
    /// ```
    pub fn cacheable(self) -> bool {
        matches!(
            self,
            Route::ChatCompletions
                | Route::Completions
                | Route::Embeddings
                | Route::Responses
                | Route::Messages
                | Route::MessagesCountTokens
                | Route::ResponsesInputTokens
                | Route::Moderations
                | Route::ImagesGenerations
                | Route::AudioSpeech
        )
    }

    /// The gateway path of a request on `resource` (as [`Route::of`] gave it): the
    /// template with the resource in place of its ids.
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_client::Route;
    ///
    /// assert_eq!(Route::FilesContent.path_for("file-1"), "/v1/files/file-1/content");
    /// assert_eq!(
    ///     Route::ConversationItem.path_for("conv_1/items/msg_2"),
    ///     "/v1/conversations/conv_1/items/msg_2"
    /// );
    /// ```
    pub fn path_for(self, resource: &str) -> String {
        let template = self.as_str();
        let Some((head, rest)) = template.split_once("{id}") else {
            return template.to_owned();
        };
        // With an item id too, the resource runs from the first id to the last.
        let tail = rest.split_once("{item_id}").map_or(rest, |(_, tail)| tail);
        format!("{head}{resource}{tail}")
    }

    /// The id a resource names first (a conversation's, for one of its items).
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_client::Route;
    ///
    /// assert_eq!(Route::resource_owner("conv_1/items/msg_2"), "conv_1");
    /// assert_eq!(Route::resource_owner("file-1"), "file-1");
    /// ```
    pub fn resource_owner(resource: &str) -> &str {
        resource.split('/').next().unwrap_or(resource)
    }

    /// The route a gateway request names, and the resource in its path: an exact path of
    /// [`Route::ALL`], or one of their `{id}` templates (`/v1/responses/{id}/cancel`,
    /// `/v1/files/{id}/content`) with an id of letters, digits, `_` and `-`; for a
    /// template with an `{item_id}` too, the resource runs from the first id to the last
    /// (`conv_1/items/msg_2`). `None` for anything else.
    ///
    /// # Example
    ///
    /// ```
    /// use http::Method;
    /// use sentinel_client::Route;
    ///
    /// assert_eq!(
    ///     Route::of(&Method::GET, "/v1/responses/resp_123"),
    ///     Some((Route::ResponsesRetrieve, Some("resp_123")))
    /// );
    /// assert_eq!(Route::of(&Method::POST, "/v1/chat/completions"), Some((Route::ChatCompletions, None)));
    /// assert_eq!(
    ///     Route::of(&Method::GET, "/v1/files/file-abc/content"),
    ///     Some((Route::FilesContent, Some("file-abc")))
    /// );
    /// assert_eq!(Route::of(&Method::GET, "/v1/files"), Some((Route::FilesList, None)));
    /// assert_eq!(
    ///     Route::of(&Method::DELETE, "/v1/conversations/conv_1/items/msg_2"),
    ///     Some((Route::ConversationItemDelete, Some("conv_1/items/msg_2")))
    /// );
    /// assert_eq!(Route::of(&Method::GET, "/v1/responses/../models"), None);
    /// ```
    pub fn of<'p>(method: &http::Method, path: &'p str) -> Option<(Route, Option<&'p str>)> {
        Route::ALL.into_iter().find_map(|r| {
            if r.method() != *method {
                return None;
            }
            // Bytes, not substrings, are searched for: this runs for every route before
            // the one a request names.
            let template = r.as_str();
            let Some(brace) = template.find('{') else {
                return (template == path).then_some((r, None));
            };
            let (head, tail) = (&template[..brace], &template[brace + "{id}".len()..]);
            // The id: the segment after the template's head.
            let rest = path.strip_prefix(head)?;
            let segment = |s: &'p str| s.split_at(s.find('/').unwrap_or(s.len()));
            let (id, after) = segment(rest);
            if !is_id(id) {
                return None;
            }
            match tail.find('{') {
                None => (after == tail).then_some((r, Some(id))),
                Some(brace) => {
                    let (middle, tail) = (&tail[..brace], &tail[brace + "{item_id}".len()..]);
                    let (item, end) = segment(after.strip_prefix(middle)?);
                    let resource = &rest[..id.len() + middle.len() + item.len()];
                    (is_id(item) && end == tail).then_some((r, Some(resource)))
                }
            }
        })
    }

    /// Whether the request body is a `multipart/form-data` upload rather than JSON.
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_client::Route;
    ///
    /// assert!(Route::AudioTranscriptions.takes_form());
    /// assert!(!Route::AudioSpeech.takes_form());
    /// ```
    pub fn takes_form(self) -> bool {
        matches!(
            self,
            Route::AudioTranscriptions
                | Route::AudioTranslations
                | Route::ImagesEdits
                | Route::ImagesVariations
                | Route::Files
        )
    }

    /// Every route but [`Route::Other`], for metrics and [`Route::of`].
    pub const ALL: [Route; 41] = [
        // The routes most requests name first: [`Route::of`] looks in this order.
        Route::ChatCompletions,
        Route::Messages,
        Route::Responses,
        Route::Embeddings,
        Route::Completions,
        Route::ResponsesRetrieve,
        Route::ResponsesCancel,
        Route::ResponsesInputItems,
        Route::ResponsesDelete,
        Route::ResponsesInputTokens,
        Route::MessagesCountTokens,
        Route::Moderations,
        Route::ImagesGenerations,
        Route::ImagesEdits,
        Route::ImagesVariations,
        Route::AudioSpeech,
        Route::AudioTranscriptions,
        Route::AudioTranslations,
        Route::Files,
        Route::FilesList,
        Route::FilesRetrieve,
        Route::FilesDelete,
        Route::FilesContent,
        Route::Batches,
        Route::BatchesList,
        Route::BatchesRetrieve,
        Route::BatchesCancel,
        Route::Conversations,
        Route::ConversationsRetrieve,
        Route::ConversationsUpdate,
        Route::ConversationsDelete,
        Route::ConversationItems,
        Route::ConversationItemsCreate,
        Route::ConversationItem,
        Route::ConversationItemDelete,
        Route::MessagesBatches,
        Route::MessagesBatchesList,
        Route::MessagesBatchesRetrieve,
        Route::MessagesBatchesCancel,
        Route::MessagesBatchesDelete,
        Route::MessagesBatchesResults,
    ];
}

/// The fields of an upload that only steer the model (its name, formats, options), or
/// hold audio (a speaker's reference clip): every other text field (a prompt, speakers'
/// names, a `user`) is scanned.
const FORM_SETTINGS: [&str; 21] = [
    "model",
    "language",
    "response_format",
    "temperature",
    "timestamp_granularities[]",
    "include[]",
    "stream",
    "chunking_strategy",
    "known_speaker_references[]",
    "n",
    "size",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "input_fidelity",
    "partial_images",
    "moderation",
    "purpose",
    "expires_after[anchor]",
    "expires_after[seconds]",
];

/// The fields of a content part that hold text: `text` (text, output_text, summary_text
/// parts), `refusal` (OpenAI refusal parts), `thinking` (Anthropic thinking blocks).
const PART_TEXTS: [&str; 3] = ["text", "refusal", "thinking"];

/// One step of a [`Segments`] path: a fixed key, a key read from the document, or an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A key the walker names (`messages`, `content`).
    Key(&'static str),
    /// A key found in the document (under tool inputs and nested prompts).
    Field(String),
    /// An array index.
    Index(usize),
}

/// Where the text of a document is: one path per string, in document order. Paths are
/// steps, not JSON pointers, so finding them formats nothing and following one parses
/// nothing; the steps of all paths share one buffer.
#[derive(Debug, Default)]
pub(crate) struct Segments {
    steps: Vec<Step>,
    ends: Vec<usize>,
    /// What the document carries that is not text (`sentinel_policy::UNREAD_IMAGE` and
    /// the others), in document order: for the policy's `unread` rules.
    unread: Vec<Unread>,
}

/// A part of a document that is not text ([`Segments::unread`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unread {
    /// Its entity type: `sentinel_policy::UNREAD_IMAGE`, `UNREAD_AUDIO`, `UNREAD_FILE`.
    pub(crate) kind: &'static str,
    /// The uploaded file a file part names by id, if it does (the file may have been read
    /// when it was uploaded).
    pub(crate) file_id: Option<String>,
}

impl Unread {
    fn new(kind: &'static str) -> Unread {
        Unread {
            kind,
            file_id: None,
        }
    }

    /// What a content part is, if it is not text: an image, audio or file part of the
    /// OpenAI chat and Responses APIs or Anthropic's Messages API (a document that is not
    /// given as text is a file).
    fn of_part(p: &Value) -> Option<Unread> {
        Some(match p.get("type").and_then(Value::as_str)? {
            "image_url" | "input_image" | "image" => Unread::new(UNREAD_IMAGE),
            "input_audio" => Unread::new(UNREAD_AUDIO),
            // By id (Responses' `file_id`, chat's `file.file_id`), inline or by URL.
            "input_file" => Unread::file(p, &["file_id"]),
            "file" => Unread::file(p, &["file", "file_id"]),
            // A PDF (inline, by URL or by file id); not a document given as text.
            "document" => match p
                .get("source")
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
            {
                Some("text" | "content") => return None,
                _ => Unread::file(p, &["source", "file_id"]),
            },
            _ => return None,
        })
    }

    /// A file part, with the id it names at `path` in `part`, if any.
    fn file(part: &Value, path: &[&str]) -> Unread {
        let id = path
            .iter()
            .try_fold(part, |v, k| v.get(k))
            .and_then(Value::as_str);
        Unread {
            kind: UNREAD_FILE,
            file_id: id.map(str::to_owned),
        }
    }
}

impl Segments {
    /// The paths, in document order.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &[Step]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.steps[a..b])
    }

    /// Whether there is no path.
    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// What the document carries that the detectors cannot read: an entity type of
    /// [`sentinel_policy::EntityGroup::Unread`] for each image, audio or file part.
    pub(crate) fn unread(&self) -> &[Unread] {
        &self.unread
    }

    /// The strings the paths lead to, in order.
    pub(crate) fn texts<'v>(&self, doc: &'v Value) -> Vec<&'v str> {
        self.paths()
            .filter_map(|p| get(doc, p).and_then(Value::as_str))
            .collect()
    }

    /// Replaces each path's string with the next of `texts`, where that is a new one
    /// (`None` leaves the string as it is).
    pub(crate) fn replace(&self, doc: &mut Value, texts: impl IntoIterator<Item = Option<String>>) {
        for (p, text) in self.paths().zip(texts) {
            if let (Some(text), Some(slot)) = (text, get_mut(doc, p)) {
                *slot = Value::String(text);
            }
        }
    }

    /// Puts each path's string of `from` into `into` where the two differ, and drops the
    /// token log-probabilities beside each string that changed ([`drop_logprobs`]).
    pub(crate) fn carry(&self, from: &Value, into: &mut Value) {
        for p in self.paths() {
            let Some(new) = get(from, p).and_then(Value::as_str) else {
                continue;
            };
            let Some(slot) = get_mut(into, p) else {
                continue;
            };
            if slot.as_str() != Some(new) {
                *slot = Value::String(new.to_owned());
                drop_logprobs(into, p);
                drop_spoken(into, p);
            }
        }
    }

    /// Runs `f` on each value the paths lead to.
    pub(crate) fn each_mut(&self, doc: &mut Value, mut f: impl FnMut(&mut Value)) {
        for p in self.paths() {
            if let Some(slot) = get_mut(doc, p) {
                f(slot);
            }
        }
    }

    /// The paths as JSON pointers (RFC 6901), for tests and messages.
    #[cfg(test)]
    pub(crate) fn pointers(&self) -> Vec<String> {
        self.paths()
            .map(|p| {
                p.iter()
                    .map(|s| match s {
                        Step::Key(k) => format!("/{k}"),
                        Step::Field(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
                        Step::Index(i) => format!("/{i}"),
                    })
                    .collect()
            })
            .collect()
    }
}

/// The value at `path`.
pub(crate) fn get<'v>(mut v: &'v Value, path: &[Step]) -> Option<&'v Value> {
    for s in path {
        v = match s {
            Step::Key(k) => v.get(*k)?,
            Step::Field(k) => v.get(k.as_str())?,
            Step::Index(i) => v.get(*i)?,
        };
    }
    Some(v)
}

/// Drops the token log-probabilities that describe the text at `path`: the `logprobs` of
/// the nearest object above it that has one (a chat or completions choice, a Responses
/// output text part, a streamed delta event). Their tokens spell out the text as the model
/// wrote it, so once the gateway changed that text (redacted, masked, restored) they would
/// pass on what the policy took out. Emptied, not removed, so that SDKs still find the
/// field: `null`, or `[]` where it was a list.
pub(crate) fn drop_logprobs(doc: &mut Value, path: &[Step]) {
    for depth in (0..path.len()).rev() {
        let Some(Value::Object(map)) = get_mut(doc, &path[..depth]) else {
            continue;
        };
        if let Some(lp) = map.get_mut("logprobs") {
            *lp = if lp.is_array() {
                Value::Array(Vec::new())
            } else {
                Value::Null
            };
            return;
        }
    }
}

/// Drops the audio a changed transcript was spoken in: a chat answer's `audio.data` beside
/// `audio.transcript` (`modalities: ["text", "audio"]`) says what the transcript said
/// before the gateway changed it, so it is emptied. Nothing for other paths.
pub(crate) fn drop_spoken(doc: &mut Value, path: &[Step]) {
    let [parent @ .., Step::Key("audio"), Step::Key("transcript")] = path else {
        return;
    };
    let audio = get_mut(doc, parent).and_then(|m| m.get_mut("audio"));
    if let Some(data) = audio.and_then(|a| a.get_mut("data")) {
        *data = Value::String(String::new());
    }
}

/// The value at `path`, to change.
pub(crate) fn get_mut<'v>(mut v: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    for s in path {
        v = match s {
            Step::Key(k) => v.get_mut(*k)?,
            Step::Field(k) => v.get_mut(k.as_str())?,
            Step::Index(i) => v.get_mut(*i)?,
        };
    }
    Some(v)
}

/// Builds [`Segments`]: `path` is the path to the value being looked at.
struct Walk {
    out: Segments,
    path: Vec<Step>,
}

impl Default for Walk {
    fn default() -> Walk {
        // Room for the usual document (one or two texts, five steps deep) without growing.
        Walk {
            out: Segments {
                steps: Vec::with_capacity(16),
                ends: Vec::with_capacity(4),
                unread: Vec::new(),
            },
            path: Vec::with_capacity(8),
        }
    }
}

impl Walk {
    /// Records the current path.
    fn here(&mut self) {
        self.out.steps.extend(self.path.iter().cloned());
        self.out.ends.push(self.out.steps.len());
    }

    /// Runs `f` one step further down.
    fn under(&mut self, step: Step, f: impl FnOnce(&mut Walk)) {
        self.path.push(step);
        f(self);
        self.path.pop();
    }

    /// Runs `f` on the value `keys` lead to under `v`, the path extended by them; nothing
    /// when a key is missing.
    fn at(&mut self, v: &Value, keys: &[&'static str], f: impl FnOnce(&mut Walk, &Value)) {
        let Some(target) = keys.iter().try_fold(v, |x, k| x.get(*k)) else {
            return;
        };
        let depth = self.path.len();
        self.path.extend(keys.iter().map(|k| Step::Key(k)));
        f(self, target);
        self.path.truncate(depth);
    }

    /// A text field of a request's body: the string at `key`, or, sent in a shape no API
    /// takes (an object, a list), every string in it, since it reaches the provider as sent.
    fn text(&mut self, body: &Value, key: &'static str) {
        self.at(body, &[key], Walk::strings_under);
    }

    /// Records the value `keys` lead to under `v`, if it is a string.
    fn string(&mut self, v: &Value, keys: &[&'static str]) {
        self.at(v, keys, |w, x| {
            if x.is_string() {
                w.here();
            }
        });
    }

    /// Every string leaf of `v` (objects' values and arrays' items).
    fn strings_under(&mut self, v: &Value) {
        self.strings_and_parts(v, false);
    }

    /// Every string of a body no walker knows, as [`Walk::strings_under`], and the parts in
    /// it that are not text ([`Unread::of_part`]), for the policy's `unread` rules.
    fn anything(&mut self, v: &Value) {
        self.strings_and_parts(v, true);
    }

    /// Every string leaf of `v`; with `parts`, each object that is a part not of text
    /// noted as unread too.
    fn strings_and_parts(&mut self, v: &Value, parts: bool) {
        match v {
            Value::String(_) => self.here(),
            Value::Array(items) => self.each(items, |w, item| w.strings_and_parts(item, parts)),
            Value::Object(map) => {
                if parts {
                    self.out.unread.extend(Unread::of_part(v));
                }
                for (k, item) in map {
                    self.under(Step::Field(k.clone()), |w| w.strings_and_parts(item, parts));
                }
            }
            _ => {}
        }
    }

    /// A moderation's input: a string, or a list of strings or of parts (text parts'
    /// text; an image part's URL is not text).
    fn moderation_input(&mut self, v: &Value) {
        match v {
            Value::Array(items) => self.each(items, |w, item| match item {
                Value::String(_) => w.here(),
                part => w.part(part),
            }),
            other => self.content(other),
        }
    }

    /// A string, or the text of each part of a list; an object in a text's place (not a
    /// shape any API takes, but sent on as it came) has every string in it read.
    fn content(&mut self, v: &Value) {
        match v {
            Value::String(_) => self.here(),
            Value::Array(parts) => self.each(parts, Walk::part),
            Value::Object(_) => self.strings_under(v),
            _ => {}
        }
    }

    /// One content part.
    fn part(&mut self, p: &Value) {
        // Parts that are not text: recorded for the policy, which can block them.
        if let Some(unread) = Unread::of_part(p) {
            self.out.unread.push(unread);
            return;
        }
        match p.get("type").and_then(Value::as_str) {
            // Anthropic tool calls: the client's tools, server tools (web search), MCP.
            Some("tool_use" | "server_tool_use" | "mcp_tool_use") => {
                self.at(p, &["input"], Walk::strings_under);
            }
            Some("tool_result" | "mcp_tool_result") => self.at(p, &["content"], Walk::content),
            // A search result the application passes in, with its text blocks.
            Some("search_result") => {
                self.string(p, &["title"]);
                self.at(p, &["content"], Walk::content);
            }
            // An Anthropic document given as plain text or as text blocks (not as a PDF
            // or an image).
            Some("document") => match p
                .get("source")
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
            {
                Some("text") => self.string(p, &["source", "data"]),
                Some("content") => self.at(p, &["source", "content"], Walk::content),
                _ => {}
            },
            // Text parts, OpenAI refusal parts, Anthropic thinking blocks; an Anthropic text
            // block's citations quote their sources.
            _ => {
                for field in PART_TEXTS {
                    self.string(p, &[field]);
                }
                self.items(p, "citations", |w, c| w.string(c, &["cited_text"]));
            }
        }
    }

    fn chat_message(&mut self, m: &Value) {
        self.at(m, &["content"], Walk::content);
        // A refusal, and the reasoning some servers return beside the answer (DeepSeek,
        // llama.cpp and older vLLM: `reasoning_content`; newer vLLM, Groq, OpenRouter:
        // `reasoning`).
        self.string(m, &["refusal"]);
        self.string(m, &["reasoning_content"]);
        self.string(m, &["reasoning"]);
        // The transcript of an audio answer.
        self.string(m, &["audio", "transcript"]);
        // The deprecated single function call.
        self.string(m, &["function_call", "arguments"]);
        // Tool calls: a function's JSON arguments, a custom tool's free-form input.
        self.items(m, "tool_calls", |w, c| {
            w.string(c, &["function", "arguments"]);
            w.string(c, &["custom", "input"]);
        });
    }

    /// The output items of a Responses API response.
    fn responses_output(&mut self, response: &Value) {
        self.items(response, "output", Walk::output_item);
    }

    /// One Responses API item: a message's content parts, a function or MCP call's
    /// arguments, a custom tool call's input, a tool's output (function, custom tool and
    /// MCP calls, and their outputs passed back), a reasoning item's summary and content, a
    /// file search's queries and the text of its results, code interpreter code and logs,
    /// a generated image's revised prompt, a web search's query, a shell call's commands.
    fn output_item(&mut self, item: &Value) {
        self.at(item, &["content"], Walk::content);
        self.string(item, &["arguments"]);
        self.string(item, &["input"]);
        // A tool's output: a string, content parts, or a screenshot (a computer call's).
        self.at(item, &["output"], |w, o| match o {
            Value::Object(_) => w.part(o),
            other => w.content(other),
        });
        self.at(item, &["summary"], Walk::content);
        self.at(item, &["queries"], Walk::strings_under);
        self.items(item, "results", |w, r| w.string(r, &["text"]));
        self.string(item, &["code"]);
        self.items(item, "outputs", |w, o| w.string(o, &["logs"]));
        self.string(item, &["revised_prompt"]);
        self.at(item, &["action"], |w, a| {
            w.string(a, &["query"]);
            w.at(a, &["command"], Walk::strings_under);
            w.at(a, &["commands"], Walk::strings_under);
        });
    }

    /// Tool definitions: each tool's description and the text of its schema
    /// ([`Walk::schema`]), where `schema` is the key under the tool item (`function` wraps
    /// both in chat requests).
    fn tools(&mut self, body: &Value, wrapper: &[&'static str], schema: &'static str) {
        self.items(body, "tools", |w, t| {
            w.at(t, wrapper, |w, def| {
                w.string(def, &["description"]);
                w.at(def, &[schema], Walk::schema);
            });
        });
    }

    /// The text of a JSON Schema: what is written for people or holds values
    /// (`description`, `title`, `enum`, `const`, `default`, `examples`, unknown keywords),
    /// through every subschema. Keywords that only shape the schema (`type`, `format`,
    /// `pattern`, `$ref`, `required`, ...) are skipped: a tool's schema holds a dozen of
    /// them per property, and each would be one more short segment to scan.
    fn schema(&mut self, v: &Value) {
        let Value::Object(map) = v else {
            // Booleans are schemas too; anything else is not a schema: scanned whole.
            self.strings_under(v);
            return;
        };
        for (k, item) in map {
            match k.as_str() {
                // Names to subschemas.
                "properties" | "patternProperties" | "$defs" | "definitions"
                | "dependentSchemas" => {
                    if let Value::Object(named) = item {
                        self.under(Step::Field(k.clone()), |w| {
                            for (name, sub) in named {
                                w.under(Step::Field(name.clone()), |w| w.schema(sub));
                            }
                        });
                    } else {
                        self.under(Step::Field(k.clone()), |w| w.strings_under(item));
                    }
                }
                // A subschema, or (`items` in older drafts) a list of them.
                "items"
                | "additionalItems"
                | "additionalProperties"
                | "unevaluatedItems"
                | "unevaluatedProperties"
                | "contains"
                | "propertyNames"
                | "not"
                | "if"
                | "then"
                | "else"
                | "prefixItems"
                | "allOf"
                | "anyOf"
                | "oneOf" => {
                    self.under(Step::Field(k.clone()), |w| match item {
                        Value::Array(subs) => w.each(subs, Walk::schema),
                        sub => w.schema(sub),
                    });
                }
                // Structure only.
                "type" | "format" | "pattern" | "$ref" | "$dynamicRef" | "$schema" | "$id"
                | "$anchor" | "$dynamicAnchor" | "$vocabulary" | "required"
                | "dependentRequired" | "contentEncoding" | "contentMediaType" | "minimum"
                | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf"
                | "minLength" | "maxLength" | "minItems" | "maxItems" | "uniqueItems"
                | "minProperties" | "maxProperties" | "minContains" | "maxContains"
                | "readOnly" | "writeOnly" | "deprecated" | "nullable" | "strict" => {}
                // Text and values: descriptions, enums, defaults, and whatever an
                // extension keyword holds.
                _ => self.under(Step::Field(k.clone()), |w| w.strings_under(item)),
            }
        }
    }

    /// A structured-output format at `keys`: its description and the text of its JSON
    /// schema, as for tools.
    fn output_schema(&mut self, body: &Value, keys: &[&'static str]) {
        self.at(body, keys, |w, format| {
            w.string(format, &["description"]);
            w.at(format, &["schema"], Walk::schema);
        });
    }

    /// Who the request is for: OpenAI's `user` and `safety_identifier`, and the strings of
    /// `metadata` (Anthropic's `metadata.user_id` among them). Applications often put an
    /// end user's email address or name there.
    fn identifiers(&mut self, body: &Value) {
        self.string(body, &["user"]);
        self.string(body, &["safety_identifier"]);
        self.at(body, &["metadata"], Walk::strings_under);
    }

    /// Each item of the array at `key`, walked by `f`.
    ///
    /// A list sent as something else (`"messages": "..."`, one message object in place of
    /// the list) is malformed, and its provider would refuse it; it is read whole all the
    /// same, every string in it, because it reaches the provider as sent.
    fn items(&mut self, body: &Value, key: &'static str, f: impl FnMut(&mut Walk, &Value)) {
        self.at(body, &[key], |w, items| match items {
            Value::Array(items) => w.each(items, f),
            Value::String(_) | Value::Object(_) => w.strings_under(items),
            _ => {}
        });
    }

    /// Each of `items`, walked by `f`, the path extended by its index.
    fn each(&mut self, items: &[Value], mut f: impl FnMut(&mut Walk, &Value)) {
        for (i, item) in items.iter().enumerate() {
            self.under(Step::Index(i), |w| f(w, item));
        }
    }
}

/// Paths to the request's text, in document order.
pub(crate) fn request_segments(route: Route, body: &Value) -> Segments {
    let mut w = Walk::default();
    w.request(route, body);
    w.out
}

impl Walk {
    /// A request's text: the walker of [`request_segments`], under the current path.
    fn request(&mut self, route: Route, body: &Value) {
        let w = self;
        match route {
            Route::ChatCompletions => {
                w.tools(body, &["function"], "parameters");
                w.output_schema(body, &["response_format", "json_schema"]);
                w.items(body, "messages", Walk::chat_message);
                // Predicted output: text the model is told to expect.
                w.at(body, &["prediction", "content"], Walk::content);
            }
            Route::Completions => {
                w.at(body, &["prompt"], Walk::strings_under);
                w.string(body, &["suffix"]);
            }
            Route::Embeddings => w.at(body, &["input"], Walk::strings_under),
            Route::Moderations => w.at(body, &["input"], Walk::moderation_input),
            Route::ImagesGenerations => w.text(body, "prompt"),
            Route::AudioSpeech => {
                w.text(body, "input");
                w.text(body, "instructions");
            }
            // No body: nothing of the caller's to scan.
            Route::ResponsesRetrieve
            | Route::ResponsesCancel
            | Route::ResponsesInputItems
            | Route::ResponsesDelete
            | Route::FilesList
            | Route::FilesRetrieve
            | Route::FilesDelete
            | Route::FilesContent
            | Route::BatchesList
            | Route::BatchesRetrieve
            | Route::BatchesCancel
            | Route::ConversationsRetrieve
            | Route::ConversationsDelete
            | Route::ConversationItems
            | Route::ConversationItem
            | Route::ConversationItemDelete
            | Route::MessagesBatchesList
            | Route::MessagesBatchesRetrieve
            | Route::MessagesBatchesCancel
            | Route::MessagesBatchesDelete
            | Route::MessagesBatchesResults => {}
            // No walker knows this route's body: every string, and the parts that are not
            // text as the known routes name them.
            Route::Other(_) => {
                w.anything(body);
                return;
            }
            // Each request's parameters as a message request's, its `custom_id` left as it
            // is, anything else every string.
            Route::MessagesBatches => w.items(body, "requests", |w, r| {
                let Value::Object(map) = r else {
                    return w.strings_under(r);
                };
                for (key, v) in map {
                    w.under(Step::Field(key.clone()), |w| match key.as_str() {
                        "custom_id" => {}
                        "params" if v.is_object() => w.request(Route::Messages, v),
                        _ => w.strings_under(v),
                    });
                }
            }),
            // Items, as a Responses API request's input items; metadata with the
            // identifiers below.
            Route::Conversations | Route::ConversationItemsCreate => {
                w.items(body, "items", Walk::output_item);
            }
            Route::ConversationsUpdate => {}
            // The batch's `metadata`, with the identifiers below.
            Route::Batches => {}
            // A form's text fields (the prompt, speakers' names, a `user`) and its files'
            // names, not its settings; the files an upload reads, as documents
            // (`files::file_document`).
            Route::AudioTranscriptions
            | Route::AudioTranslations
            | Route::ImagesEdits
            | Route::ImagesVariations
            | Route::Files => {
                if let Value::Object(fields) = body {
                    for (k, v) in fields {
                        if k == FILE_DOCUMENTS {
                            w.under(Step::Key(FILE_DOCUMENTS), |w| w.files(v));
                        } else if !FORM_SETTINGS.contains(&k.as_str()) {
                            w.under(Step::Field(k.clone()), |w| w.strings_under(v));
                        }
                    }
                }
                return;
            }
            Route::Responses | Route::ResponsesInputTokens => {
                w.text(body, "instructions");
                w.tools(body, &[], "parameters");
                w.output_schema(body, &["text", "format"]);
                // A stored prompt's variables.
                w.at(body, &["prompt", "variables"], Walk::strings_under);
                match body.get("input") {
                    // Messages, tool calls and their outputs, reasoning passed back.
                    Some(Value::Array(_)) => w.items(body, "input", Walk::output_item),
                    _ => w.text(body, "input"),
                }
            }
            Route::Messages | Route::MessagesCountTokens => {
                w.at(body, &["system"], Walk::content);
                w.tools(body, &[], "input_schema");
                w.items(body, "messages", |w, m| {
                    w.at(m, &["content"], Walk::content)
                });
            }
        }
        w.identifiers(body);
    }

    /// Files read as documents, in order (a form's, [`crate::form::FILE_DOCUMENTS`]).
    fn files(&mut self, docs: &Value) {
        if let Value::Array(docs) = docs {
            self.each(docs, Walk::file);
        }
    }

    /// A file read as text ([`file_document`](crate::files::file_document)): each line of
    /// a JSONL file, or the whole.
    fn file(&mut self, doc: &Value) {
        match doc {
            Value::String(_) => self.here(),
            Value::Array(lines) => self.each(lines, Walk::file_line),
            _ => {}
        }
    }

    /// One line of a JSONL file. A batch's line (it has a `custom_id`, the caller's key to
    /// its results, left as it is, as are the request's `method` and `url`): a request's
    /// `body` as the request of the route its `url` names, an OpenAI output's
    /// `response.body` as the answer its `object` names, an Anthropic result's
    /// `result.message` as a message answer, and every other string of the line (errors,
    /// and whatever else it holds). Any other line (fine-tuning examples, evals items):
    /// every string.
    fn file_line(&mut self, line: &Value) {
        let Some(map) = line.as_object().filter(|m| m.contains_key("custom_id")) else {
            return self.strings_under(line);
        };
        let route = map
            .get("url")
            .and_then(Value::as_str)
            .and_then(|url| Route::of(&http::Method::POST, url))
            .filter(|(r, id)| id.is_none() && r.takes_body() && !r.takes_form())
            .map(|(r, _)| r);
        for (key, v) in map {
            self.under(Step::Field(key.clone()), |w| match key.as_str() {
                "custom_id" | "method" | "url" => {}
                "body" => match route {
                    Some(route) if v.is_object() => w.request(route, v),
                    _ => w.strings_under(v),
                },
                // The answer's body by its `object`; beside it, every string.
                "response" | "result" => w.answer_holder(v),
                _ => w.strings_under(v),
            });
        }
    }

    /// A batch line's `response` (OpenAI: its `body` as the answer its `object` names) or
    /// `result` (Anthropic: its `message` as a message answer); every other string in it.
    fn answer_holder(&mut self, holder: &Value) {
        let Value::Object(map) = holder else {
            return self.strings_under(holder);
        };
        for (key, v) in map {
            let route = match key.as_str() {
                "body" => answer_route(v),
                "message" if v.is_object() => Some(Route::Messages),
                _ => None,
            };
            self.under(Step::Field(key.clone()), |w| match route {
                Some(route) => w.response(route, v),
                None => w.strings_under(v),
            });
        }
    }

    /// A batch's text: its metadata and its errors' messages.
    fn batch(&mut self, batch: &Value) {
        self.at(batch, &["metadata"], Walk::strings_under);
        self.at(batch, &["errors"], |w, errors| {
            w.items(errors, "data", |w, e| w.string(e, &["message"]));
        });
    }
}

/// The route whose answer a batch's output body is, by its `object`.
fn answer_route(body: &Value) -> Option<Route> {
    Some(match body.get("object").and_then(Value::as_str)? {
        "chat.completion" => Route::ChatCompletions,
        "text_completion" => Route::Completions,
        "response" => Route::Responses,
        "list" => Route::Embeddings,
        _ => return None,
    })
}

/// A whole answer parsed for [`response_segments`]: only the top-level keys its walker
/// reads ([`answer_roots`]), or all of it for an answer that is one item. An answer that
/// is not a JSON object, or not JSON, is an error.
pub(crate) fn parse_answer(route: Route, body: &[u8]) -> serde_json::Result<Value> {
    match answer_roots(route) {
        Some(keep) => parse_pruned(body, keep),
        None => match serde_json::from_slice(body)? {
            v @ Value::Object(_) => Ok(v),
            _ => Err(de::Error::custom("an answer that is not a JSON object")),
        },
    }
}

/// The top-level keys of a whole answer that [`response_segments`] walks: the rest of an
/// answer (ids, usage, an embedding's numbers) holds no text and need not be parsed.
/// `None` for an answer that is one item, whose keys are the item walker's.
fn answer_roots(route: Route) -> Option<&'static [&'static str]> {
    Some(match route {
        Route::ChatCompletions | Route::Completions => &["choices"],
        Route::Embeddings
        | Route::Moderations
        | Route::AudioSpeech
        | Route::MessagesCountTokens
        | Route::ResponsesInputTokens
        | Route::ResponsesDelete => &[],
        Route::Responses | Route::ResponsesRetrieve | Route::ResponsesCancel => &["output"],
        Route::ResponsesInputItems => &["data"],
        Route::Messages => &["content"],
        Route::ImagesGenerations | Route::ImagesEdits | Route::ImagesVariations => &["data"],
        Route::AudioTranscriptions | Route::AudioTranslations => &["text", "segments", "words"],
        Route::Files | Route::FilesRetrieve | Route::FilesDelete => &["filename"],
        Route::FilesList | Route::BatchesList => &["data"],
        Route::Batches | Route::BatchesRetrieve | Route::BatchesCancel => &["metadata", "errors"],
        // Read whole (`files::file_document`).
        Route::FilesContent => &[],
        Route::Conversations
        | Route::ConversationsRetrieve
        | Route::ConversationsUpdate
        | Route::ConversationsDelete
        | Route::ConversationItemDelete => &["metadata"],
        Route::ConversationItems | Route::ConversationItemsCreate => &["data"],
        Route::ConversationItem => return None,
        Route::MessagesBatches
        | Route::MessagesBatchesList
        | Route::MessagesBatchesRetrieve
        | Route::MessagesBatchesCancel
        | Route::MessagesBatchesDelete => &[],
        // Read whole (`files::file_document`), or every string (`all_strings`).
        Route::MessagesBatchesResults | Route::Other(_) => &[],
    })
}

/// Parses a JSON object keeping only the top-level keys in `keep` (each parsed whole into
/// a [`Value`]); the others are checked for syntax and skipped without building anything.
/// A body that is not a JSON object, or not valid JSON, is an error.
fn parse_pruned(body: &[u8], keep: &[&str]) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = Pruned { keep }.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// The seed of [`parse_pruned`].
struct Pruned<'k> {
    keep: &'k [&'k str],
}

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key_seed(KeyOf { keep: self.keep })? {
            match key {
                Some(k) => {
                    out.insert(k.to_owned(), map.next_value::<Value>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// An object key: which of `keep` it is, if any (compared without copying it).
struct KeyOf<'k> {
    keep: &'k [&'k str],
}

impl<'de, 'k> DeserializeSeed<'de> for KeyOf<'k> {
    type Value = Option<&'k str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<&'k str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'k> Visitor<'de> for KeyOf<'k> {
    type Value = Option<&'k str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<&'k str>, E> {
        Ok(self.keep.iter().copied().find(|k| *k == key))
    }
}

/// Paths to every string of `v` (its root, when it is one): for answers no route's walker
/// reads, such as an upstream's error body.
pub(crate) fn all_strings(v: &Value) -> Segments {
    let mut w = Walk::default();
    w.strings_under(v);
    w.out
}

/// Paths to a (whole, not streamed) response's text.
pub(crate) fn response_segments(route: Route, body: &Value) -> Segments {
    let mut w = Walk::default();
    w.response(route, body);
    w.out
}

impl Walk {
    /// An answer's text: the walker of [`response_segments`], under the current path.
    fn response(&mut self, route: Route, body: &Value) {
        let w = self;
        match route {
            Route::ChatCompletions => w.items(body, "choices", |w, c| {
                w.at(c, &["message"], Walk::chat_message);
            }),
            Route::Completions => w.items(body, "choices", |w, c| w.string(c, &["text"])),
            Route::Embeddings
            | Route::Moderations
            | Route::AudioSpeech
            | Route::MessagesCountTokens
            | Route::ResponsesInputTokens
            | Route::ResponsesDelete => {}
            // A response's input items: messages, tool calls and outputs, as a request's.
            Route::ResponsesInputItems => w.items(body, "data", Walk::output_item),
            // The transcript, its segments' texts and (with word timestamps) each word: the
            // JSON formats (`json`, `verbose_json`, `diarized_json`); the others are plain text.
            Route::AudioTranscriptions | Route::AudioTranslations => {
                w.string(body, &["text"]);
                w.items(body, "segments", |w, s| w.string(s, &["text"]));
                w.items(body, "words", |w, x| w.string(x, &["word"]));
            }
            Route::Responses | Route::ResponsesRetrieve | Route::ResponsesCancel => {
                w.responses_output(body);
            }
            Route::Messages => w.at(body, &["content"], Walk::content),
            // The prompt as the model rewrote it; the images themselves are not text.
            Route::ImagesGenerations | Route::ImagesEdits | Route::ImagesVariations => {
                w.items(body, "data", |w, d| w.string(d, &["revised_prompt"]));
            }
            // A file's name; its content's answer is the file ([`Route::FilesContent`]).
            Route::Files | Route::FilesRetrieve | Route::FilesDelete => {
                w.string(body, &["filename"]);
            }
            Route::FilesList => w.items(body, "data", |w, f| w.string(f, &["filename"])),
            Route::FilesContent => w.file(body),
            Route::Batches | Route::BatchesRetrieve | Route::BatchesCancel => w.batch(body),
            Route::BatchesList => w.items(body, "data", Walk::batch),
            // A conversation: its metadata; its items as a response's input items.
            Route::Conversations
            | Route::ConversationsRetrieve
            | Route::ConversationsUpdate
            | Route::ConversationsDelete
            | Route::ConversationItemDelete => w.at(body, &["metadata"], Walk::strings_under),
            Route::ConversationItems | Route::ConversationItemsCreate => {
                w.items(body, "data", Walk::output_item);
            }
            Route::ConversationItem => w.output_item(body),
            // Batches hold no text; their results are a file.
            Route::MessagesBatches
            | Route::MessagesBatchesList
            | Route::MessagesBatchesRetrieve
            | Route::MessagesBatchesCancel
            | Route::MessagesBatchesDelete => {}
            Route::MessagesBatchesResults => w.file(body),
            Route::Other(_) => w.strings_under(body),
        }
    }
}

/// Paths to the text an Anthropic stream event carries whole: a `citations_delta`'s quote
/// of its source (text deltas are streamed text, handled piece by piece).
pub(crate) fn anthropic_event_segments(event: &Value) -> Segments {
    let mut w = Walk::default();
    w.at(event, &["delta", "citation"], |w, c| {
        w.string(c, &["cited_text"]);
    });
    w.out
}

/// Paths to the text a Responses API stream event carries whole: the full text of a
/// `.done` event, a content part, an output item, or the whole response (`.delta` events
/// are streamed text, handled piece by piece).
pub(crate) fn responses_event_segments(event: &Value) -> Segments {
    let mut w = Walk::default();
    // `.done` events: output text, function and MCP call arguments, refusals, a custom
    // tool call's input, code interpreter code.
    for field in ["text", "arguments", "refusal", "input", "code"] {
        w.string(event, &[field]);
    }
    w.at(event, &["part"], Walk::part);
    w.at(event, &["item"], Walk::output_item);
    w.at(event, &["response"], Walk::responses_output);
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_files_lines_are_read_as_the_requests_and_answers_they_hold() {
        let upload = json!({"purpose": "batch", "note": "from jane",
            crate::form::FILE_NAMES: ["in.jsonl"], FILE_DOCUMENTS: [[
            {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}},
            {"custom_id": "b", "method": "POST", "url": "/v1/not-a-route",
                "body": {"model": "m", "note": "x"}},
            // A body that is not an object, a field no batch line has: every string.
            {"custom_id": "c", "method": "POST", "url": "/v1/chat/completions",
                "body": "just text", "note": "more text"},
            {"messages": [{"role": "user", "content": "tune"}]},
        ]]});
        assert_eq!(
            request_segments(Route::Files, &upload).pointers(),
            [
                "/\u{0}file names/0",
                "/\u{0}files/0/0/body/messages/0/content",
                "/\u{0}files/0/1/body/model",
                "/\u{0}files/0/1/body/note",
                "/\u{0}files/0/2/body",
                "/\u{0}files/0/2/note",
                "/\u{0}files/0/3/messages/0/content",
                "/\u{0}files/0/3/messages/0/role",
                "/note",
            ]
        );
        let output = json!([
            {"id": "r", "custom_id": "a", "response": {"status_code": 200, "body": {
                "id": "c", "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]}},
                "error": null},
            {"id": "r", "custom_id": "b", "response": null,
                "error": {"code": "x", "message": "failed"}},
            // Anthropic: a message answer, and an error.
            {"custom_id": "c", "result": {"type": "succeeded", "message": {"type": "message",
                "content": [{"type": "text", "text": "done"}]}}},
            {"custom_id": "d", "result": {"type": "errored",
                "error": {"type": "error", "error": {"message": "bad"}}}},
        ]);
        assert_eq!(
            response_segments(Route::FilesContent, &output).pointers(),
            [
                "/0/id",
                "/0/response/body/choices/0/message/content",
                "/1/error/code",
                "/1/error/message",
                "/1/id",
                "/2/result/message/content/0/text",
                "/2/result/type",
                "/3/result/error/error/message",
                "/3/result/error/type",
                "/3/result/type",
            ]
        );
        let whole = Value::String("a letter".into());
        assert_eq!(
            response_segments(Route::FilesContent, &whole).pointers(),
            [""]
        );
        assert!(request_segments(Route::Files, &json!({"purpose": "batch"})).is_empty());
    }

    #[test]
    fn a_schema_gives_its_text_and_values_not_its_structure() {
        let schema = json!({
            "type": "object",
            "title": "Refund",
            "$defs": {"addr": {"type": "string", "format": "email",
                "examples": ["jane@example.com"]}},
            "properties": {
                "email": {"$ref": "#/$defs/addr", "description": "who to refund"},
                "reason": {"type": "string", "enum": ["late", "broken"], "default": "late",
                    "pattern": "^[a-z]+$", "maxLength": 20},
                "lines": {"type": "array", "items": {"anyOf": [
                    {"const": "whole order"},
                    {"type": "object", "properties": {"sku": {"x-note": "from the invoice"}},
                        "additionalProperties": false}
                ]}},
                "odd": "not a schema"
            },
            "required": ["email", "reason"],
            "x-owner": {"name": "billing team"}
        });
        let body = json!({"messages": [], "tools": [{"type": "function",
            "function": {"name": "refund", "parameters": schema}}]});
        let p = "/tools/0/function/parameters";
        let mut want: Vec<String> = [
            "/$defs/addr/examples/0",
            "/properties/email/description",
            "/properties/reason/default",
            "/properties/reason/enum/0",
            "/properties/reason/enum/1",
            "/properties/lines/items/anyOf/0/const",
            "/properties/lines/items/anyOf/1/properties/sku/x-note",
            "/properties/odd",
            "/title",
            "/x-owner/name",
        ]
        .iter()
        .map(|s| format!("{p}{s}"))
        .collect();
        let mut found = request_segments(Route::ChatCompletions, &body).pointers();
        found.sort();
        want.sort();
        assert_eq!(found, want);
    }

    #[test]
    fn text_in_a_shape_no_api_takes_is_read_whole() {
        // The provider would refuse these, but they reach it as sent: nothing goes unread.
        for (body, want) in [
            (json!({"model":"m","messages":"hi"}), vec!["/messages"]),
            (
                json!({"model":"m","messages":{"role":"user","content":"hi"}}),
                vec!["/messages/content", "/messages/role"],
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":{"a":"hi","b":["x"]}}]}),
                vec!["/messages/0/content/a", "/messages/0/content/b/0"],
            ),
            // A number or null is no text.
            (
                json!({"model":"m","messages":[{"role":"user","content":7}]}),
                vec![],
            ),
        ] {
            let mut found = request_segments(Route::ChatCompletions, &body).pointers();
            found.sort();
            assert_eq!(found, want, "{body}");
        }
        for (route, body, want) in [
            (
                Route::Responses,
                json!({"model":"m","input":{"role":"user","content":"hi"},"instructions":["be"]}),
                vec!["/input/content", "/input/role", "/instructions/0"],
            ),
            (Route::Responses, json!({"input":"hi"}), vec!["/input"]),
            (
                Route::ImagesGenerations,
                json!({"prompt":{"p":"hi"}}),
                vec!["/prompt/p"],
            ),
            (
                Route::AudioSpeech,
                json!({"input":["hi"]}),
                vec!["/input/0"],
            ),
        ] {
            let mut found = request_segments(route, &body).pointers();
            found.sort();
            assert_eq!(found, want, "{body}");
        }
    }

    #[test]
    fn finds_every_text_a_chat_request_carries() {
        let body = json!({"model":"m","messages":[
            {"role":"system","content":"sys"},
            {"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"x"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{\"a\":\"b\"}"}}]},
            {"role":"tool","tool_call_id":"1","content":"result"}]});
        assert_eq!(
            request_segments(Route::ChatCompletions, &body).pointers(),
            [
                "/messages/0/content",
                "/messages/1/content/0/text",
                "/messages/2/tool_calls/0/function/arguments",
                "/messages/3/content"
            ]
        );
        let anthropic = json!({"system":"s","messages":[{"role":"user","content":[
            {"type":"text","text":"t"},
            {"type":"tool_result","tool_use_id":"x","content":[{"type":"text","text":"r"}]},
            {"type":"tool_use","id":"y","name":"f","input":{"q":"v","n":[ "w" ]}}]}]});
        assert_eq!(
            request_segments(Route::Messages, &anthropic).pointers(),
            [
                "/system",
                "/messages/0/content/0/text",
                "/messages/0/content/1/content/0/text",
                "/messages/0/content/2/input/n/0",
                "/messages/0/content/2/input/q"
            ]
        );
        assert_eq!(
            request_segments(Route::Embeddings, &json!({"input":["a","b"]})).pointers(),
            ["/input/0", "/input/1"]
        );
        // Moderations: a string, strings, or text and image parts (an image's URL is no text).
        assert_eq!(
            request_segments(Route::Moderations, &json!({"input":"a"})).pointers(),
            ["/input"]
        );
        assert_eq!(
            request_segments(
                Route::Moderations,
                &json!({"model":"omni-moderation-latest","input":["a",
                    {"type":"text","text":"b"},
                    {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]})
            )
            .pointers(),
            ["/input/0", "/input/1/text"]
        );
        // Images: the prompt; in the answer the revised prompts, not the images.
        assert_eq!(
            request_segments(
                Route::ImagesGenerations,
                &json!({"model":"gpt-image-1","prompt":"p","size":"1024x1024"})
            )
            .pointers(),
            ["/prompt"]
        );
        assert_eq!(
            response_segments(
                Route::ImagesGenerations,
                &json!({"created":1,"data":[{"b64_json":"AAAA","revised_prompt":"r"},{"url":"u"}]})
            )
            .pointers(),
            ["/data/0/revised_prompt"]
        );
        let predicted = json!({"messages":[{"role":"user","content":"u"}],
            "prediction":{"type":"content","content":"p"}});
        assert_eq!(
            request_segments(Route::ChatCompletions, &predicted).pointers(),
            ["/messages/0/content", "/prediction/content"]
        );
        assert_eq!(
            request_segments(Route::Completions, &json!({"prompt":"a","suffix":"z"})).pointers(),
            ["/prompt", "/suffix"]
        );
        let stored = json!({"prompt":{"id":"p","variables":{"name":"n"}},"input":"i"});
        assert_eq!(
            request_segments(Route::Responses, &stored).pointers(),
            ["/prompt/variables/name", "/input"]
        );
        let tooled = json!({"model":"m","user":"u","safety_identifier":"s",
            "metadata":{"k":"v"},"messages":[{"role":"user","content":"c"}],
            "tools":[{"type":"function","function":{"name":"f","description":"d",
                "parameters":{"type":"object","properties":{"p":{"type":"string","enum":["e"]}}}}}]});
        assert_eq!(
            request_segments(Route::ChatCompletions, &tooled).pointers(),
            [
                "/tools/0/function/description",
                "/tools/0/function/parameters/properties/p/enum/0",
                "/messages/0/content",
                "/user",
                "/safety_identifier",
                "/metadata/k"
            ]
        );
        let structured = json!({"messages":[],"response_format":{"type":"json_schema",
            "json_schema":{"name":"n","description":"d","schema":{"type":"object"}}}});
        assert_eq!(
            request_segments(Route::ChatCompletions, &structured).pointers(),
            ["/response_format/json_schema/description"]
        );
        let structured = json!({"input":"i","text":{"format":{"type":"json_schema","name":"n",
            "description":"d","schema":{"enum":["e"]}}}});
        assert_eq!(
            request_segments(Route::Responses, &structured).pointers(),
            [
                "/text/format/description",
                "/text/format/schema/enum/0",
                "/input"
            ]
        );
        let responses_tools = json!({"input":"i","user":"u","tools":[{"type":"function",
            "name":"f","description":"d","parameters":{"type":"object"}},{"type":"web_search"}]});
        assert_eq!(
            request_segments(Route::Responses, &responses_tools).pointers(),
            ["/tools/0/description", "/input", "/user"]
        );
        let anthropic_tools = json!({"messages":[],"metadata":{"user_id":"u"},
            "tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}]});
        assert_eq!(
            request_segments(Route::Messages, &anthropic_tools).pointers(),
            ["/tools/0/description", "/metadata/user_id"]
        );
        assert_eq!(
            request_segments(Route::Embeddings, &json!({"input":"a","user":"u"})).pointers(),
            ["/input", "/user"]
        );
        let blocks = json!({"messages":[{"role":"user","content":[
            {"type":"search_result","source":"s","title":"t","content":[{"type":"text","text":"r"}]},
            {"type":"document","source":{"type":"content","content":[{"type":"text","text":"d"}]}},
            {"type":"mcp_tool_result","tool_use_id":"m","content":"out"}]},
            {"role":"assistant","content":[
            {"type":"server_tool_use","id":"s","name":"web_search","input":{"query":"q"}},
            {"type":"mcp_tool_use","id":"m","name":"f","server_name":"x","input":{"a":"b"}}]}]});
        assert_eq!(
            request_segments(Route::Messages, &blocks).pointers(),
            [
                "/messages/0/content/0/title",
                "/messages/0/content/0/content/0/text",
                "/messages/0/content/1/source/content/0/text",
                "/messages/0/content/2/content",
                "/messages/1/content/0/input/query",
                "/messages/1/content/1/input/a"
            ]
        );
        let document = json!({"messages":[{"role":"user","content":[{"type":"document",
            "source":{"type":"text","media_type":"text/plain","data":"d"}},
            {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBER"}}]}]});
        assert_eq!(
            request_segments(Route::Messages, &document).pointers(),
            ["/messages/0/content/0/source/data"]
        );
    }

    #[test]
    fn a_pruned_answer_keeps_every_text_the_walker_finds() {
        let answers = [
            (
                Route::ChatCompletions,
                json!({"id":"c","object":"chat.completion","created":1,"model":"m",
                    "choices":[{"index":0,"message":{"role":"assistant","content":"a",
                        "refusal":null,"audio":{"transcript":"t"},
                        "tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                        "logprobs":null,"finish_reason":"stop"}],
                    "usage":{"prompt_tokens":1,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":0}},
                    "system_fingerprint":"fp"}),
            ),
            (
                Route::Completions,
                json!({"id":"x","choices":[{"text":"t","index":0}],"usage":{}}),
            ),
            (
                Route::Embeddings,
                json!({"object":"list","data":[{"embedding":[0.1,0.2],"index":0}],"model":"e"}),
            ),
            (
                Route::Responses,
                json!({"id":"r","object":"response","instructions":"i","metadata":{},
                    "output":[{"type":"message","content":[{"type":"output_text","text":"o"}]},
                        {"type":"reasoning","summary":[{"type":"summary_text","text":"s"}]}],
                    "usage":{"input_tokens":1}}),
            ),
            (
                Route::Messages,
                json!({"id":"m","type":"message","role":"assistant","model":"c",
                    "content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"f","input":{"q":"v"}}],
                    "stop_reason":"end_turn","usage":{"input_tokens":1}}),
            ),
        ];
        for (route, full) in answers {
            let bytes = serde_json::to_vec(&full).expect("json");
            let pruned = parse_answer(route, &bytes).expect("pruned");
            let kept = response_segments(route, &pruned);
            let all = response_segments(route, &full);
            assert_eq!(kept.pointers(), all.pointers(), "{route:?}");
            assert_eq!(kept.texts(&pruned), all.texts(&full), "{route:?}");
            let keys: Vec<&String> = pruned.as_object().expect("object").keys().collect();
            assert!(keys
                .iter()
                .all(|k| answer_roots(route).is_some_and(|r| r.contains(&k.as_str()))));
        }
        // Not an object, not JSON, or trailing bytes: an error, as a full parse would give
        // for the last two.
        for bad in [
            &b"[1]"[..],
            b"\"s\"",
            b"{\"choices\":",
            b"{} x",
            b"{\"id\":tru}",
        ] {
            assert!(parse_pruned(bad, &["choices"]).is_err(), "{bad:?}");
        }
        // Escaped keys are compared decoded.
        let escaped = parse_pruned(br#"{"ch\u006fices":[1],"x":{"y":[true]}}"#, &["choices"])
            .expect("escaped");
        assert_eq!(escaped, json!({"choices":[1]}));
    }

    #[test]
    fn finds_every_text_a_response_carries() {
        let chat = json!({"choices":[
            {"index":0,"message":{"role":"assistant","content":"a","tool_calls":[
                {"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]}},
            {"index":1,"message":{"role":"assistant","content":null}}]});
        assert_eq!(
            response_segments(Route::ChatCompletions, &chat).pointers(),
            [
                "/choices/0/message/content",
                "/choices/0/message/tool_calls/0/function/arguments"
            ]
        );
        let responses = json!({"output":[
            {"type":"message","content":[{"type":"output_text","text":"t"}]},
            {"type":"function_call","arguments":"{\"q\":1}"},
            {"type":"web_search_call","status":"completed","action":{"type":"search","query":"q"}},
            {"type":"image_generation_call","result":"iVBOR","revised_prompt":"p"},
            {"type":"local_shell_call","call_id":"c","action":{"type":"exec","command":["grep","x"],
                "env":{},"working_directory":null}}]});
        assert_eq!(
            response_segments(Route::Responses, &responses).pointers(),
            [
                "/output/0/content/0/text",
                "/output/1/arguments",
                "/output/2/action/query",
                "/output/3/revised_prompt",
                "/output/4/action/command/0",
                "/output/4/action/command/1"
            ]
        );
        let completion = json!({"choices":[{"text":"x"},{"text":7}]});
        assert_eq!(
            response_segments(Route::Completions, &completion).pointers(),
            ["/choices/0/text"]
        );
        let messages = json!({"content":[{"type":"text","text":"m"},
            {"type":"tool_use","id":"t","name":"f","input":{"a/b":"v"}}]});
        assert_eq!(
            response_segments(Route::Messages, &messages).pointers(),
            ["/content/0/text", "/content/1/input/a~1b"]
        );
        let thinking = json!({"content":[{"type":"thinking","thinking":"th","signature":"s"},
            {"type":"redacted_thinking","data":"opaque"},{"type":"text","text":"a"}]});
        assert_eq!(
            response_segments(Route::Messages, &thinking).pointers(),
            ["/content/0/thinking", "/content/2/text"]
        );
        let legacy = json!({"choices":[{"message":{"content":null,"refusal":"r",
            "reasoning_content":"why","function_call":{"name":"f","arguments":"{}"}}}]});
        assert_eq!(
            response_segments(Route::ChatCompletions, &legacy).pointers(),
            [
                "/choices/0/message/refusal",
                "/choices/0/message/reasoning_content",
                "/choices/0/message/function_call/arguments"
            ]
        );
        let refused =
            json!({"output":[{"type":"message","content":[{"type":"refusal","refusal":"no"}]}]});
        assert_eq!(
            response_segments(Route::Responses, &refused).pointers(),
            ["/output/0/content/0/refusal"]
        );
        let searched = json!({"output":[{"type":"file_search_call","queries":["q1"],
            "results":[{"file_id":"f","score":0.5,"text":"found"}]}]});
        assert_eq!(
            response_segments(Route::Responses, &searched).pointers(),
            ["/output/0/queries/0", "/output/0/results/0/text"]
        );
        let spoken = json!({"choices":[{"message":{"content":null,"audio":{"id":"a","data":"UklG","transcript":"said"}}}]});
        assert_eq!(
            response_segments(Route::ChatCompletions, &spoken).pointers(),
            ["/choices/0/message/audio/transcript"]
        );
        let tools = json!({"output":[
            {"type":"custom_tool_call","call_id":"c","name":"f","input":"raw input"},
            {"type":"mcp_call","id":"m","name":"g","arguments":"{}","output":"tool said"},
            {"type":"code_interpreter_call","code":"print(1)","outputs":[{"type":"logs","logs":"1"},{"type":"image","url":"u"}]}]});
        assert_eq!(
            response_segments(Route::Responses, &tools).pointers(),
            [
                "/output/0/input",
                "/output/1/arguments",
                "/output/1/output",
                "/output/2/code",
                "/output/2/outputs/0/logs"
            ]
        );
        let passed_back = json!({"input":[
            {"type":"custom_tool_call_output","call_id":"c","output":"result"},
            {"type":"function_call_output","call_id":"d","output":"r2"},
            {"type":"computer_call_output","call_id":"e","output":{"type":"input_image","image_url":"x"}}]});
        assert_eq!(
            request_segments(Route::Responses, &passed_back).pointers(),
            ["/input/0/output", "/input/1/output"]
        );
        for (kind, field) in [
            ("response.custom_tool_call_input.done", "input"),
            ("response.code_interpreter_call_code.done", "code"),
            ("response.mcp_call_arguments.done", "arguments"),
        ] {
            let done = json!({"type": kind, "output_index": 0, field: "whole"});
            assert_eq!(
                responses_event_segments(&done).pointers(),
                [format!("/{field}")]
            );
        }
        let event = json!({"type":"response.completed","response":refused});
        assert_eq!(
            responses_event_segments(&event).pointers(),
            ["/response/output/0/content/0/refusal"]
        );
        let mut doc = messages.clone();
        let segments = response_segments(Route::Messages, &doc);
        assert_eq!(segments.texts(&doc), ["m", "v"]);
        segments.replace(&mut doc, [None, Some("V".to_owned())]);
        assert_eq!(doc["content"][1]["input"]["a/b"], "V");
        assert_eq!(doc["content"][0]["text"], "m");
        segments.replace(&mut doc, [Some("M".to_owned())]);
        assert_eq!(doc["content"][0]["text"], "M");
    }
}
