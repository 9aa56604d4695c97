//! A fake OpenAI-compatible (and Anthropic, and Presidio) upstream on 127.0.0.1.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

type Body = BoxBody<Bytes, std::io::Error>;

#[derive(Default)]
pub(crate) struct Seen {
    /// Every request body, by path.
    pub(crate) bodies: Mutex<Vec<(String, Bytes)>>,
    pub(crate) calls: AtomicUsize,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
    /// Files uploaded (and batches' output files): id, file name, content.
    pub(crate) files: Mutex<Vec<(String, String, Bytes)>>,
    /// Batches created, as the upstream answers them once they are done.
    batches: Mutex<Vec<Value>>,
    /// Conversations: the object and its items.
    conversations: Mutex<Vec<(Value, Vec<Value>)>>,
    /// Anthropic message batches: each one's requests.
    message_batches: Mutex<Vec<Vec<Value>>>,
}

impl Seen {
    pub(crate) fn last(&self, path: &str) -> Option<Bytes> {
        self.bodies
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
    }

    /// The last body sent to `path`, as text (it must have been sent).
    pub(crate) fn last_text(&self, path: &str) -> String {
        let sent = self
            .last(path)
            .unwrap_or_else(|| panic!("nothing sent to {path}"));
        String::from_utf8_lossy(&sent).into_owned()
    }

    pub(crate) fn count(&self, path: &str) -> usize {
        self.bodies
            .lock()
            .expect("lock")
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }
}

pub(crate) struct Upstream {
    server: sentinel_testkit::Server,
    pub(crate) seen: Arc<Seen>,
}

impl Upstream {
    pub(crate) fn url(&self) -> String {
        self.server.url()
    }
}

fn full(status: u16, v: &Value) -> hyper::Response<Body> {
    let mut r = hyper::Response::new(
        Full::new(Bytes::from(v.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        "application/json".parse().expect("ct"),
    );
    r
}

fn sse(events: Vec<String>) -> hyper::Response<Body> {
    sse_paced(events, Some(Duration::from_millis(1)))
}

/// The piece size of a model named `echo-by-N`: it echoes the caller's text and streams
/// it N bytes an event, unpaced.
fn echo_by(model: &str) -> Option<usize> {
    model.strip_prefix("echo-by-").and_then(|n| n.parse().ok())
}

/// How a stream of `echo_by` pieces is paced: unpaced for an `echo-by-N` model, a
/// millisecond apart for the others.
fn pace_of(by: Option<usize>) -> Option<Duration> {
    by.is_none().then(|| Duration::from_millis(1))
}

/// `events` as a stream, `pace` apart (or as fast as they are taken).
fn sse_paced(events: Vec<String>, pace: Option<Duration>) -> hyper::Response<Body> {
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(8);
    tokio::spawn(async move {
        for e in events {
            if tx.send_data(Bytes::from(e)).await.is_err() {
                return;
            }
            if let Some(pace) = pace {
                tokio::time::sleep(pace).await;
            }
        }
    });
    let mut r = hyper::Response::new(body.boxed());
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        "text/event-stream".parse().expect("ct"),
    );
    r
}

fn plain(status: u16, text: &'static str) -> hyper::Response<Body> {
    let mut r = hyper::Response::new(
        Full::new(Bytes::from(text))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        "text/plain".parse().expect("ct"),
    );
    r
}

/// A streamed chat answer whose body breaks after a value and enough text to release it.
fn broken_sse() -> hyper::Response<Body> {
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(8);
    tokio::spawn(async move {
        let text = format!(
            "The SSN on file is 536-22-1234.{}",
            " All is well.".repeat(60)
        );
        for p in pieces(&text, 40) {
            let e = json!({"id": "c", "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
            if tx
                .send_data(Bytes::from(format!("data: {e}\n\n")))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.abort(std::io::Error::other("the upstream broke"));
    });
    let mut r = hyper::Response::new(body.boxed());
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        "text/event-stream".parse().expect("ct"),
    );
    r
}

/// The last user message's text (string or text parts).
fn last_user_text(v: &Value) -> String {
    let Some(Value::Array(ms)) = v.get("messages") else {
        return String::new();
    };
    let Some(m) = ms.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The inputs of the model `remember`'s turns so far, the answer `resp_N` to the N-th.
static TURNS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The model `remember`'s answer to a Responses API request: its id, and its text (the
/// input, or with `previous_response_id` the input of that turn, quoted).
fn remembered_turn(v: &Value) -> (String, String) {
    let mut turns = TURNS.lock().expect("lock");
    let said = match v["previous_response_id"]
        .as_str()
        .and_then(|p| p.strip_prefix("resp_"))
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(n) => format!("Earlier you said: {}", turns[n - 1]),
        None => v["input"].as_str().unwrap_or_default().to_owned(),
    };
    turns.push(v["input"].as_str().unwrap_or_default().to_owned());
    (format!("resp_{}", turns.len()), said)
}

/// The model `audio`'s answer (`modalities: ["text", "audio"]`): the prompt spoken, or for
/// a prompt that asks about an SSN a sentence with one of its own; whole, or streamed as
/// transcript pieces with the audio in chunks of its own between them.
fn spoken_answer(prompt: &str, stream: bool) -> hyper::Response<Body> {
    let said = if prompt.contains("SSN") {
        "The SSN on file is 536-22-1234.".to_owned()
    } else {
        prompt.to_owned()
    };
    if !stream {
        return full(
            200,
            &json!({"id": "c", "object": "chat.completion", "model": "audio",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                    "content": null, "audio": {"id": "audio_1", "data": "UklGRg==", "expires_at": 1,
                    "transcript": said}}}]}),
        );
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "object": "chat.completion.chunk", "model": "audio",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "audio": {"id": "audio_1"}}),
        Value::Null,
    )];
    for (k, p) in pieces(&said, 3).into_iter().enumerate() {
        events.push(chunk(json!({"audio": {"transcript": p}}), Value::Null));
        events.push(chunk(
            json!({"audio": {"data": format!("AAA{k}")}}),
            Value::Null,
        ));
    }
    events.push(chunk(json!({}), json!("stop")));
    events.push("data: [DONE]\n\n".to_owned());
    sse(events)
}

/// The inputs of the model `background`'s responses, by id.
static BACKGROUND: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A message output item with `text`.
fn message_item(text: &str) -> Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

/// The model `background`'s answer to a request with `input`: queued, to be fetched.
fn queue_background(input: &str) -> hyper::Response<Body> {
    let mut queued = BACKGROUND.lock().expect("lock");
    queued.push(input.to_owned());
    let id = format!("resp_bg_{}", queued.len());
    full(
        200,
        &json!({"id": id, "object": "response", "status": "queued", "background": true,
            "model": "background", "output": []}),
    )
}

/// A request on a stored background response (`/v1/responses/{id}[/action]`): fetched
/// whole or streamed again, its input items, cancelled, deleted. The answer quotes the
/// request's input (as the provider got it) and adds an SSN of its own.
fn stored_response(
    method: &http::Method,
    path: &str,
    query: Option<&str>,
) -> hyper::Response<Body> {
    let rest = path.trim_start_matches("/v1/responses/");
    let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(input) = id
        .strip_prefix("resp_bg_")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| BACKGROUND.lock().expect("lock").get(n - 1).cloned())
    else {
        return full(
            404,
            &json!({"error": {"message": "No response found", "type": "invalid_request_error"}}),
        );
    };
    let said = format!("You said: {input} The SSN on file is 536-22-1234.");
    let response = |status: &str, text: &str| {
        json!({"id": id, "object": "response", "status": status, "model": "background",
            "output": [message_item(text)]})
    };
    match (method.as_str(), action) {
        ("GET", "") if query.is_some_and(|q| q.contains("stream=true")) => {
            let mut events = Vec::new();
            for (k, p) in pieces(&said, 3).into_iter().enumerate() {
                events.push(event(json!({"type": "response.output_text.delta", "sequence_number": k, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": p})));
            }
            events.push(event(json!({"type": "response.output_text.done", "sequence_number": 100, "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": said})));
            events.push(event(json!({"type": "response.completed", "sequence_number": 101, "response": response("completed", &said)})));
            sse(events)
        }
        ("GET", "") => full(200, &response("completed", &said)),
        ("POST", "cancel") => full(200, &response("cancelled", &said)),
        ("GET", "input_items") => full(
            200,
            &json!({"object": "list", "has_more": false, "data": [{"id": "msg_in", "type": "message",
                "role": "user", "content": [{"type": "input_text", "text": input}]}]}),
        ),
        ("DELETE", "") => full(
            200,
            &json!({"id": id, "object": "response.deleted", "deleted": true}),
        ),
        _ => full(405, &json!({"error": {"message": "method not allowed"}})),
    }
}

/// An SSE event named by its data's `type` (Anthropic's and the Responses API's form).
fn event(v: Value) -> String {
    format!(
        "event: {}\ndata: {v}\n\n",
        v["type"].as_str().unwrap_or_default()
    )
}

/// `text` as it goes inside a JSON string with every character but ASCII letters, digits
/// and spaces escaped: `/` as `\/`, `"`, `\` and line breaks as their short escapes, the
/// rest as `\uXXXX` (characters past the BMP as surrogate pairs), as a serializer that
/// escapes all but ASCII, or a caller hiding values from a scan, writes it.
pub(crate) fn escaped_everywhere(text: &str) -> String {
    escaped(text, false)
}

/// [`escaped_everywhere`], with letters and digits escaped too when `all`.
fn escaped(text: &str, all: bool) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            c if (c.is_ascii_alphanumeric() && !all) || c == ' ' => out.push(c),
            '/' => out.push_str("\\/"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out
}

/// Pieces of `text`, `n` bytes each (on char boundaries).
fn pieces(text: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let mut end = (at + n).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(text[at..end].to_owned());
        at = end;
    }
    out
}

/// Token log-probabilities for `text`, a token per three bytes (what `pieces` cuts), each
/// with itself as its one alternative.
fn tokens(text: &str) -> Value {
    pieces(text, 3)
        .iter()
        .map(|p| {
            let t = json!({"token": p, "logprob": -0.25, "bytes": p.as_bytes()});
            let mut entry = t.clone();
            entry["top_logprobs"] = json!([t]);
            entry
        })
        .collect()
}

/// A field of a `multipart/form-data` body, found by its name (enough for the forms the
/// tests send).
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let at = text.find(&format!("name=\"{name}\"\r\n\r\n"))? + name.len() + 11;
    let end = text[at..].find("\r\n--")?;
    Some(text[at..at + end].to_owned())
}

fn typed(content_type: &'static str, body: impl Into<Bytes>) -> hyper::Response<Body> {
    let mut r = hyper::Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        content_type.parse().expect("ct"),
    );
    r
}

/// What the fake speech model says: audio bytes that happen to spell an SSN.
pub(crate) const SPOKEN: &[u8] = b"ID3\x04\x00 536-22-1234 \xff\xfb\x90";

/// A transcript of the uploaded audio, in the form asked for (`response_format`, `stream`),
/// with values of its own; the prompt is quoted, to show what arrived.
fn transcript(body: &[u8]) -> hyper::Response<Body> {
    let said = "Call me at 536-22-1234 or write to jane.doe@example.com please.";
    let prompt = form_field(body, "prompt").unwrap_or_default();
    if form_field(body, "stream").as_deref() == Some("true") {
        let mut events = Vec::new();
        for p in pieces(said, 3) {
            events.push(event(json!({"type": "transcript.text.delta", "delta": p})));
        }
        events.push(event(
            json!({"type": "transcript.text.done", "text": said, "usage": {"type": "tokens", "total_tokens": 9}}),
        ));
        return sse(events);
    }
    match form_field(body, "response_format").as_deref() {
        Some("text") => typed("text/plain; charset=utf-8", format!("{said}\n")),
        Some("srt") => typed(
            "text/plain; charset=utf-8",
            format!("1\n00:00:00,000 --> 00:00:02,500\n{said}\n"),
        ),
        // With word timestamps: a phone number read out in groups, one word each (asked
        // for `two numbers`: one said whole, the next in groups, twice).
        Some("verbose_json") => {
            let said = if prompt == "two numbers" {
                "Call +14155552671 or +1 212 555 0187, yes +1 212 555 0187 please."
            } else {
                "Call me at +1 415 555 2671 or write to jane.doe@example.com please."
            };
            let words: Vec<Value> = said
                .split(' ')
                .enumerate()
                .map(|(i, w)| json!({"word": w, "start": i as f64 * 0.25, "end": i as f64 * 0.25 + 0.25}))
                .collect();
            full(
                200,
                &json!({"task": "transcribe", "language": "english", "duration": 2.5,
                    "text": said, "prompt_seen": prompt,
                    "segments": [{"id": 0, "start": 0.0, "end": 1.2, "text": "Call me at +1 415 555 2671"},
                        {"id": 1, "start": 1.2, "end": 2.5, "text": " or write to jane.doe@example.com please."}],
                    "words": words}),
            )
        }
        _ => full(200, &json!({"text": said, "prompt_seen": prompt})),
    }
}

async fn handle(path: String, body: Bytes) -> hyper::Response<Body> {
    if path == "/v1/audio/transcriptions" || path == "/v1/audio/translations" {
        return transcript(&body);
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = v["model"].as_str().unwrap_or_default().to_owned();
    if model == "slow" {
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    match model.as_str() {
        // Error bodies with values of the upstream's own: the request's arrive redacted.
        "error-ssn" => {
            return full(
                400,
                &json!({"error": {"message": "SSN 536-22-1234 is not accepted here",
                    "type": "invalid_request_error", "code": null}}),
            )
        }
        "error-key" => {
            return full(
                401,
                &json!({"error": {"message": "Incorrect API key provided: AKIAIOSFODNN7EXAMPLE"}}),
            )
        }
        // A success answer that is not JSON.
        "text-page" => return plain(200, "Sure, the SSN on file is 536-22-1234."),
        "stream-breaks" => return broken_sse(),
        _ => {}
    }
    if let Some(code) = model.strip_prefix("status-") {
        let mut r = full(
            code.parse().unwrap_or(500),
            &json!({"error": {"message": "failing on purpose"}}),
        );
        if code == "429" {
            // Longer than a transport waits (30 s): passed on to the caller instead.
            r.headers_mut()
                .insert(hyper::header::RETRY_AFTER, "90".parse().expect("v"));
        }
        return r;
    }
    let stream = v["stream"] == true;
    match path.as_str() {
        "/v1/analyze" => {
            let text = v["text"].as_str().unwrap_or_default();
            if text.contains("remote-breaks") {
                return full(500, &json!({"error": "failing on purpose"}));
            }
            // "Alice", or "Alice Liddell" as one name.
            let found: Vec<Value> = text
                .match_indices("Alice")
                .map(|(i, m)| {
                    let start = text[..i].chars().count();
                    let len = if text[i..].starts_with("Alice Liddell") {
                        "Alice Liddell".len()
                    } else {
                        m.chars().count()
                    };
                    json!({"entity_type": "PERSON", "start": start, "end": start + len, "score": 0.85})
                })
                .collect();
            full(200, &Value::Array(found))
        }
        "/v1/audio/speech" => {
            if v["stream_format"] == "sse" {
                return sse(vec![
                    event(json!({"type": "speech.audio.delta", "audio": "SUQzBAA="})),
                    event(json!({"type": "speech.audio.done", "usage": {"input_tokens": 3}})),
                ]);
            }
            typed("audio/mpeg", SPOKEN)
        }
        "/v1/moderations" => full(
            200,
            &json!({"id": "modr-1", "model": "omni-moderation-latest",
                "results": [{"flagged": v["input"].to_string().contains("hate"),
                    "categories": {}, "category_scores": {}}]}),
        ),
        "/v1/images/generations" => full(
            200,
            &json!({"created": 1, "data": [{"b64_json": "iVBORw0KGgo=",
                "revised_prompt": format!("Drawn: {}", v["prompt"].as_str().unwrap_or_default())}]}),
        ),
        "/v1/embeddings" => {
            let inputs: Vec<String> = match &v["input"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, s)| json!({"object": "embedding", "index": i, "embedding": [i as f64, s.len() as f64]}))
                .collect();
            full(
                200,
                &json!({"object": "list", "model": model, "data": data, "usage": {"prompt_tokens": 1, "total_tokens": 1}}),
            )
        }
        "/v1/responses" => {
            // Answers with values of its own (the request's would arrive redacted); a
            // reasoning summary carries them too.
            if model == "background" {
                return queue_background(v["input"].as_str().unwrap_or_default());
            }
            let mut id = "resp_1".to_owned();
            let by = echo_by(&model);
            let text = if by.is_some() {
                v["input"].as_str().unwrap_or_default().to_owned()
            } else if model == "secret" {
                "Your key is AKIAIOSFODNN7EXAMPLE, keep it safe.".to_owned()
            } else if model == "remember" {
                // A provider that keeps the conversation: each answer gets an id of its own,
                // and a request naming one as previous is answered by quoting its input,
                // which the request itself does not carry.
                let (answer_id, said) = remembered_turn(&v);
                id = answer_id;
                said
            } else {
                "The SSN on file is 536-22-1234, mail jane.doe@example.com.".to_owned()
            };
            let logprobs = v["include"]
                .as_array()
                .is_some_and(|i| i.iter().any(|x| x == "message.output_text.logprobs"));
            let message = |t: &str| {
                let mut part = json!({"type": "output_text", "text": t, "annotations": []});
                if logprobs {
                    part["logprobs"] = tokens(t);
                }
                json!({"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                    "content": [part]})
            };
            let reasoning = json!({"id": "rs_1", "type": "reasoning",
                "summary": [{"type": "summary_text", "text": text}]});
            let response = |output: Value, status: &str| json!({"id": id, "object": "response", "status": status, "model": model, "output": output});
            if model == "custom-tool" {
                // A custom tool call whose free-form input carries the values, streamed
                // three bytes at a time, then whole in the `.done` event and the item.
                let call = |input: &str| {
                    json!({"id": "ctc_1", "type": "custom_tool_call", "call_id": "call_1",
                        "name": "lookup", "input": input})
                };
                let mut events = vec![event(
                    json!({"type": "response.output_item.added", "sequence_number": 0, "output_index": 0, "item": call("")}),
                )];
                for (k, p) in pieces(&text, 3).into_iter().enumerate() {
                    events.push(event(json!({"type": "response.custom_tool_call_input.delta", "sequence_number": 1 + k, "item_id": "ctc_1", "output_index": 0, "delta": p})));
                }
                events.push(event(json!({"type": "response.custom_tool_call_input.done", "sequence_number": 100, "item_id": "ctc_1", "output_index": 0, "input": text})));
                events.push(event(json!({"type": "response.output_item.done", "sequence_number": 101, "output_index": 0, "item": call(&text)})));
                events.push(event(json!({"type": "response.completed", "sequence_number": 102, "response": response(json!([call(&text)]), "completed")})));
                return sse(events);
            }
            if !stream {
                return full(
                    200,
                    &response(json!([reasoning, message(&text)]), "completed"),
                );
            }
            let mut events = vec![
                event(
                    json!({"type": "response.created", "sequence_number": 0, "response": response(json!([]), "in_progress")}),
                ),
                event(
                    json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": reasoning}),
                ),
                event(
                    json!({"type": "response.output_item.done", "sequence_number": 2, "output_index": 0, "item": reasoning}),
                ),
                event(
                    json!({"type": "response.output_item.added", "sequence_number": 3, "output_index": 1, "item": message("")}),
                ),
                event(
                    json!({"type": "response.content_part.added", "sequence_number": 4, "item_id": "msg_1", "output_index": 1, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
                ),
            ];
            for (k, p) in pieces(&text, by.unwrap_or(3)).into_iter().enumerate() {
                let mut delta = json!({"type": "response.output_text.delta", "sequence_number": 5 + k, "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": p});
                if logprobs {
                    delta["logprobs"] = tokens(&p);
                }
                events.push(event(delta));
            }
            events.push(event(json!({"type": "response.output_text.done", "sequence_number": 100, "item_id": "msg_1", "output_index": 1, "content_index": 0, "text": text})));
            events.push(event(json!({"type": "response.content_part.done", "sequence_number": 101, "item_id": "msg_1", "output_index": 1, "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}})));
            events.push(event(json!({"type": "response.output_item.done", "sequence_number": 102, "output_index": 1, "item": message(&text)})));
            events.push(event(json!({"type": "response.completed", "sequence_number": 103, "response": response(json!([reasoning, message(&text)]), "completed")})));
            sse_paced(events, pace_of(by))
        }
        "/v1/messages" if model == "cite" => {
            // An answer citing a source that holds a value of its own.
            let citation = json!({"type": "char_location", "cited_text": "SSN 536-22-1234 on file",
                "document_index": 0, "start_char_index": 0, "end_char_index": 23});
            let said = "The number is on record.";
            if !stream {
                return full(
                    200,
                    &json!({"id": "m", "type": "message", "role": "assistant", "model": model,
                        "content": [{"type": "text", "text": said, "citations": [citation]}],
                        "stop_reason": "end_turn"}),
                );
            }
            sse(vec![
                event(
                    json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [], "model": model}}),
                ),
                event(
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "", "citations": []}}),
                ),
                event(
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": said}}),
                ),
                event(
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": citation}}),
                ),
                event(json!({"type": "content_block_stop", "index": 0})),
                event(json!({"type": "message_stop"})),
            ])
        }
        // A count of the words it was sent, so a test sees what was counted.
        "/v1/messages/count_tokens" => {
            let words = last_user_text(&v).split_whitespace().count();
            full(200, &json!({"input_tokens": words}))
        }
        "/v1/messages" => {
            let text = last_user_text(&v);
            if stream {
                // Text, or (model `thinking`) a thinking block with a value of its own,
                // three bytes per delta.
                let (kind, said) = if model == "thinking" {
                    ("thinking", "The SSN on file is 536-22-1234.".to_owned())
                } else {
                    ("text", text.clone())
                };
                let mut events = vec![
                    event(
                        json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [], "model": model}}),
                    ),
                    event(
                        json!({"type": "content_block_start", "index": 0, "content_block": {"type": kind, kind: ""}}),
                    ),
                ];
                let by = echo_by(&model);
                for p in pieces(&said, by.unwrap_or(3)) {
                    events.push(event(json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": format!("{kind}_delta"), kind: p}})));
                }
                events.push(event(json!({"type": "content_block_stop", "index": 0})));
                events.push(event(json!({"type": "message_stop"})));
                return sse_paced(events, pace_of(by));
            }
            full(
                200,
                &json!({"id": "m", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 3}}),
            )
        }
        _ => {
            let text = if ["ssn-leak", "reasoning", "reasoning-stream"].contains(&model.as_str()) {
                "Sure, the SSN on file is 536-22-1234 as requested.".to_owned()
            } else if model == "names" || model == "names-break" {
                // A name only the remote knows, in two windows of a streamed answer, and
                // (for `names-break`) a text that makes the remote fail in the last one.
                format!(
                    "{}Alice wrote this.{} Ask Alice{}.",
                    "The weather is fine today. ".repeat(30),
                    " All is well.".repeat(40),
                    if model == "names-break" {
                        " remote-breaks"
                    } else {
                        ""
                    }
                )
            } else if model == "split-name" {
                // A two-word name whose inner space is where a 128-byte remote window of
                // the streamed answer is cut (the last space in its second half).
                format!(
                    "{} Alice Liddell{} wrote this.{}",
                    "y".repeat(100),
                    "-".repeat(30),
                    " All is well.".repeat(20)
                )
            } else if model == "two-mails" {
                // Farther apart than the stream's hold-back, so released in separate pieces.
                format!(
                    "Write to jane@example.com.{} Or to bob@example.com, or jane@example.com again.",
                    " Thanks.".repeat(60)
                )
            } else {
                last_user_text(&v)
            };
            if stream && model == "reasoning-stream" {
                // Reasoning, a refusal and an audio answer's transcript streamed beside the
                // (empty) content, three bytes at a time.
                let mut events = Vec::new();
                for field in [
                    "reasoning_content",
                    "reasoning",
                    "refusal",
                    "audio",
                    "custom",
                ] {
                    for p in pieces(&text, 3) {
                        let delta = match field {
                            "audio" => json!({"audio": {"id": "audio_1", "transcript": p}}),
                            "custom" => json!({"tool_calls": [{"index": 0, "type": "custom",
                                "custom": {"input": p}}]}),
                            _ => json!({field: p}),
                        };
                        events.push(format!(
                            "data: {}\n\n",
                            json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0,
                                "delta": delta, "finish_reason": null}]})
                        ));
                    }
                    if field == "audio" {
                        // Audio data arrives in chunks of its own.
                        events.push(format!(
                            "data: {}\n\n",
                            json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0,
                                "delta": {"audio": {"data": "UklGRg=="}}, "finish_reason": null}]})
                        ));
                    }
                }
                events.push(format!(
                    "data: {}\n\n",
                    json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                ));
                events.push("data: [DONE]\n\n".to_owned());
                return sse(events);
            }
            if model == "reasoning" {
                return full(
                    200,
                    &json!({"id": "c", "object": "chat.completion", "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                        "reasoning_content": text, "reasoning": text, "refusal": text,
                        "tool_calls": [{"id": "call_1", "type": "custom",
                            "custom": {"name": "lookup", "input": text}}]},
                        "finish_reason": "stop"}]}),
                );
            }
            if model == "audio" {
                return spoken_answer(&text, stream);
            }
            // `tools-by-N`: a tool call whose JSON arguments carry the message, whole, or
            // streamed N bytes of the arguments an event, unpaced.
            // `tools-escaped-by-N`: the same, the message written with every character
            // but letters, digits and spaces escaped; `tools-all-escaped-by-N`, with
            // letters and digits escaped too.
            let (tools_by, args) = if let Some(n) = model.strip_prefix("tools-escaped-by-") {
                (
                    n.parse::<usize>().ok(),
                    format!(r#"{{"query":"{}"}}"#, escaped(&text, false)),
                )
            } else if let Some(n) = model.strip_prefix("tools-all-escaped-by-") {
                (
                    n.parse::<usize>().ok(),
                    format!(r#"{{"query":"{}"}}"#, escaped(&text, true)),
                )
            } else {
                let n = model.strip_prefix("tools-by-");
                (
                    n.and_then(|n| n.parse::<usize>().ok()),
                    json!({"query": text}).to_string(),
                )
            };
            if !stream && tools_by.is_some() {
                return full(
                    200,
                    &json!({"id": "c", "object": "chat.completion", "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                        "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "lookup", "arguments": args}}]},
                        "finish_reason": "tool_calls"}]}),
                );
            }
            if stream && (model == "tool-stream" || tools_by.is_some()) {
                // A tool call whose JSON arguments carry the message, three bytes at a time.
                let mut events = vec![format!(
                    "data: {}\n\n",
                    json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0,
                        "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                        "function": {"name": "lookup", "arguments": ""}}]}, "finish_reason": null}]})
                )];
                for p in pieces(&args, tools_by.unwrap_or(3)) {
                    events.push(format!(
                        "data: {}\n\n",
                        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0,
                            "delta": {"tool_calls": [{"index": 0, "function": {"arguments": p}}]}, "finish_reason": null}]})
                    ));
                }
                events.push(format!(
                    "data: {}\n\n",
                    json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
                ));
                events.push("data: [DONE]\n\n".to_owned());
                return sse_paced(events, pace_of(tools_by));
            }
            // Token log-probabilities when asked for, a token per three bytes.
            let logprobs = v["logprobs"] == true;
            let tokens_of =
                |t: &str| logprobs.then(|| json!({"content": tokens(t), "refusal": null}));
            if stream {
                let by = echo_by(&model);
                let mut events: Vec<String> = pieces(&text, by.unwrap_or(3))
                    .into_iter()
                    .map(|p| {
                        format!(
                            "data: {}\n\n",
                            json!({"id": "c", "object": "chat.completion.chunk", "model": model,
                                "choices": [{"index": 0, "delta": {"content": p}, "logprobs": tokens_of(&p), "finish_reason": null}]})
                        )
                    })
                    .collect();
                // Some local servers end a stream without a chunk naming the finish.
                if model != "no-finish" {
                    events.push(format!(
                        "data: {}\n\n",
                        json!({"id": "c", "object": "chat.completion.chunk", "model": model,
                            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                    ));
                }
                events.push("data: [DONE]\n\n".to_owned());
                return sse_paced(events, pace_of(by));
            }
            full(
                200,
                &json!({"id": "c", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": tokens_of(&text), "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}),
            )
        }
    }
}

pub(crate) async fn start() -> Upstream {
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let server =
        sentinel_testkit::spawn_with_head(move |head: http::request::Parts, body: Bytes| {
            let s = s.clone();
            async move {
                let path = head.uri.path().to_owned();
                // A request on a stored response (or a file, or a batch) is seen as its
                // method, path and query.
                let stored = path.starts_with("/v1/responses/");
                let kept = path.starts_with("/v1/files")
                    || path.starts_with("/v1/batches")
                    || path.starts_with("/v1/conversations")
                    || path.starts_with("/v1/messages/batches");
                let filed = kept
                    && !(head.method == http::Method::POST
                        && [
                            "/v1/files",
                            "/v1/batches",
                            "/v1/conversations",
                            "/v1/messages/batches",
                        ]
                        .contains(&path.as_str()));
                let listed =
                    path.starts_with("/v1/fine_tuning") || path.starts_with("/v1/containers");
                let seen_as = if stored || filed || listed {
                    format!("{} {}", head.method, head.uri)
                } else {
                    path.clone()
                };
                s.bodies.lock().expect("lock").push((seen_as, body.clone()));
                s.calls.fetch_add(1, Ordering::SeqCst);
                let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                s.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let r = if stored {
                    stored_response(&head.method, &path, head.uri.query())
                } else if path == "/v1/vector_stores/vs_files/search" {
                    file_search(&s)
                } else if [
                    "/v1/vector_stores",
                    "/v1/fine_tuning",
                    "/v1/threads",
                    "/v1/containers",
                ]
                .iter()
                .any(|p| path.starts_with(p))
                {
                    elsewhere(&head, &body)
                } else if path.starts_with("/v1/messages/batches") {
                    message_batches(&s, &head, &body).await
                } else if path.starts_with("/v1/conversations")
                    || (path == "/v1/responses" && names_conversation(&body))
                {
                    conversations(&s, &head, &body)
                } else if kept {
                    files_and_batches(&s, &head, body).await
                } else {
                    handle(path, body).await
                };
                s.in_flight.fetch_sub(1, Ordering::SeqCst);
                r
            }
        })
        .await;
    Upstream { server, seen }
}

/// The Files and Batches APIs: uploads kept in memory; a batch runs at once, each line's
/// body answered as the chat route answers it, into an output file.
async fn files_and_batches(
    seen: &Seen,
    head: &http::request::Parts,
    body: Bytes,
) -> hyper::Response<Body> {
    let path = head.uri.path();
    let file_json = |id: &str, name: &str, data: &Bytes| {
        json!({"id": id, "object": "file", "bytes": data.len(), "filename": name,
            "purpose": "batch", "created_at": 1})
    };
    let file = |id: &str| {
        let files = seen.files.lock().expect("lock");
        files.iter().find(|(i, _, _)| i == id).cloned()
    };
    match (
        head.method.as_str(),
        path.split('/').skip(2).collect::<Vec<_>>().as_slice(),
    ) {
        ("POST", ["files"]) => {
            let content_type = head
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let boundary = multer::parse_boundary(content_type).expect("a form");
            let source =
                futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
            let mut form = multer::Multipart::new(source, boundary);
            let mut upload = None;
            while let Some(field) = form.next_field().await.expect("a well-formed form") {
                if field.name() == Some("file") {
                    let name = field.file_name().unwrap_or_default().to_owned();
                    upload = Some((name, field.bytes().await.expect("the file")));
                }
            }
            let (name, data) = upload.expect("a file");
            let mut files = seen.files.lock().expect("lock");
            let id = format!("file-{}", files.len() + 1);
            let answer = file_json(&id, &name, &data);
            files.push((id, name, data));
            full(200, &answer)
        }
        ("GET", ["files"]) => {
            let files = seen.files.lock().expect("lock");
            let data: Vec<Value> = files.iter().map(|(i, n, d)| file_json(i, n, d)).collect();
            full(
                200,
                &json!({"object": "list", "data": data, "has_more": false}),
            )
        }
        ("GET", ["files", id]) => match file(id) {
            Some((i, n, d)) => full(200, &file_json(&i, &n, &d)),
            None => full(404, &json!({"error": {"message": "no such file"}})),
        },
        ("DELETE", ["files", id]) => {
            full(200, &json!({"id": id, "object": "file", "deleted": true}))
        }
        ("GET", ["files", id, "content"]) => match file(id) {
            Some((_, _, data)) => {
                let mut r =
                    hyper::Response::new(Full::new(data).map_err(|never| match never {}).boxed());
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    "application/octet-stream".parse().expect("ct"),
                );
                r
            }
            None => full(404, &json!({"error": {"message": "no such file"}})),
        },
        ("POST", ["batches"]) => {
            let v: Value = serde_json::from_slice(&body).expect("json");
            let input = v["input_file_id"].as_str().unwrap_or_default();
            let Some((_, _, data)) = file(input) else {
                return full(400, &json!({"error": {"message": "no such input file"}}));
            };
            let mut out = String::new();
            for (i, line) in String::from_utf8_lossy(&data).lines().enumerate() {
                let line: Value = serde_json::from_str(line).expect("a JSONL line");
                let answer = handle(
                    line["url"].as_str().unwrap_or_default().to_owned(),
                    Bytes::from(line["body"].to_string()),
                )
                .await;
                let answer = answer.into_body().collect().await.expect("body").to_bytes();
                let answer: Value = serde_json::from_slice(&answer).expect("json");
                out.push_str(&json!({"id": format!("batch_req_{i}"), "custom_id": line["custom_id"],
                    "response": {"status_code": 200, "request_id": "r", "body": answer}, "error": null})
                .to_string());
                out.push('\n');
            }
            let output_id = {
                let mut files = seen.files.lock().expect("lock");
                let id = format!("file-{}", files.len() + 1);
                files.push((
                    id.clone(),
                    "batch_output.jsonl".to_owned(),
                    Bytes::from(out),
                ));
                id
            };
            let mut batches = seen.batches.lock().expect("lock");
            let id = format!("batch_{}", batches.len() + 1);
            let batch = json!({"id": id, "object": "batch", "endpoint": v["endpoint"],
                "input_file_id": input, "status": "validating", "output_file_id": null,
                "error_file_id": null, "metadata": v["metadata"],
                "errors": {"object": "list", "data": [{"code": "invalid", "line": 9,
                    "message": "Line 9 holds SSN 536-22-1234"}]}});
            let mut done = batch.clone();
            done["status"] = json!("completed");
            done["output_file_id"] = json!(output_id);
            batches.push(done);
            full(200, &batch)
        }
        ("GET", ["batches"]) => {
            let batches = seen.batches.lock().expect("lock");
            full(
                200,
                &json!({"object": "list", "data": *batches, "has_more": false}),
            )
        }
        (method, ["batches", id, rest @ ..]) if method == "GET" || rest == ["cancel"] => {
            let batches = seen.batches.lock().expect("lock");
            match batches.iter().find(|b| b["id"] == *id) {
                Some(b) => full(200, b),
                None => full(404, &json!({"error": {"message": "no such batch"}})),
            }
        }
        _ => full(404, &json!({"error": {"message": "no such route"}})),
    }
}

/// Whether a Responses API request names a conversation.
fn names_conversation(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| v["conversation"].is_string())
}

/// The Conversations API, kept in memory; a Responses API request on a conversation is
/// answered with the text of the conversation's first item.
fn conversations(seen: &Seen, head: &http::request::Parts, body: &[u8]) -> hyper::Response<Body> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut all = seen.conversations.lock().expect("lock");
    let with_ids = |items: &Value, from: usize| -> Vec<Value> {
        items
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, item)| {
                let mut item = item.clone();
                item["id"] = json!(format!("msg_{}", from + i + 1));
                item["type"] = json!("message");
                item
            })
            .collect()
    };
    let list = |items: &[Value]| {
        json!({"object": "list", "data": items, "has_more": false,
        "first_id": items.first().map(|i| i["id"].clone()), "last_id": items.last().map(|i| i["id"].clone())})
    };
    let path = head.uri.path();
    if path == "/v1/responses" {
        let id = v["conversation"].as_str().unwrap_or_default();
        let Some((_, items)) = all.iter().find(|(c, _)| c["id"] == id) else {
            return full(404, &json!({"error": {"message": "no such conversation"}}));
        };
        let first = items[0]["content"][0]["text"].as_str().unwrap_or_default();
        return full(
            200,
            &json!({"id": "resp_c", "object": "response", "status": "completed",
            "output": [{"type": "message", "id": "msg_r", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": format!("Earlier you said: {first}"), "annotations": []}]}]}),
        );
    }
    let segments: Vec<&str> = path.split('/').skip(3).collect();
    match (head.method.as_str(), segments.as_slice()) {
        ("POST", []) => {
            let id = format!("conv_{}", all.len() + 1);
            let conversation = json!({"id": id, "object": "conversation", "created_at": 1,
                "metadata": v["metadata"]});
            all.push((conversation.clone(), with_ids(&v["items"], 0)));
            full(200, &conversation)
        }
        (method, [id, rest @ ..]) => {
            let Some((conversation, items)) = all.iter_mut().find(|(c, _)| c["id"] == *id) else {
                return full(404, &json!({"error": {"message": "no such conversation"}}));
            };
            match (method, rest) {
                ("GET", []) => full(200, conversation),
                ("POST", []) => {
                    conversation["metadata"] = v["metadata"].clone();
                    full(200, conversation)
                }
                ("DELETE", []) => full(
                    200,
                    &json!({"id": id, "object": "conversation.deleted", "deleted": true}),
                ),
                ("GET", ["items"]) => full(200, &list(items)),
                ("POST", ["items"]) => {
                    let added = with_ids(&v["items"], items.len());
                    items.extend(added.iter().cloned());
                    full(200, &list(&added))
                }
                ("GET", ["items", item]) => match items.iter().find(|i| i["id"] == *item) {
                    Some(i) => full(200, i),
                    None => full(404, &json!({"error": {"message": "no such item"}})),
                },
                ("DELETE", ["items", item]) => {
                    items.retain(|i| i["id"] != *item);
                    full(200, conversation)
                }
                _ => full(404, &json!({"error": {"message": "no such route"}})),
            }
        }
        _ => full(404, &json!({"error": {"message": "no such route"}})),
    }
}

/// Anthropic's Message Batches API: a batch ends when it is read back, its results each
/// request's answer from the messages route.
async fn message_batches(
    seen: &Seen,
    head: &http::request::Parts,
    body: &[u8],
) -> hyper::Response<Body> {
    let batch = |id: &str, ended: bool| {
        json!({"id": id, "type": "message_batch",
            "processing_status": if ended { "ended" } else { "in_progress" },
            "request_counts": {"processing": 0, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0},
            "results_url": if ended {
                json!(format!("https://api.anthropic.com/v1/messages/batches/{id}/results"))
            } else {
                Value::Null
            },
            "created_at": "2026-12-06T00:00:00Z", "expires_at": "2026-12-07T00:00:00Z"})
    };
    let segments: Vec<&str> = head.uri.path().split('/').skip(4).collect();
    match (head.method.as_str(), segments.as_slice()) {
        ("POST", []) => {
            let v: Value = serde_json::from_slice(body).expect("json");
            let mut all = seen.message_batches.lock().expect("lock");
            all.push(v["requests"].as_array().cloned().unwrap_or_default());
            full(200, &batch(&format!("msgbatch_{}", all.len()), false))
        }
        ("GET", []) => {
            let n = seen.message_batches.lock().expect("lock").len();
            let data: Vec<Value> = (1..=n)
                .map(|i| batch(&format!("msgbatch_{i}"), true))
                .collect();
            full(200, &json!({"data": data, "has_more": false}))
        }
        ("GET", [id]) | ("POST", [id, "cancel"]) => full(200, &batch(id, true)),
        ("DELETE", [id]) => full(200, &json!({"id": id, "type": "message_batch_deleted"})),
        ("GET", [id, "results"]) => {
            let requests = {
                let all = seen.message_batches.lock().expect("lock");
                let i: usize = id.trim_start_matches("msgbatch_").parse().unwrap_or(0);
                all.get(i.wrapping_sub(1)).cloned().unwrap_or_default()
            };
            let mut out = String::new();
            for r in requests {
                let answer = handle(
                    "/v1/messages".to_owned(),
                    Bytes::from(r["params"].to_string()),
                )
                .await;
                let answer = answer.into_body().collect().await.expect("body").to_bytes();
                let message: Value = serde_json::from_slice(&answer).expect("json");
                out.push_str(
                    &json!({"custom_id": r["custom_id"],
                    "result": {"type": "succeeded", "message": message}})
                    .to_string(),
                );
                out.push('\n');
            }
            out.push_str(
                &json!({"custom_id": "failed", "result": {"type": "errored",
                "error": {"type": "error", "error": {"type": "invalid_request_error",
                    "message": "SSN 536-22-1234 is not accepted"}}}})
                .to_string(),
            );
            out.push('\n');
            let mut r = hyper::Response::new(
                Full::new(Bytes::from(out))
                    .map_err(|never| match never {})
                    .boxed(),
            );
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                "application/binary".parse().expect("ct"),
            );
            r
        }
        _ => full(404, &json!({"error": {"message": "no such route"}})),
    }
}

/// Routes the gateway has no walker for, with values of their own in their answers: a
/// vector store search, fine-tuning jobs, a streamed run, a container's file.
/// A vector store holding every uploaded file: a search finds each, quoting its content
/// as the provider holds it (pseudonyms and all).
fn file_search(seen: &Seen) -> hyper::Response<Body> {
    let files = seen.files.lock().expect("lock");
    let data: Vec<Value> = files
        .iter()
        .map(|(id, name, content)| {
            json!({"file_id": id, "filename": name, "score": 0.5,
                "content": [{"type": "text", "text": String::from_utf8_lossy(content)}]})
        })
        .collect();
    full(
        200,
        &json!({"object": "vector_store.search_results.page", "has_more": false, "data": data}),
    )
}

fn elsewhere(head: &http::request::Parts, body: &[u8]) -> hyper::Response<Body> {
    let path = head.uri.path();
    match (head.method.as_str(), path) {
        ("POST", "/v1/vector_stores/vs_1/search") => {
            let v: Value = serde_json::from_slice(body).expect("json");
            full(
                200,
                &json!({"object": "vector_store.search_results.page",
                "search_query": [v["query"]], "has_more": false,
                "data": [{"file_id": "file-1", "filename": "notes.txt", "score": 0.9,
                    "attributes": {"owner": "bob@example.org"},
                    "content": [{"type": "text", "text": "The SSN on file is 536-22-1234."}]}]}),
            )
        }
        ("GET", "/v1/fine_tuning/jobs") => full(
            200,
            &json!({"object": "list", "has_more": false,
            "data": [{"id": "ftjob-1", "object": "fine_tuning.job", "status": "failed",
                "error": {"message": "Line 3 names jane.doe@example.com", "code": "invalid"}}]}),
        ),
        ("POST", "/v1/fine_tuning/jobs/ftjob-1/cancel") if body.is_empty() => full(
            200,
            &json!({"id": "ftjob-1", "object": "fine_tuning.job", "status": "cancelled"}),
        ),
        ("POST", "/v1/threads/runs") => {
            let events = ["The SSN ", "on file is 536-22-1234.", "Done."]
                .iter()
                .map(|t| format!("event: thread.message.delta\ndata: {}\n\n",
                    json!({"object": "thread.message.delta", "delta": {"content": [{"type": "text", "text": {"value": t}}]}})))
                .chain(std::iter::once("event: done\ndata: [DONE]\n\n".to_owned()))
                .collect();
            sse(events)
        }
        ("POST", "/v1/containers/cntr_1/files") => full(
            200,
            &json!({"id": "cfile_1",
            "object": "container.file", "path": "/mnt/data/notes.csv", "source": "user"}),
        ),
        ("GET", "/v1/containers/cntr_1/files/f_1/content") => {
            let mut r = hyper::Response::new(
                Full::new(Bytes::from_static(b"\x89PNG 536-22-1234"))
                    .map_err(|never| match never {})
                    .boxed(),
            );
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                "image/png".parse().expect("ct"),
            );
            r
        }
        _ => full(404, &json!({"error": {"message": "no such route"}})),
    }
}
