use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sentinel_client::{
    CallOptions, ClientError, MicroBatchConfig, Page, PipelineRequest, Route, SentinelClient,
    SentinelConfig,
};
use sentinel_transport::wire::{anthropic, openai};
use sentinel_transport::Priority;
use serde_json::{json, Value};

use crate::upstream::{start, Upstream};

const KEY_VAR: &str = "SENTINEL_CLIENT_TEST_PSEUDONYM_KEY";

pub(crate) fn config(up: &Upstream, extra: &str) -> SentinelConfig {
    std::env::set_var(KEY_VAR, "client test key");
    SentinelConfig::from_toml(
        "test.toml",
        &format!(
            "[network]\nupstream = \"{}/v1\"\napi_key_env = \"SENTINEL_CLIENT_TEST_NO_KEY\"\ntimeout_ms = 5000\nmax_retries = 1\n{extra}",
            up.url()
        ),
    )
    .expect("config")
}

pub(crate) fn client(up: &Upstream, extra: &str) -> SentinelClient {
    SentinelClient::new(&config(up, extra)).expect("client")
}

/// A client with the default policy that audits into `dir`, every record synced.
pub(crate) fn audited_client(up: &Upstream, dir: &std::path::Path) -> SentinelClient {
    client(
        up,
        &format!("[audit]\ndir = \"{}\"\nsync = \"always\"\n", dir.display()),
    )
}

/// A client with the policy file `policy`, written into a fresh directory, and with
/// `audited` an audit log in its `audit` folder, every record synced.
fn policy_client(
    up: &Upstream,
    policy: &str,
    audited: bool,
) -> (SentinelClient, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, policy).expect("write");
    let mut extra = format!("[policy]\nfile = \"{}\"\n", path.display());
    if audited {
        let audit = dir.path().join("audit");
        extra.push_str(&format!(
            "[audit]\ndir = \"{}\"\nsync = \"always\"\n",
            audit.display()
        ));
    }
    (client(up, &extra), dir)
}

fn chat(model: &str, text: &str) -> openai::ChatCompletionRequest {
    serde_json::from_value(json!({"model": model, "messages": [{"role": "user", "content": text}]}))
        .expect("request")
}

fn content(r: &openai::ChatCompletionResponse) -> String {
    match &r.choices[0].message.content {
        sentinel_transport::wire::Content::Text(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

fn sent_text(up: &Upstream, path: &str) -> String {
    let body: Value =
        serde_json::from_slice(&up.seen.last(path).expect("a request")).expect("json");
    body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn clean_requests_go_upstream_byte_for_byte() {
    let up = start().await;
    let c = client(&up, "");
    let raw = br#"{ "model":"echo",  "messages":[{"role":"user","content":"What is the capital of France?"}], "temperature":0.2 }"#;
    let r = c
        .pipeline()
        .handle(PipelineRequest::new(Route::ChatCompletions, "t", &raw[..]))
        .await
        .expect("answer");
    assert!(r.forwarded_unchanged);
    assert_eq!(
        &up.seen.last("/v1/chat/completions").expect("sent")[..],
        &raw[..]
    );
    let answer = c
        .chat()
        .completions()
        .create(chat("echo", "hello there"))
        .await
        .expect("answer");
    assert_eq!(content(&answer), "hello there");
}

#[tokio::test]
async fn the_strict_default_redacts_and_blocks_and_audits_without_values() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    let answer = c
        .chat()
        .completions()
        .create(chat(
            "echo",
            "mail jane.doe@example.com and jane.doe@example.com",
        ))
        .await
        .expect("answer");
    assert_eq!(
        sent_text(&up, "/v1/chat/completions"),
        "mail <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_1>"
    );
    // Strict restores nothing, and redacts answers too.
    assert_eq!(
        content(&answer),
        "mail <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_1>"
    );

    let calls = up.seen.calls.load(Ordering::SeqCst);
    let err = c
        .chat()
        .completions()
        .create(chat("echo", "use key AKIAIOSFODNN7EXAMPLE"))
        .await
        .expect_err("blocked");
    match &err {
        ClientError::Blocked { direction, reasons } => {
            assert_eq!(*direction, "request");
            assert_eq!(reasons[0].entity, "AWS_ACCESS_KEY");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.to_string().contains("AKIA"));
    assert_eq!(
        up.seen.calls.load(Ordering::SeqCst),
        calls,
        "a blocked request never leaves"
    );

    drop(c);
    let log = audit_log(dir.path());
    assert!(
        log.contains("\"EMAIL_ADDRESS\":2") && log.contains("\"AWS_ACCESS_KEY\":1"),
        "{log}"
    );
    assert!(!log.contains("jane.doe") && !log.contains("AKIAIOSFODNN7EXAMPLE"));
    // The request's two equal addresses share one keyed fingerprint, `hmac:` + 16 hex digits.
    let request = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .find(|r| r["event"]["entities"]["EMAIL_ADDRESS"] == 2)
        .expect("the request's record");
    let prints = request["event"]["fingerprints"]
        .as_array()
        .expect("fingerprints")
        .iter()
        .map(|f| f.as_str().expect("a string"))
        .collect::<Vec<_>>();
    assert_eq!(prints.len(), 2, "{request}");
    assert_eq!(prints[0], prints[1]);
    let digits = prints[0].strip_prefix("hmac:").expect("hmac: prefix");
    assert!(digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_hexdigit()));
}

pub(crate) use sentinel_testkit::audit_log;

/// The request records of an audit directory: per record, the entity counts and the
/// fingerprints.
fn request_records(dir: &std::path::Path) -> Vec<(Value, Vec<String>)> {
    audit_log(dir)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .filter(|r| r["event"]["direction"] == "request")
        .map(|r| {
            let prints = r["event"]["fingerprints"]
                .as_array()
                .expect("fingerprints")
                .iter()
                .map(|f| f.as_str().expect("a string").to_owned())
                .collect();
            (r["event"]["entities"].clone(), prints)
        })
        .collect()
}

#[tokio::test]
async fn a_repeated_prompt_is_audited_with_the_fingerprints_of_its_first_time() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    // Long enough for the detection cache, so repeats share its entry (and the
    // fingerprints kept beside it).
    let long = "Please forward the quarterly summary to jane.doe@example.com, and copy \
                ops-team@example.org and jane.doe@example.com on the reply.";
    for _ in 0..3 {
        c.chat()
            .completions()
            .create(chat("echo", long))
            .await
            .expect("answer");
    }
    // Another text with one of the values: scanned afresh, fingerprinted afresh.
    c.chat()
        .completions()
        .create(chat("echo", "write to ops-team@example.org"))
        .await
        .expect("answer");
    drop(c);
    let records = request_records(dir.path());
    assert_eq!(records.len(), 4, "{records:?}");
    for (entities, prints) in &records[..3] {
        assert_eq!(entities, &json!({"EMAIL_ADDRESS": 3}));
        assert_eq!(prints, &records[0].1);
    }
    let first = &records[0].1;
    assert_eq!(first.len(), 3);
    assert_eq!(first[0], first[2], "equal values, equal fingerprints");
    assert_ne!(first[0], first[1]);
    assert_eq!(records[3].1, vec![first[1].clone()]);
}

/// A value written with escapes in a tool call's arguments (`jane\u0040example.com`, a
/// private key's lines joined by `\n`) is decided as what it stands for: hashed and
/// fingerprinted as the same value in prose is, and masked with its line breaks escaped
/// again, so the arguments stay JSON (a mask of the text as written turned `\n` into the
/// invalid escape `\*`).
#[tokio::test]
async fn escaped_values_in_tool_arguments_are_decided_as_what_they_stand_for() {
    let up = start().await;
    let (c, dir) = policy_client(
        &up,
        "version = \"1\"\nhash_key_env = \"SENTINEL_CLIENT_TEST_PSEUDONYM_KEY\"\n\
         [[rule]]\nentities = [\"EMAIL_ADDRESS\"]\naction = \"hash\"\n\
         [[rule]]\nentities = [\"PRIVATE_KEY\"]\naction = \"mask\"\nkeep_last = 4\n",
        true,
    );
    let key = sentinel_detect::testgen::private_key(&mut sentinel_detect::testgen::Rng::new(7));
    let arguments = json!({"to": "jane@example.com", "key": key})
        .to_string()
        .replace('@', "\\u0040");
    assert!(arguments.contains(r"jane\u0040example.com") && arguments.contains(r"-----\n"));
    let req: openai::ChatCompletionRequest = serde_json::from_value(json!({
        "model": "echo",
        "messages": [
            {"role": "user", "content": "mail jane@example.com"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
                "type": "function", "function": {"name": "send", "arguments": arguments}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sent"}
        ]
    }))
    .expect("request");
    c.chat().completions().create(req).await.expect("answer");
    let sent: Value =
        serde_json::from_slice(&up.seen.last("/v1/chat/completions").expect("sent")).expect("json");
    let prose = sent["messages"][0]["content"].as_str().expect("content");
    let hashed = prose.strip_prefix("mail ").expect("the prose");
    assert!(hashed.starts_with("<EMAIL_ADDRESS:"), "{prose}");
    let went = sent["messages"][1]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .expect("arguments");
    let went: Value = serde_json::from_str(went)
        .unwrap_or_else(|e| panic!("the arguments are still JSON ({e}): {went}"));
    assert_eq!(
        went["to"], hashed,
        "the escaped address hashes as the plain one"
    );
    let masked = went["key"].as_str().expect("the key");
    assert_eq!(masked.lines().count(), key.lines().count(), "{masked}");
    let alnum = |t: &str| {
        t.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    };
    let was = alnum(&key);
    // Every letter and digit masked but the last four; the dashes and line breaks kept.
    assert_eq!(alnum(masked), was[was.len() - 4..], "{masked}");
    assert_eq!(masked.matches('*').count(), was.len() - 4);
    assert!(masked.starts_with("-----") && masked.ends_with("-----"));
    assert!(key.lines().skip(1).all(|l| !masked.contains(l)), "{masked}");

    drop(c);
    let records = request_records(&dir.path().join("audit"));
    let (entities, prints) = &records[0];
    assert_eq!(entities, &json!({"EMAIL_ADDRESS": 2, "PRIVATE_KEY": 1}));
    assert_eq!(prints.len(), 3, "{prints:?}");
    // The prose's address first; the arguments' after it, in either order.
    let same = prints.iter().filter(|p| **p == prints[0]).count();
    assert_eq!(
        same, 2,
        "one address, one fingerprint, escaped or not: {prints:?}"
    );
}

/// Values written as a URL's query writes them (percent escapes) or as a page hides them
/// (character references) are found, the span as written is replaced, and they are
/// numbered as what they read as: one address is one number however it is written.
#[tokio::test]
async fn percent_encoded_and_referenced_values_are_decided_as_what_they_read_as() {
    let up = start().await;
    let (c, dir) = policy_client(
        &up,
        "version = \"1\"\n[[rule]]\nentities = [\"EMAIL_ADDRESS\", \"PHONE_NUMBER\"]\n\
         action = \"redact\"\n",
        true,
    );
    let prompt =
        "Why does GET /v1/users?email=jane.doe%40example.com&tel=%2B44%2020%207946%200958 \
                  fail? The page shows <a>jane.doe&#64;example&period;com</a>, not \
                  ops@example.com.";
    c.chat()
        .completions()
        .create(chat("echo", prompt))
        .await
        .expect("answer");
    assert_eq!(
        sent_text(&up, "/v1/chat/completions"),
        "Why does GET /v1/users?email=<EMAIL_ADDRESS_1>&tel=<PHONE_NUMBER_1> fail? The page \
         shows <a><EMAIL_ADDRESS_1></a>, not <EMAIL_ADDRESS_2>."
    );
    drop(c);
    // One fingerprint for one address, in the audit log too.
    let records = request_records(&dir.path().join("audit"));
    let (entities, prints) = &records[0];
    assert_eq!(entities, &json!({"EMAIL_ADDRESS": 3, "PHONE_NUMBER": 1}));
    assert_eq!(prints.len(), 4, "{prints:?}");
    assert_eq!(prints[0], prints[2], "{prints:?}");
    assert!(
        prints[3] != prints[0] && prints[1] != prints[0],
        "{prints:?}"
    );
}

#[tokio::test]
async fn identifiers_metadata_and_tool_definitions_are_scanned() {
    let up = start().await;
    let c = client(&up, "");
    let mail = "jane.doe@example.com";
    let requests = [
        (
            Route::ChatCompletions,
            json!({"model": "echo", "user": mail, "safety_identifier": mail,
                "metadata": {"customer": mail},
                "tools": [{"type": "function", "function": {"name": "notify",
                    "description": format!("Mails {mail}"),
                    "parameters": {"type": "object", "properties": {"to": {"type": "string", "enum": [mail]}}}}}],
                "messages": [{"role": "user", "content": "hello"}]}),
        ),
        (
            Route::Responses,
            json!({"model": "m", "input": "hello", "user": mail,
                "tools": [{"type": "function", "name": "notify", "description": format!("Mails {mail}"),
                    "parameters": {"type": "object"}}]}),
        ),
        (
            Route::Messages,
            json!({"model": "m", "max_tokens": 9, "metadata": {"user_id": mail},
                "tools": [{"name": "notify", "description": "d",
                    "input_schema": {"type": "object", "properties": {"to": {"type": "string", "default": mail}}}}],
                "messages": [{"role": "user", "content": "hello"}]}),
        ),
        (
            Route::Embeddings,
            json!({"model": "m", "input": "hello", "user": mail}),
        ),
    ];
    for (route, body) in requests {
        answer(&c, route, &body).await;
        let sent = String::from_utf8_lossy(
            &up.seen
                .last(&format!("/v1{}", route.upstream_path()))
                .expect("sent"),
        )
        .into_owned();
        assert!(!sent.contains("jane.doe"), "{route:?}: {sent}");
        assert!(sent.contains("<EMAIL_ADDRESS_1>"), "{route:?}: {sent}");
    }
}

#[tokio::test]
async fn segments_holding_any_character_are_numbered_per_request() {
    // Several segments are decided as one text joined by a private-use character none of
    // them holds, so numbering is per request whatever they contain (a NUL, the first
    // candidate separator).
    let up = start().await;
    let c = client(&up, "");
    let two = json!({"model": "echo", "messages": [
        {"role": "system", "content": "a\u{0}\u{E000}b jane@example.com"},
        {"role": "user", "content": "c\u{0}d bob@example.com and jane@example.com"}]});
    answer(&c, Route::ChatCompletions, &two).await;
    let sent: Value =
        serde_json::from_slice(&up.seen.last("/v1/chat/completions").expect("sent")).expect("json");
    assert_eq!(
        sent["messages"][0]["content"],
        "a\u{0}\u{E000}b <EMAIL_ADDRESS_1>"
    );
    assert_eq!(
        sent["messages"][1]["content"],
        "c\u{0}d <EMAIL_ADDRESS_2> and <EMAIL_ADDRESS_1>"
    );

    let one = json!({"model": "echo", "messages": [
        {"role": "user", "content": "x\u{0}y jane@example.com and bob@example.com"}]});
    answer(&c, Route::ChatCompletions, &one).await;
    assert_eq!(
        sent_text(&up, "/v1/chat/completions"),
        "x\u{0}y <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    );
}

#[tokio::test]
async fn segments_that_cannot_be_joined_are_still_numbered_and_shadowed_per_request() {
    // The system message holds every candidate separator, so each segment is decided on
    // its own: a value keeps its number across them, a new one takes the next, and the
    // shadow policy's strongest decision is recorded.
    let up = start().await;
    let (c, dir) = policy_client(
        &up,
        "version = \"1\"\n[[rule]]\nentities = [\"EMAIL_ADDRESS\"]\naction = \"redact\"\n\
         [shadow]\nextends = \"strict\"\n\
         [[shadow.rule]]\nentities = [\"EMAIL_ADDRESS\"]\naction = \"block\"\n",
        true,
    );
    let audit = dir.path().join("audit");
    let every: String = (0xE000..0xE100u32).filter_map(char::from_u32).collect();
    let two = json!({"model": "echo", "messages": [
        {"role": "system", "content": format!("{every} jane@example.com")},
        {"role": "user", "content": "bob@example.com and jane@example.com"}]});
    answer(&c, Route::ChatCompletions, &two).await;
    let sent: Value =
        serde_json::from_slice(&up.seen.last("/v1/chat/completions").expect("sent")).expect("json");
    assert_eq!(
        sent["messages"][0]["content"],
        format!("{every} <EMAIL_ADDRESS_1>")
    );
    assert_eq!(
        sent["messages"][1]["content"],
        "<EMAIL_ADDRESS_2> and <EMAIL_ADDRESS_1>"
    );
    let request = audit_log(&audit)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .find(|r| r["event"]["direction"] == "request")
        .expect("a request record");
    assert_eq!(request["event"]["decision"], "transform");
    assert_eq!(request["event"]["shadow_decision"], "block");
}

#[tokio::test]
async fn a_mask_that_writes_the_separator_still_transforms_every_segment() {
    // The mask character is the separator the join picks; the joined decision cannot be
    // split back, so each segment is decided on its own, never sent unchanged.
    let up = start().await;
    let (c, _dir) = policy_client(
        &up,
        "version = \"1\"\n[[rule]]\nentities = [\"EMAIL_ADDRESS\"]\naction = \"mask\"\nmask_char = \"\u{E000}\"\n",
        false,
    );
    let two = json!({"model": "echo", "messages": [
        {"role": "system", "content": "to jane@example.com"},
        {"role": "user", "content": "to bob@example.com"}]});
    answer(&c, Route::ChatCompletions, &two).await;
    let sent: Value =
        serde_json::from_slice(&up.seen.last("/v1/chat/completions").expect("sent")).expect("json");
    for i in 0..2 {
        let text = sent["messages"][i]["content"].as_str().expect("text");
        assert!(
            text.starts_with("to ") && text.contains('\u{E000}') && !text.contains("example"),
            "{text:?}"
        );
    }
}

#[tokio::test]
async fn a_streamed_answer_is_numbered_as_one_text() {
    // The two addresses are released in different pieces of the stream; each keeps one
    // number across them, as in a whole answer.
    let up = start().await;
    let c = client(&up, "");
    let messages = json!([{"role": "user", "content": "who do I write to?"}]);
    let mut texts = Vec::new();
    for stream in [false, true] {
        let body = json!({"model": "two-mails", "stream": stream, "messages": messages});
        let text = answer(&c, Route::ChatCompletions, &body).await;
        texts.push(if stream {
            streamed_content(&text)
        } else {
            let v: Value = serde_json::from_str(&text).expect("json");
            v["choices"][0]["message"]["content"]
                .as_str()
                .expect("content")
                .to_owned()
        });
    }
    assert!(
        texts[0].starts_with("Write to <EMAIL_ADDRESS_1>."),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].ends_with("Or to <EMAIL_ADDRESS_2>, or <EMAIL_ADDRESS_1> again."),
        "{}",
        texts[0]
    );
    assert_eq!(texts[1], texts[0]);
}

/// The whole answer body: a full body, or every streamed piece joined.
pub(crate) async fn body_of(r: sentinel_client::PipelineResponse) -> String {
    match r.body {
        sentinel_client::PipelineBody::Full(b) => String::from_utf8_lossy(&b).into_owned(),
        sentinel_client::PipelineBody::Stream(mut s) => {
            let mut out = Vec::new();
            while let Some(piece) = s.next().await {
                out.extend_from_slice(&piece.expect("piece"));
            }
            String::from_utf8_lossy(&out).into_owned()
        }
    }
}

/// The pipeline's response to `body` on `route`.
pub(crate) async fn respond(
    c: &SentinelClient,
    route: Route,
    body: &Value,
) -> sentinel_client::PipelineResponse {
    c.pipeline()
        .handle(PipelineRequest::new(
            route,
            "t",
            serde_json::to_vec(body).expect("json"),
        ))
        .await
        .expect("answer")
}

/// The pipeline's whole answer to `body` on `route`.
async fn answer(c: &SentinelClient, route: Route, body: &Value) -> String {
    body_of(respond(c, route, body).await).await
}

/// The `delta`s of the events of type `kind`, joined.
fn deltas(events: &[Value], kind: &str) -> String {
    events
        .iter()
        .filter(|e| e["type"] == kind)
        .filter_map(|e| e["delta"].as_str())
        .collect()
}

/// The `data:` payloads of an event stream that are JSON.
fn events_of(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

#[tokio::test]
async fn responses_api_answers_are_scanned_whole_and_streamed() {
    let up = start().await;
    let c = client(&up, "");
    // The upstream answers with values of its own.
    for stream in [false, true] {
        let body = json!({"model": "m", "input": "what is on file?", "stream": stream});
        let text = answer(&c, Route::Responses, &body).await;
        assert!(
            !text.contains("536-22-1234") && !text.contains("jane.doe"),
            "a value came back (stream {stream}): {text}"
        );
        if !stream {
            let v: Value = serde_json::from_str(&text).expect("json");
            assert_eq!(
                v["output"][1]["content"][0]["text"],
                "The SSN on file is <US_SSN_1>, mail <EMAIL_ADDRESS_1>."
            );
            assert!(v["output"][0]["summary"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("<US_SSN_1>")));
            continue;
        }
        // The deltas, joined, are the redacted text; what was held back at the end went
        // out as a delta before the `.done` event, which carries the redacted text whole.
        let events = events_of(&text);
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        let joined = deltas(&events, "response.output_text.delta");
        let done = kinds
            .iter()
            .position(|k| *k == "response.output_text.done")
            .expect("done");
        assert!(kinds[..done].iter().all(|k| *k != "response.completed"));
        assert_eq!(
            joined,
            "The SSN on file is <US_SSN_1>, mail <EMAIL_ADDRESS_1>."
        );
        assert_eq!(
            events[done]["text"],
            "The SSN on file is <US_SSN_1>, mail <EMAIL_ADDRESS_1>."
        );
        let completed = events.last().expect("completed");
        assert_eq!(completed["type"], "response.completed");
        assert!(completed["response"]["output"][1]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("<EMAIL_ADDRESS_1>")));
    }
}

#[tokio::test]
async fn a_streamed_custom_tool_input_is_scanned_in_deltas_and_whole() {
    let up = start().await;
    let c = client(&up, "");
    let body = json!({"model": "custom-tool", "input": "look it up", "stream": true});
    let text = answer(&c, Route::Responses, &body).await;
    assert!(
        !text.contains("536-22-1234") && !text.contains("jane.doe"),
        "{text}"
    );
    let events = events_of(&text);
    let redacted = "The SSN on file is <US_SSN_1>, mail <EMAIL_ADDRESS_1>.";
    let joined = deltas(&events, "response.custom_tool_call_input.delta");
    assert_eq!(joined, redacted);
    let done = events
        .iter()
        .find(|e| e["type"] == "response.custom_tool_call_input.done")
        .expect("done");
    assert_eq!(done["input"], redacted);
    let completed = events.last().expect("completed");
    assert_eq!(completed["response"]["output"][0]["input"], redacted);
}

#[tokio::test]
async fn a_blocked_responses_stream_ends_with_an_error_event() {
    let up = start().await;
    let c = client(&up, "");
    let body = json!({"model": "secret", "input": "what is my key?", "stream": true});
    let text = answer(&c, Route::Responses, &body).await;
    assert!(!text.contains("AKIA"), "{text}");
    assert!(text.contains("event: error\n"), "{text}");
    let last = events_of(&text).pop().expect("an event");
    assert_eq!(last["type"], "error");
    assert_eq!(last["code"], "response_blocked");
    assert!(last["message"]
        .as_str()
        .is_some_and(|m| m.contains("AWS_ACCESS_KEY")));
}

#[tokio::test]
async fn reasoning_refusals_and_thinking_are_scanned_whole_and_streamed() {
    let up = start().await;
    let c = client(&up, "");
    // The upstream answers "Sure, the SSN on file is 536-22-1234 as requested."
    let said = "what is on file?";
    let messages = json!([{"role": "user", "content": said}]);
    let whole = answer(
        &c,
        Route::ChatCompletions,
        &json!({"model": "reasoning", "messages": messages}),
    )
    .await;
    let v: Value = serde_json::from_str(&whole).expect("json");
    // A changed answer keeps everything around its texts.
    assert_eq!(
        (&v["id"], &v["object"], &v["model"]),
        (&json!("c"), &json!("chat.completion"), &json!("reasoning"))
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    for field in ["reasoning_content", "reasoning", "refusal"] {
        assert_eq!(
            v["choices"][0]["message"][field],
            "Sure, the SSN on file is <US_SSN_1> as requested."
        );
    }
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["custom"]["input"],
        "Sure, the SSN on file is <US_SSN_1> as requested."
    );
    let text = answer(
        &c,
        Route::ChatCompletions,
        &json!({"model": "reasoning-stream", "stream": true, "messages": messages}),
    )
    .await;
    assert!(!text.contains("536-22-1234"), "{text}");
    let thinking = answer(
        &c,
        Route::Messages,
        &json!({"model": "thinking", "stream": true, "max_tokens": 9, "messages": messages}),
    )
    .await;
    let thought: String = events_of(&thinking)
        .iter()
        .filter_map(|e| e["delta"]["thinking"].as_str())
        .collect();
    assert_eq!(thought, "The SSN on file is <US_SSN_1>.");
    let events = events_of(&text);
    for field in ["reasoning_content", "reasoning", "refusal"] {
        let joined: String = events
            .iter()
            .filter_map(|e| e["choices"][0]["delta"][field].as_str())
            .collect();
        assert_eq!(
            joined, "Sure, the SSN on file is <US_SSN_1> as requested.",
            "{field}"
        );
    }
    let input: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"][0]["custom"]["input"].as_str())
        .collect();
    assert_eq!(input, "Sure, the SSN on file is <US_SSN_1> as requested.");
    let spoken: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["audio"]["transcript"].as_str())
        .collect();
    assert_eq!(spoken, "Sure, the SSN on file is <US_SSN_1> as requested.");
    // The audio said the SSN: withheld (`audio_is_withheld_when_its_transcript_changed`).
    assert!(!events
        .iter()
        .any(|e| e["choices"][0]["delta"]["audio"].get("data").is_some()));
}

#[tokio::test]
async fn streamed_prose_goes_out_a_few_words_behind_the_model() {
    let up = start().await;
    let c = client(&up, "");
    // 150 bytes, under the 256-byte hold-back: it used to come out whole at the end.
    let said = "Thanks for asking, the weather here is lovely and the garden is in \
                full bloom. Write to jane.doe@example.com when you have a moment.";
    let body = json!({"model": "echo", "stream": true,
        "messages": [{"role": "user", "content": said}]});
    let events = events_of(&answer(&c, Route::ChatCompletions, &body).await);
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(
        texts.concat(),
        said.replace("jane.doe@example.com", "<EMAIL_ADDRESS_1>")
    );
    assert!(texts.len() >= 2, "{texts:?}");
    assert!(texts[0].starts_with("Thanks for asking"), "{texts:?}");
}

#[tokio::test]
async fn text_held_to_a_streams_end_comes_in_a_chunk_like_the_providers() {
    let up = start().await;
    let c = client(&up, "");
    // The stream ends without a chunk naming the finish: what is held goes out in a chunk
    // the pipeline writes, with the answer's id, object and model as the provider's have.
    let body = json!({"model": "no-finish", "stream": true,
        "messages": [{"role": "user", "content": "Mail jane@example.com today"}]});
    let text = answer(&c, Route::ChatCompletions, &body).await;
    let events = events_of(&text);
    let joined: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(joined, "Mail <EMAIL_ADDRESS_1> today");
    for e in &events {
        assert_eq!(
            (&e["id"], &e["object"], &e["model"]),
            (
                &json!("c"),
                &json!("chat.completion.chunk"),
                &json!("no-finish")
            ),
            "{e}"
        );
    }
}

#[tokio::test]
async fn citations_are_scanned_whole_and_streamed() {
    let up = start().await;
    let c = client(&up, "");
    for stream in [false, true] {
        let body = json!({"model": "cite", "max_tokens": 9, "stream": stream,
            "messages": [{"role": "user", "content": "what is on file?"}]});
        let text = answer(&c, Route::Messages, &body).await;
        assert!(!text.contains("536-22-1234"), "{text}");
        assert!(text.contains("SSN <US_SSN_1> on file"), "{text}");
    }
}

#[tokio::test]
async fn audio_is_withheld_when_its_transcript_changed() {
    let up = start().await;
    let c = client(&up, "");
    let ask = |text: &str, stream: bool| {
        json!({"model": "audio", "modalities": ["text", "audio"], "stream": stream,
            "messages": [{"role": "user", "content": text}]})
    };
    // Whole: a changed transcript empties the audio beside it; a clean one keeps it.
    let changed: Value =
        answer_json(&c, Route::ChatCompletions, &ask("what is the SSN?", false)).await;
    let audio = &changed["choices"][0]["message"]["audio"];
    assert_eq!(audio["transcript"], "The SSN on file is <US_SSN_1>.");
    assert_eq!(audio["data"], "");
    let clean: Value = answer_json(&c, Route::ChatCompletions, &ask("hello there", false)).await;
    assert_eq!(clean["choices"][0]["message"]["audio"]["data"], "UklGRg==");

    // Streamed: the audio chunks are held until the choice ends, then go out before the
    // finishing chunk if nothing was changed, and not at all if something was.
    let data = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["audio"]["data"].as_str())
            .map(str::to_owned)
            .collect()
    };
    let events =
        events_of(&answer(&c, Route::ChatCompletions, &ask("what is the SSN?", true)).await);
    assert!(data(&events).is_empty(), "{events:?}");
    let transcript: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["audio"]["transcript"].as_str())
        .collect();
    assert_eq!(transcript, "The SSN on file is <US_SSN_1>.");
    let events = events_of(&answer(&c, Route::ChatCompletions, &ask("hello there", true)).await);
    assert_eq!(data(&events), ["AAA0", "AAA1", "AAA2", "AAA3"]);
    // Released when the choice ends: right before its finishing chunk (which carries what
    // the transcript still held).
    let finish = events
        .iter()
        .position(|e| e["choices"][0]["finish_reason"] == "stop")
        .expect("finish");
    let at: Vec<usize> = (0..events.len())
        .filter(|&i| events[i]["choices"][0]["delta"]["audio"]["data"].is_string())
        .collect();
    assert_eq!(at, (finish - 4..finish).collect::<Vec<_>>());
}

const PSEUDO_POLICY: &str = r#"version = "1"
pseudonym_key_env = "SENTINEL_CLIENT_TEST_PSEUDONYM_KEY"
[[rule]]
groups = ["pii", "pci"]
action = "pseudonymize"
direction = "request"
"#;

/// A client whose policy pseudonymizes requests' PII and redacts SSNs in answers, audited
/// into the returned directory: what a stored thing read back later shows (a pseudonym
/// restored, the answer's own SSN redacted).
fn restoring_client(up: &Upstream) -> (SentinelClient, tempfile::TempDir) {
    policy_client(
        up,
        &format!(
            "{PSEUDO_POLICY}[[rule]]\nentities = [\"US_SSN\"]\naction = \"redact\"\ndirection = \"response\"\n"
        ),
        true,
    )
}

/// A client that pseudonymizes PII and card numbers both ways (no `direction`): an
/// answer's restored values are the caller's own and come back as they were sent.
fn pseudo_client(up: &Upstream) -> (SentinelClient, tempfile::TempDir) {
    policy_client(
        up,
        &PSEUDO_POLICY.replace("direction = \"request\"\n", ""),
        false,
    )
}

const PROMPT: &str =
    "Refund card 4111 1111 1111 1111 for jane.doe@example.com, phone +1 415 555 2671.";

#[tokio::test]
async fn pseudonyms_go_upstream_and_originals_come_back_whole_and_streamed() {
    let up = start().await;
    let (c, _dir) = pseudo_client(&up);
    let opts = CallOptions {
        conversation: Some("conv-1".into()),
        ..CallOptions::default()
    };
    let answer = c
        .chat()
        .completions()
        .create_with(chat("echo", PROMPT), &opts)
        .await
        .expect("answer");
    let sent = sent_text(&up, "/v1/chat/completions");
    assert!(
        !sent.contains("4111 1111 1111 1111") && !sent.contains("jane.doe"),
        "{sent}"
    );
    assert!(sent.starts_with("Refund card 4111 11"), "{sent}");
    assert_eq!(content(&answer), PROMPT);

    // Streamed: the echo arrives three bytes at a time, pseudonyms split across chunks.
    let mut stream = c
        .chat()
        .completions()
        .create_stream(chat("echo", PROMPT), &opts)
        .await
        .expect("stream");
    let mut text = String::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        chunks += 1;
        if let Some(choice) = chunk.choices.first() {
            if let sentinel_transport::wire::Content::Text(t) = &choice.delta.content {
                text.push_str(t);
            }
        }
    }
    assert!(chunks > 10);
    assert_eq!(text, PROMPT);

    // Anthropic's messages, whole and streamed.
    let req: anthropic::MessagesRequest = serde_json::from_value(json!({
        "model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": PROMPT}]
    }))
    .expect("request");
    let m = c.messages().create(req.clone()).await.expect("message");
    assert_eq!(m.content[0].text.as_deref(), Some(PROMPT));
    let mut s = c.messages().create_stream(req).await.expect("stream");
    let mut text = String::new();
    while let Some(e) = s.next().await {
        let e = e.expect("event");
        if let Some(d) = e.delta {
            text.push_str(d.text.as_deref().unwrap_or_default());
        }
    }
    assert_eq!(text, PROMPT);
}

#[tokio::test]
async fn values_in_streamed_answers_are_caught_across_chunks() {
    let up = start().await;
    let c = client(&up, "");
    let mut stream = c
        .chat()
        .completions()
        .create_stream(
            chat("ssn-leak", "what is on file?"),
            &CallOptions::default(),
        )
        .await
        .expect("stream");
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        if let Some(choice) = chunk.choices.first() {
            if let sentinel_transport::wire::Content::Text(t) = &choice.delta.content {
                text.push_str(t);
            }
        }
    }
    assert_eq!(text, "Sure, the SSN on file is <US_SSN_1> as requested.");
}

#[tokio::test]
async fn hybrid_and_remote_first_modes_use_the_presidio_api() {
    let up = start().await;
    let remote = hybrid(&up);
    let c = client(&up, &remote);
    c.chat()
        .completions()
        .create(chat("echo", "Alice wrote to bob@example.org"))
        .await
        .expect("answer");
    assert_eq!(
        sent_text(&up, "/v1/chat/completions"),
        "<PERSON_1> wrote to <EMAIL_ADDRESS_1>"
    );
    assert!(up.seen.count("/v1/analyze") >= 1);
    // Remote answers are cached.
    let asked = up.seen.count("/v1/analyze");
    c.chat()
        .completions()
        .create(chat("echo", "Alice wrote to bob@example.org"))
        .await
        .expect("answer");
    assert_eq!(up.seen.count("/v1/analyze"), asked);

    let first = format!(
        "[detection]\nmode = \"remote_first\"\n[detection.remote]\nurl = \"{}/v1\"\n",
        up.url()
    );
    let c = client(&up, &first);
    c.chat()
        .completions()
        .create(chat("echo", "Alice called"))
        .await
        .expect("answer");
    assert_eq!(sent_text(&up, "/v1/chat/completions"), "<PERSON_1> called");

    // The remote is down: fail-closed refuses, fail-open falls back to local detection.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let down = format!(
        "[detection]\nmode = \"hybrid\"\n[detection.remote]\nurl = \"{dead}\"\ntimeout_ms = 500\n"
    );
    let err = client(&up, &down)
        .chat()
        .completions()
        .create(chat("echo", "Alice wrote to bob@example.org"))
        .await
        .expect_err("fail closed");
    assert!(matches!(err, ClientError::Detector(_)), "{err}");
    let open = format!("{down}[failure]\ndetector = \"fail_open\"\n");
    client(&up, &open)
        .chat()
        .completions()
        .create(chat("echo", "Alice wrote to bob@example.org"))
        .await
        .expect("fail open");
    assert_eq!(
        sent_text(&up, "/v1/chat/completions"),
        "Alice wrote to <EMAIL_ADDRESS_1>"
    );
}

/// The configuration of hybrid detection with `up` as the Presidio remote.
fn hybrid(up: &Upstream) -> String {
    format!(
        "[detection]\nmode = \"hybrid\"\n[detection.remote]\nurl = \"{}/v1\"\ntimeout_ms = 1000\n",
        up.url()
    )
}

/// The text a streamed chat answer carries, its deltas joined.
/// The content of `model`'s whole (not streamed) chat answer to `messages`.
async fn whole_content(c: &SentinelClient, model: &str, messages: &Value) -> String {
    let body = answer(
        c,
        Route::ChatCompletions,
        &json!({"model": model, "messages": messages}),
    )
    .await;
    let v: Value = serde_json::from_str(&body).expect("json");
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn streamed_content(body: &str) -> String {
    events_of(body)
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn hybrid_mode_asks_the_remote_about_streamed_answers_a_window_at_a_time() {
    let up = start().await;
    let remote = hybrid(&up);
    let c = client(&up, &remote);
    let messages = json!([{"role": "user", "content": "what did they write?"}]);
    let streamed_request = json!({"model": "names", "stream": true, "messages": messages});
    let before = up.seen.count("/v1/analyze");
    let body = answer(&c, Route::ChatCompletions, &streamed_request).await;
    let asked = up.seen.count("/v1/analyze") - before;
    let streamed = streamed_content(&body);
    assert!(!streamed.contains("Alice"), "{streamed}");
    assert!(
        streamed.contains("<PERSON_1> wrote this.") && streamed.ends_with("Ask <PERSON_1>."),
        "{streamed}"
    );
    // The answer (about 1.3 KB in 3-byte pieces, some 450 events) goes to the remote in
    // windows of at least 512 bytes, plus the request's one text.
    assert!((3..=5).contains(&asked), "asked {asked} times");
    // A whole answer comes out the same.
    assert_eq!(whole_content(&c, "names", &messages).await, streamed);

    // A window larger than the answer: the remote sees it once, whole, at its end.
    let wide = client(&up, &format!("{remote}stream_window_bytes = 4096\n"));
    let before = up.seen.count("/v1/analyze");
    let body = answer(&wide, Route::ChatCompletions, &streamed_request).await;
    assert_eq!(
        up.seen.count("/v1/analyze") - before,
        2,
        "the request, the answer"
    );
    assert_eq!(streamed_content(&body), streamed);

    // Local mode never asks.
    let local = client(&up, "");
    let before = up.seen.count("/v1/analyze");
    let body = answer(&local, Route::ChatCompletions, &streamed_request).await;
    assert_eq!(up.seen.count("/v1/analyze"), before);
    assert!(streamed_content(&body).contains("Alice wrote this."));
}

/// A tool call's JSON arguments go to the remote unescaped, whole or streamed: a name
/// written with escapes, letters and all, is found there, and comes out redacted with the
/// arguments still JSON.
#[tokio::test]
async fn the_remote_reads_json_arguments_unescaped() {
    let up = start().await;
    // Names are redacted in answers only, so the request carries them up for the echo.
    let dir = tempfile::tempdir().expect("tmp");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = \"1\"\ndefault_action = \"allow\"\n[[rule]]\nentities = [\"PERSON\"]\n\
         action = \"redact\"\ndirection = \"response\"\n",
    )
    .expect("policy");
    let c = client(
        &up,
        &format!(
            "{}stream_window_bytes = 128\n[policy]\nfile = \"{}\"\n",
            hybrid(&up),
            policy.display()
        ),
    );
    let messages = json!([{"role": "user", "content": "Alice wrote this, said Alice Liddell."}]);
    let query = |arguments: &str| -> String {
        let v: Value = serde_json::from_str(arguments)
            .unwrap_or_else(|e| panic!("the arguments are JSON ({e}): {arguments}"));
        v["query"].as_str().expect("a query").to_owned()
    };
    let want = "<PERSON_1> wrote this, said <PERSON_2>.";
    for by in [1, 7, 64] {
        let model = format!("tools-all-escaped-by-{by}");
        let whole = answer(
            &c,
            Route::ChatCompletions,
            &json!({"model": model, "messages": messages}),
        )
        .await;
        let whole: Value = serde_json::from_str(&whole).expect("json");
        let args = whole["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .expect("arguments");
        assert!(
            args.contains(r"\u0077\u0072"),
            "written with escapes: {args}"
        );
        assert_eq!(query(args), want, "whole");
        let body = answer(
            &c,
            Route::ChatCompletions,
            &json!({"model": model, "stream": true, "messages": messages}),
        )
        .await;
        let streamed: String = events_of(&body)
            .iter()
            .filter_map(|e| {
                e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(query(&streamed), want, "streamed {by} bytes a piece");
    }
}

/// The remote sees what is held past a window's cut, so a name the cut would split is
/// found whole and waits for the next window.
#[tokio::test]
async fn a_name_across_a_window_cut_is_redacted_whole() {
    let up = start().await;
    let c = client(&up, &format!("{}stream_window_bytes = 128\n", hybrid(&up)));
    let messages = json!([{"role": "user", "content": "who wrote it?"}]);
    let streamed = streamed_content(
        &answer(
            &c,
            Route::ChatCompletions,
            &json!({"model": "split-name", "stream": true, "messages": messages}),
        )
        .await,
    );
    assert!(
        !streamed.contains("Alice") && !streamed.contains("Liddell"),
        "{streamed}"
    );
    assert!(
        streamed.contains(&format!(" <PERSON_1>{} wrote this.", "-".repeat(30))),
        "{streamed}"
    );
    assert_eq!(whole_content(&c, "split-name", &messages).await, streamed);
}

/// Hybrid detection without remote-only types asks the remote only about doubtful local
/// findings, so a streamed answer without any is never held for it.
#[tokio::test]
async fn hybrid_without_remote_only_types_streams_as_local_does() {
    let up = start().await;
    let c = client(&up, &format!("{}entities = []\n", hybrid(&up)));
    let messages = json!([{"role": "user", "content": "what did they write?"}]);
    let before = up.seen.count("/v1/analyze");
    let body = answer(
        &c,
        Route::ChatCompletions,
        &json!({"model": "two-mails", "stream": true, "messages": messages}),
    )
    .await;
    assert_eq!(up.seen.count("/v1/analyze"), before, "never asked");
    let streamed = streamed_content(&body);
    assert!(
        streamed.starts_with("Write to <EMAIL_ADDRESS_1>.")
            && streamed.ends_with("or <EMAIL_ADDRESS_1> again."),
        "{streamed}"
    );
    // Released in the same pieces as with local detection, not held a window at a time.
    let deltas = |body: &str| -> Vec<String> {
        events_of(body)
            .iter()
            .filter_map(|e| {
                e["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    };
    let local = answer(
        &client(&up, ""),
        Route::ChatCompletions,
        &json!({"model": "two-mails", "stream": true, "messages": messages}),
    )
    .await;
    assert_eq!(deltas(&body), deltas(&local));
}

#[tokio::test]
async fn a_remote_failing_mid_stream_withholds_the_rest_unless_fail_open() {
    let up = start().await;
    let remote = hybrid(&up);
    let messages = json!([{"role": "user", "content": "what did they write?"}]);
    let request = json!({"model": "names-break", "stream": true, "messages": messages});
    let body = answer(&client(&up, &remote), Route::ChatCompletions, &request).await;
    let streamed = streamed_content(&body);
    assert!(
        streamed.contains("<PERSON_1> wrote this.") && !streamed.contains("Ask"),
        "{streamed}"
    );
    let last = events_of(&body).pop().expect("events");
    assert_eq!(last["error"]["code"], "detector_unavailable", "{last}");
    assert!(
        !body.contains("Alice") && !body.contains("[DONE]"),
        "{body}"
    );

    // Fail-open releases the rest with the local detector's findings only.
    let open = format!("{remote}[failure]\ndetector = \"fail_open\"\n");
    let body = answer(&client(&up, &open), Route::ChatCompletions, &request).await;
    let streamed = streamed_content(&body);
    assert!(
        streamed.starts_with("The weather")
            && streamed.contains("<PERSON_1> wrote this.")
            && streamed.ends_with("Ask Alice remote-breaks."),
        "{streamed}"
    );
    assert!(body.contains("[DONE]"));
}

#[tokio::test]
async fn a_scan_decides_and_is_audited_without_its_values() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    let p = c.pipeline();
    let out = p
        .scan(
            "t",
            "req-scan-1",
            "mail jane@example.com",
            sentinel_policy::Direction::Request,
        )
        .await
        .expect("scan");
    assert_eq!(out.decision, "transform");
    assert_eq!(out.text.as_deref(), Some("mail <EMAIL_ADDRESS_1>"));
    assert_eq!(out.findings.len(), 1);
    let out = p
        .scan(
            "t",
            "req-scan-2",
            "key AKIAIOSFODNN7EXAMPLE",
            sentinel_policy::Direction::Request,
        )
        .await
        .expect("scan");
    assert_eq!((out.decision, out.text.as_deref()), ("block", None));
    assert_eq!(out.reasons[0].entity, "AWS_ACCESS_KEY");
    let out = p
        .scan(
            "t",
            "req-scan-3",
            "nothing here",
            sentinel_policy::Direction::Response,
        )
        .await
        .expect("scan");
    assert_eq!((out.decision, out.findings.len()), ("allow", 0));
    // Nothing went upstream; each scan is on record, with counts and fingerprints only.
    assert_eq!(up.seen.count("/v1/chat/completions"), 0);
    let log = audit_log(dir.path());
    assert!(
        !log.contains("jane") && !log.contains("AKIAIOSFODNN7EXAMPLE"),
        "{log}"
    );
    let records: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .collect();
    let seen: Vec<(&str, &str, &str, &str)> = records
        .iter()
        .map(|r| {
            let e = &r["event"];
            (
                e["request_id"].as_str().unwrap_or_default(),
                e["route"].as_str().unwrap_or_default(),
                e["direction"].as_str().unwrap_or_default(),
                e["decision"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("req-scan-1", "/v1/sentinel/scan", "request", "transform"),
            ("req-scan-2", "/v1/sentinel/scan", "request", "block"),
            ("req-scan-3", "/v1/sentinel/scan", "response", "allow"),
        ]
    );
    assert_eq!(records[0]["event"]["entities"]["EMAIL_ADDRESS"], 1);
    // Scans are counted like requests: their stages, findings and blocks.
    let m = p.telemetry().monitor().snapshot();
    assert_eq!((m.requests, m.blocked), (3, 1));
    assert_eq!(m.findings["EMAIL_ADDRESS"]["redact"], 1);
    assert_eq!(m.findings["AWS_ACCESS_KEY"]["block"], 1);
    for stage in ["detect", "policy", "audit"] {
        assert_eq!(m.stages[stage].count, 3, "{stage}");
    }
}

#[tokio::test]
async fn errors_are_typed() {
    let up = start().await;
    let c = client(&up, "");
    let err = c
        .chat()
        .completions()
        .create(chat("status-429", "hi"))
        .await
        .expect_err("429");
    assert!(
        matches!(&err, ClientError::Upstream { status: 429, body, retry_after: Some(wait) }
            if body.contains("failing on purpose") && *wait == Duration::from_secs(90)),
        "{err}"
    );
    let err = c
        .chat()
        .completions()
        .create(chat("status-500", "hi"))
        .await
        .expect_err("500");
    assert!(
        matches!(err, ClientError::Upstream { status: 500, .. }),
        "{err}"
    );

    let err = c
        .pipeline()
        .handle(PipelineRequest::new(
            Route::ChatCompletions,
            "t",
            &b"{not json"[..],
        ))
        .await
        .expect_err("bad json");
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    let err = c
        .pipeline()
        .handle(PipelineRequest::new(
            Route::ChatCompletions,
            "t",
            &b"\xff\xfe"[..],
        ))
        .await
        .expect_err("bad utf-8");
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);

    let slow = client(&up, "headers_timeout_ms = 50\n");
    let err = slow
        .chat()
        .completions()
        .create(chat("slow", "hi"))
        .await
        .expect_err("timeout");
    assert!(matches!(err, ClientError::Timeout(_)), "{err}");

    let tight = Arc::new(client(&up, "max_concurrent = 1\nmax_queued = 0\n"));
    let (a, b) = (tight.clone(), tight.clone());
    let (ra, rb) = tokio::join!(
        async move { a.chat().completions().create(chat("slow", "one")).await },
        async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            b.chat().completions().create(chat("slow", "two")).await
        }
    );
    assert!(ra.is_ok());
    assert!(matches!(rb, Err(ClientError::Overloaded { .. })), "{rb:?}");
}

#[tokio::test]
async fn the_response_cache_answers_repeats_per_tenant() {
    let up = start().await;
    let cfg = config(&up, "[cache]\nresponse = true\n");
    let pipeline = Arc::new(cfg.build().expect("pipeline"));
    let (acme, globex) = (
        SentinelClient::from_pipeline(pipeline.clone(), "acme"),
        SentinelClient::from_pipeline(pipeline, "globex"),
    );
    let mut req = chat("echo", "deterministic question");
    req.temperature = Some(0.into());
    for _ in 0..3 {
        acme.chat()
            .completions()
            .create(req.clone())
            .await
            .expect("answer");
    }
    assert_eq!(up.seen.count("/v1/chat/completions"), 1);
    globex
        .chat()
        .completions()
        .create(req.clone())
        .await
        .expect("answer");
    assert_eq!(
        up.seen.count("/v1/chat/completions"),
        2,
        "tenants never share"
    );
    // Non-deterministic requests are not cached.
    for _ in 0..2 {
        acme.chat()
            .completions()
            .create(chat("echo", "creative"))
            .await
            .expect("answer");
    }
    assert_eq!(up.seen.count("/v1/chat/completions"), 4);
    assert_eq!(acme.monitor().caches["response"].hits, 2);

    // A streamed answer is cached as its events and replayed as a stream.
    let mut streamed = chat("echo", "a deterministic streamed answer");
    streamed.temperature = Some(0.into());
    let before = up.seen.count("/v1/chat/completions");
    for _ in 0..2 {
        let mut s = acme
            .chat()
            .completions()
            .create_stream(streamed.clone(), &CallOptions::default())
            .await
            .expect("stream");
        let mut text = String::new();
        while let Some(chunk) = s.next().await {
            if let Some(choice) = chunk.expect("chunk").choices.first() {
                if let sentinel_transport::wire::Content::Text(t) = &choice.delta.content {
                    text.push_str(t);
                }
            }
        }
        assert_eq!(text, "a deterministic streamed answer");
        // The store happens as the stream completes.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up.seen.count("/v1/chat/completions"), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_helper_keeps_order_and_bounds_concurrency() {
    let up = start().await;
    let c = client(&up, "");
    let requests: Vec<_> = (0..9)
        .map(|i| {
            let model = if i == 4 { "status-500" } else { "slow" };
            let priority = if i % 3 == 0 {
                Priority::High
            } else {
                Priority::Low
            };
            (
                chat(model, &format!("request {i}")),
                CallOptions {
                    priority,
                    ..CallOptions::default()
                },
            )
        })
        .collect();
    let results = c.batch(requests, 3).await;
    assert_eq!(results.len(), 9);
    for (i, r) in results.iter().enumerate() {
        if i == 4 {
            assert!(matches!(r, Err(ClientError::Upstream { status: 500, .. })));
        } else {
            assert_eq!(content(r.as_ref().expect("answer")), format!("request {i}"));
        }
    }
    assert!(up.seen.max_in_flight.load(Ordering::SeqCst) <= 3);
    assert!(up.seen.max_in_flight.load(Ordering::SeqCst) >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micro_batching_coalesces_concurrent_embeddings() {
    let up = start().await;
    let c = client(&up, "").with_micro_batching(MicroBatchConfig {
        max_batch: 16,
        max_wait: Duration::from_millis(20),
    });
    let mut tasks = Vec::new();
    for i in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let input = "x".repeat(i + 1);
            let req: openai::EmbeddingRequest =
                serde_json::from_value(json!({"model": "e", "input": input})).expect("request");
            (i, c.embeddings().create(req).await)
        }));
    }
    for t in tasks {
        let (i, r) = t.await.expect("task");
        let r = r.expect("embedding");
        assert_eq!(r.data.len(), 1);
        // The fake's vector carries the input's length: each caller got its own.
        assert_eq!(r.data[0].embedding[1], json!((i + 1) as f64));
    }
    assert!(
        up.seen.count("/v1/embeddings") <= 2,
        "{} upstream calls",
        up.seen.count("/v1/embeddings")
    );
}

/// An audit sink that always refuses, to test the stances.
struct BrokenAudit;

impl sentinel_audit::AuditSink for BrokenAudit {
    fn append(&self, _e: sentinel_audit::AuditEvent) -> Result<(), sentinel_audit::Error> {
        Err(sentinel_audit::Error::new(
            sentinel_audit::ErrorKind::Unavailable("disk full (test)".to_owned()),
        ))
    }
    fn health(&self) -> sentinel_audit::AuditHealth {
        sentinel_audit::AuditHealth::default()
    }
}

fn pipeline_with_audit(
    up: &Upstream,
    stance: sentinel_client::Stance,
) -> sentinel_client::Pipeline {
    let cfg = config(up, "");
    let transport: Arc<dyn sentinel_transport::Transport> = Arc::new(
        sentinel_transport::HttpTransport::new(
            cfg.transport_config(),
            vec![cfg.upstream().expect("upstream")],
        )
        .expect("transport"),
    );
    let detection = sentinel_client::Detection::new(
        Arc::new(sentinel_detect::LocalDetector::new()),
        Arc::new(sentinel_cache::MemoryCache::new(
            sentinel_cache::CacheConfig::default(),
        )),
        sentinel_client::DetectionMode::Local,
        None,
    );
    sentinel_client::Pipeline::new(
        detection,
        Arc::new(sentinel_policy::PolicySet::preset("strict").expect("preset")),
        Some(Arc::new(BrokenAudit)),
        None,
        transport,
        Arc::new(sentinel_metrics::Telemetry::new(&["/v1/chat/completions"])),
        sentinel_client::PipelineConfig {
            audit_stance: stance,
            ..sentinel_client::PipelineConfig::default()
        },
    )
}

#[tokio::test]
async fn audit_failures_follow_the_stance() {
    let up = start().await;
    let closed = SentinelClient::from_pipeline(
        Arc::new(pipeline_with_audit(
            &up,
            sentinel_client::Stance::FailClosed,
        )),
        "t",
    );
    let err = closed
        .chat()
        .completions()
        .create(chat("echo", "hi"))
        .await
        .expect_err("refused");
    assert!(matches!(err, ClientError::Audit(_)), "{err}");
    assert_eq!(
        up.seen.calls.load(Ordering::SeqCst),
        0,
        "nothing unaudited leaves"
    );
    let open = SentinelClient::from_pipeline(
        Arc::new(pipeline_with_audit(&up, sentinel_client::Stance::FailOpen)),
        "t",
    );
    open.chat()
        .completions()
        .create(chat("echo", "hi"))
        .await
        .expect("served");
}

#[test]
fn pipeline_errors_map_to_typed_client_errors() {
    use sentinel_client::PipelineError as P;
    use sentinel_transport::TransportError as T;
    let map = |e: P| ClientError::from(e);
    assert!(matches!(
        map(P::Transport(T::CircuitOpen)),
        ClientError::Unavailable
    ));
    assert!(matches!(
        map(P::Transport(T::Overloaded {
            retry_after: Duration::from_secs(1)
        })),
        ClientError::Overloaded { .. }
    ));
    assert!(matches!(
        map(P::Transport(T::IdleTimeout {
            after: Duration::from_secs(1)
        })),
        ClientError::Timeout(_)
    ));
    assert!(matches!(
        map(P::Transport(T::Body {
            message: "reset".into()
        })),
        ClientError::Transport(_)
    ));
    assert!(matches!(
        map(P::Detector {
            message: "x".into()
        }),
        ClientError::Detector(_)
    ));
    assert!(matches!(
        map(P::Audit {
            message: "x".into()
        }),
        ClientError::Audit(_)
    ));
    assert_eq!(
        P::Transport(T::CircuitOpen).status(),
        http::StatusCode::BAD_GATEWAY
    );
}

#[cfg(feature = "blocking")]
#[test]
fn the_blocking_client_works_without_a_runtime() {
    // The fake upstream runs on its own runtime in another thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let up = start().await;
            tx.send(up.url()).expect("send");
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
            drop(up);
        });
    });
    let url = rx.recv().expect("url");
    std::env::set_var(KEY_VAR, "client test key");
    let cfg = SentinelConfig::from_toml(
        "t",
        &format!(
            "[network]\nupstream = \"{url}/v1\"\napi_key_env = \"SENTINEL_CLIENT_TEST_NO_KEY\"\n"
        ),
    )
    .expect("config");
    let client = sentinel_client::blocking::SentinelClient::new(&cfg).expect("client");
    let r = client
        .chat_completion(chat("echo", "mail a.b@example.com"))
        .expect("answer");
    assert_eq!(content(&r), "mail <EMAIL_ADDRESS_1>");
    // A batch, start to end.
    let line = json!({"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": [{"role": "user", "content": "mail a.b@example.com"}]}});
    let file = client
        .upload_file(&sentinel_client::FileUpload {
            purpose: "batch".to_owned(),
            file_name: "in.jsonl".to_owned(),
            data: format!("{line}\n").into(),
        })
        .expect("uploaded");
    let batch = client
        .create_batch(openai::BatchRequest {
            input_file_id: file.id,
            endpoint: "/v1/chat/completions".to_owned(),
            completion_window: "24h".to_owned(),
            extra: Default::default(),
        })
        .expect("batch");
    let done = client.batch_status(&batch.id).expect("status");
    let output = client
        .file_content(done.output_file_id.as_deref().expect("an output file"))
        .expect("content");
    assert!(String::from_utf8_lossy(&output).contains("mail <EMAIL_ADDRESS_1>"));
    // A Responses API answer, and a stored one fetched.
    let r = client
        .response(openai::ResponsesRequest::new("m", "what is on file?"))
        .expect("an answer");
    assert_eq!(
        r.output_text(),
        "The SSN on file is <US_SSN_1>, mail <EMAIL_ADDRESS_1>."
    );
    let background = background_request("hello");
    let queued = client.response(background).expect("queued");
    let fetched = client.stored_response(&queued.id).expect("fetched");
    assert_eq!(
        fetched.output_text(),
        "You said: hello The SSN on file is <US_SSN_1>."
    );
    let _ = stop_tx.send(());
}

#[tokio::test]
async fn streamed_tool_call_arguments_are_restored() {
    let up = start().await;
    let (c, _dir) = pseudo_client(&up);
    let opts = CallOptions {
        conversation: Some("tools".into()),
        ..CallOptions::default()
    };
    let mut stream = c
        .chat()
        .completions()
        .create_stream(chat("tool-stream", PROMPT), &opts)
        .await
        .expect("stream");
    let mut args = String::new();
    while let Some(chunk) = stream.next().await {
        for choice in chunk.expect("chunk").choices {
            for call in choice.delta.tool_calls.unwrap_or_default() {
                if let Some(f) = call.function {
                    args.push_str(f.arguments.as_deref().unwrap_or_default());
                }
            }
        }
    }
    let v: Value = serde_json::from_str(&args).expect("the arguments are valid JSON");
    assert_eq!(v["query"], PROMPT);
    // The upstream saw pseudonyms only.
    assert!(!sent_text(&up, "/v1/chat/completions").contains("jane.doe"));
}

#[tokio::test]
async fn moderations_and_images_are_decided_like_prompts() {
    let up = start().await;
    // The default policy redacts: the upstream sees no address, the answer passes on.
    let c = client(&up, "");
    let m = c
        .moderate(
            serde_json::from_value(json!({"model": "omni-moderation-latest",
                "input": ["mail jane.doe@example.com", {"type": "text", "text": "hate"}]}))
            .expect("request"),
        )
        .await
        .expect("moderation");
    assert!(m.results[0].flagged);
    let sent =
        String::from_utf8_lossy(&up.seen.last("/v1/moderations").expect("sent")).into_owned();
    assert!(
        sent.contains("<EMAIL_ADDRESS_1>") && !sent.contains("jane.doe"),
        "{sent}"
    );
    // Pseudonymized and restored: the model's revised prompt comes back with the original.
    let (p, _dir) = pseudo_client(&up);
    let img = p
        .generate_image(
            serde_json::from_value(json!({"model": "gpt-image-1",
                "prompt": "a postcard to jane.doe@example.com"}))
            .expect("request"),
        )
        .await
        .expect("image");
    let sent = String::from_utf8_lossy(&up.seen.last("/v1/images/generations").expect("sent"))
        .into_owned();
    assert!(!sent.contains("jane.doe"), "{sent}");
    assert_eq!(
        img.data[0].revised_prompt.as_deref(),
        Some("Drawn: a postcard to jane.doe@example.com")
    );
    assert_eq!(img.data[0].b64_json.as_deref(), Some("iVBORw0KGgo="));
}

/// Every token string under `v` (in `logprobs` lists and their alternatives).
fn tokens_in(v: &Value) -> Vec<String> {
    match v {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, x)| match (k.as_str(), x) {
                ("token", Value::String(t)) => vec![t.clone()],
                _ => tokens_in(x),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(tokens_in).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn logprobs_beside_a_changed_text_are_dropped() {
    let up = start().await;
    let c = client(&up, "");
    let chat = |model: &str, stream: bool| {
        json!({"model": model, "messages": [{"role": "user", "content": "hello there, how are you?"}],
            "logprobs": true, "top_logprobs": 1, "stream": stream})
    };
    // A text the gateway passed as written keeps its tokens.
    let clean: Value = answer_json(&c, Route::ChatCompletions, &chat("echo", false)).await;
    assert_eq!(
        clean["choices"][0]["logprobs"]["content"]
            .as_array()
            .map(|t| t
                .iter()
                .filter_map(|x| x["token"].as_str())
                .collect::<String>()),
        Some("hello there, how are you?".to_owned())
    );
    // The upstream answers "Sure, the SSN on file is 536-22-1234 as requested.", a token
    // per three bytes: redacted, the tokens that spelled the number must not pass.
    let has_value = |tokens: &[String]| {
        tokens
            .iter()
            .any(|t| t.chars().any(|ch| ch.is_ascii_digit() || ch == '@'))
    };
    let whole: Value = answer_json(&c, Route::ChatCompletions, &chat("ssn-leak", false)).await;
    assert_eq!(
        whole["choices"][0]["message"]["content"],
        "Sure, the SSN on file is <US_SSN_1> as requested."
    );
    assert!(whole["choices"][0]["logprobs"].is_null(), "{whole}");
    let streamed = answer(&c, Route::ChatCompletions, &chat("ssn-leak", true)).await;
    let events = events_of(&streamed);
    assert_eq!(
        events
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
            .collect::<String>(),
        "Sure, the SSN on file is <US_SSN_1> as requested."
    );
    let kept: Vec<String> = events.iter().flat_map(tokens_in).collect();
    assert!(!has_value(&kept), "{kept:?}");
    // A streamed text passed as written gets all its tokens, each list no sooner than the
    // text it spells (text is held back until it cannot start a value).
    let spelled = |events: &[Value]| -> String {
        events
            .iter()
            .filter_map(|e| e["choices"][0]["logprobs"]["content"].as_array())
            .flatten()
            .filter_map(|t| t["token"].as_str())
            .collect()
    };
    let long = "hello there, how are you? ".repeat(30);
    let mut body = chat("echo", true);
    body["messages"][0]["content"] = json!(long);
    let clean = events_of(&answer(&c, Route::ChatCompletions, &body).await);
    assert_eq!(spelled(&clean), long);
    let mut early = 0;
    for k in 0..clean.len() {
        let said: String = clean[..=k]
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
            .collect();
        let tokens = spelled(&clean[..=k]);
        assert!(said.starts_with(&tokens), "{}", clean[k]);
        early += usize::from(!tokens.is_empty() && k + 2 < clean.len());
    }
    assert!(early > 0, "every token waited for the end");

    // The Responses API: the output text part's list, and each delta event's.
    for stream in [false, true] {
        let body = json!({"model": "m", "input": "what is on file?", "stream": stream,
            "include": ["message.output_text.logprobs"]});
        let text = answer(&c, Route::Responses, &body).await;
        let docs: Vec<Value> = if stream {
            events_of(&text)
        } else {
            vec![serde_json::from_str(&text).expect("json")]
        };
        let kept: Vec<String> = docs.iter().flat_map(tokens_in).collect();
        assert!(!has_value(&kept), "stream {stream}: {kept:?}");

        if !stream {
            assert_eq!(docs[0]["output"][1]["content"][0]["logprobs"], json!([]));
        }
    }
    // A clean Responses stream (the model `remember` answers with the input) keeps them.
    let body = json!({"model": "remember", "input": long, "stream": true,
        "include": ["message.output_text.logprobs"]});
    let events = events_of(&answer(&c, Route::Responses, &body).await);
    let spelled: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["logprobs"].as_array())
        .flatten()
        .filter_map(|t| t["token"].as_str())
        .collect();
    assert_eq!(spelled, long);
}

/// The uploaded audio: bytes that are not text, and happen to spell an SSN.
const AUDIO: &[u8] = b"RIFF\x00\xff 536-22-1234 \xfe";

/// A `multipart/form-data` upload of a short audio file with `fields`: its content type
/// and body.
fn upload(fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--b0undary\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"call.wav\"\r\n\
          Content-Type: audio/wav\r\n\r\n",
    );
    body.extend_from_slice(AUDIO);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    ("multipart/form-data; boundary=b0undary".to_owned(), body)
}

#[tokio::test]
async fn content_that_is_not_text_is_on_record_and_can_be_blocked() {
    let up = start().await;
    let chat_with = |part: Value| {
        json!({"model": "echo", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "mail jane@example.com about this"}, part]}]})
    };
    let image = json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}});

    // By default (strict) an image passes as it came, on record; the text is decided.
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    answer(&c, Route::ChatCompletions, &chat_with(image.clone())).await;
    let sent: Value =
        serde_json::from_slice(&up.seen.last("/v1/chat/completions").expect("sent")).expect("json");
    assert_eq!(sent["messages"][0]["content"][1], image);
    assert_eq!(
        sent["messages"][0]["content"][0]["text"],
        "mail <EMAIL_ADDRESS_1> about this"
    );
    let (entities, prints) = request_records(dir.path()).pop().expect("a record");
    assert_eq!(entities, json!({"EMAIL_ADDRESS": 1, "UNREAD_IMAGE": 1}));
    assert_eq!(prints.len(), 1, "no fingerprint for what has no value");

    // A policy that blocks the group `unread` refuses every kind, on every route that
    // carries one, before anything is sent; text alone still passes.
    let (c, _dir) = policy_client(
        &up,
        "version = \"1\"\nextends = \"strict\"\n\
         [[rule]]\nname = \"read-or-refuse\"\ngroups = [\"unread\"]\naction = \"block\"\n",
        false,
    );
    let calls = up.seen.calls.load(Ordering::SeqCst);
    let blocked =
        |r: Result<sentinel_client::PipelineResponse, sentinel_client::PipelineError>| match r {
            Err(sentinel_client::PipelineError::Blocked { reasons, .. }) => {
                assert!(
                    reasons.iter().all(|r| r.rule == "read-or-refuse"),
                    "{reasons:?}"
                );
                reasons.into_iter().map(|r| r.entity).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        };
    let chat = |body: Value| PipelineRequest::new(Route::ChatCompletions, "t", body.to_string());
    let cases = [
        (chat(chat_with(image.clone())), "UNREAD_IMAGE"),
        (
            chat(chat_with(
                json!({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}),
            )),
            "UNREAD_AUDIO",
        ),
        (
            chat(chat_with(
                json!({"type": "file", "file": {"file_id": "file-1"}}),
            )),
            "UNREAD_FILE",
        ),
        (
            PipelineRequest::new(
                Route::Responses,
                "t",
                json!({"model": "m", "input": [{"role": "user", "content": [
                    {"type": "input_text", "text": "read this"},
                    {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0="}]}]})
                .to_string(),
            ),
            "UNREAD_FILE",
        ),
        (
            // A computer-use screenshot passed back as a tool's output.
            PipelineRequest::new(
                Route::Responses,
                "t",
                json!({"model": "m", "input": [{"type": "computer_call_output", "call_id": "c",
                    "output": {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}}]})
                .to_string(),
            ),
            "UNREAD_IMAGE",
        ),
        (
            PipelineRequest::new(
                Route::Messages,
                "t",
                json!({"model": "claude", "max_tokens": 9, "messages": [{"role": "user", "content": [
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
                    {"type": "text", "text": "summarise"}]}]})
                .to_string(),
            ),
            "UNREAD_FILE",
        ),
        (
            file_upload("user_data", "scan.pdf", b"%PDF-1.7\n\xff\xd8"),
            "UNREAD_FILE",
        ),
        (
            {
                let (content_type, body) = upload(&[("model", "whisper-1")]);
                let mut req = PipelineRequest::new(Route::AudioTranscriptions, "t", body);
                req.content_type = Some(content_type);
                req
            },
            "UNREAD_AUDIO",
        ),
    ];
    for (req, kind) in cases {
        let route = req.route;
        assert_eq!(blocked(c.pipeline().handle(req).await), [kind], "{route:?}");
    }
    // A route no walker knows (`other_routes = "scan"`): its parts that are not text are
    // found wherever they sit.
    let assistants = json!({"thread": {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is in this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}});
    let other = elsewhere(
        &c,
        http::Method::POST,
        "/v1/threads/runs",
        None,
        &assistants.to_string(),
    )
    .await;
    assert_eq!(blocked(other), ["UNREAD_IMAGE"]);
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), calls, "nothing sent");
    let text_only = json!({"model": "echo", "messages": [{"role": "user", "content": "hello"}]});
    assert!(answer(&c, Route::ChatCompletions, &text_only)
        .await
        .contains("hello"));
    // A text upload is read, so it is not refused; and a request naming it by id later
    // carries a file that was read: not refused either, on any route's kind of file part.
    // Another tenant's request naming the same id is (the file was not read for it), as
    // is a file this process never saw go up.
    let uploaded = c
        .pipeline()
        .handle(file_upload("user_data", "notes.txt", b"hello"))
        .await
        .expect("uploaded");
    let uploaded: Value = serde_json::from_str(&body_of(uploaded).await).expect("json");
    let id = uploaded["id"].as_str().expect("an id");
    let naming = |tenant: &str, id: &str| {
        [
            PipelineRequest::new(
                Route::Responses,
                tenant,
                json!({"model": "m", "input": [{"role": "user", "content": [
                    {"type": "input_text", "text": "read this"},
                    {"type": "input_file", "file_id": id}]}]})
                .to_string(),
            ),
            chat(chat_with(json!({"type": "file", "file": {"file_id": id}}))),
            PipelineRequest::new(
                Route::Messages,
                tenant,
                json!({"model": "claude", "max_tokens": 9, "messages": [{"role": "user", "content": [
                    {"type": "document", "source": {"type": "file", "file_id": id}},
                    {"type": "text", "text": "summarise"}]}]})
                .to_string(),
            ),
        ]
    };
    for req in naming("t", id) {
        let route = req.route;
        c.pipeline()
            .handle(req)
            .await
            .unwrap_or_else(|e| panic!("{route:?}: a file read on its way up: {e:?}"));
    }
    for (tenant, id) in [("another", id), ("t", "file-never-seen")] {
        for mut req in naming(tenant, id) {
            req.tenant = tenant.to_owned();
            let route = req.route;
            assert_eq!(
                blocked(c.pipeline().handle(req).await),
                ["UNREAD_FILE"],
                "{route:?} {tenant} {id}"
            );
        }
    }
}

async fn transcribe(
    c: &SentinelClient,
    route: Route,
    fields: &[(&str, &str)],
) -> Result<sentinel_client::PipelineResponse, sentinel_client::PipelineError> {
    let (content_type, body) = upload(fields);
    let mut req = PipelineRequest::new(route, "t", body);
    req.content_type = Some(content_type);
    c.pipeline().handle(req).await
}

#[tokio::test]
async fn audio_passes_on_and_the_text_around_it_is_decided() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("dir");
    let c = audited_client(&up, dir.path());
    let redacted = "Call me at <US_SSN_1> or write to <EMAIL_ADDRESS_1> please.";

    // Speech: the input is decided; the audio comes back as it was made, although its
    // bytes spell an SSN, and the answer is on record.
    let speech = json!({"model": "tts-1", "voice": "alloy",
        "input": "Read this to jane.doe@example.com", "instructions": "calm"});
    let r = respond(&c, Route::AudioSpeech, &speech).await;
    assert_eq!(r.content_type, "audio/mpeg");
    let sent: Value =
        serde_json::from_slice(&up.seen.last("/v1/audio/speech").expect("sent")).expect("json");
    assert_eq!(sent["input"], "Read this to <EMAIL_ADDRESS_1>");
    match r.body {
        sentinel_client::PipelineBody::Full(b) => assert_eq!(&b[..], crate::upstream::SPOKEN),
        _ => panic!("a whole answer"),
    }
    let mut streamed = speech.clone();
    streamed["stream_format"] = json!("sse");
    let events = answer(&c, Route::AudioSpeech, &streamed).await;
    assert!(events.contains("\"audio\":\"SUQzBAA=\""), "{events}");

    // Transcriptions and translations: the prompt goes up redacted, the audio intact.
    for route in [Route::AudioTranscriptions, Route::AudioTranslations] {
        let r = transcribe(
            &c,
            route,
            &[
                ("model", "whisper-1"),
                ("prompt", "Names: jane.doe@example.com"),
            ],
        )
        .await
        .expect("transcript");
        let sent = up.seen.last(route.as_str()).expect("sent");
        let text = String::from_utf8_lossy(&sent);
        assert!(
            text.contains("Names: <EMAIL_ADDRESS_1>\r\n") && !text.contains("jane.doe"),
            "{text}"
        );
        assert!(
            sent.windows(AUDIO.len()).any(|w| w == AUDIO),
            "the audio was changed"
        );
        let v: Value = serde_json::from_str(&body_of(r).await).expect("json");
        assert_eq!(v["text"], redacted);
    }

    // Every format of the transcript: JSON with segments and words, plain text, subtitles.
    let body = |format: &str| {
        let c = &c;
        let format = format.to_owned();
        async move {
            let fields = [("model", "whisper-1"), ("response_format", format.as_str())];
            body_of(
                transcribe(c, Route::AudioTranscriptions, &fields)
                    .await
                    .expect("ok"),
            )
            .await
        }
    };
    // Word by word too: a value read out over several words is decided whole, in its
    // first word, the others left empty with their timestamps.
    let verbose: Value = serde_json::from_str(&body("verbose_json").await).expect("json");
    let spoken = "Call me at <PHONE_NUMBER_1> or write to <EMAIL_ADDRESS_1> please.";
    assert_eq!(verbose["text"], spoken);
    assert_eq!(
        verbose["segments"][0]["text"],
        "Call me at <PHONE_NUMBER_1>"
    );
    let words: Vec<&str> = verbose["words"]
        .as_array()
        .expect("words")
        .iter()
        .filter_map(|w| w["word"].as_str())
        .collect();
    assert_eq!(words.len(), 12);
    assert_eq!(
        words
            .iter()
            .filter(|w| !w.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
        spoken
    );
    assert_eq!(verbose["words"][6]["start"], 1.5);
    // Several values: each keeps in the words the number the text gives it.
    let verbose: Value = serde_json::from_str(
        &body_of(
            transcribe(
                &c,
                Route::AudioTranscriptions,
                &[
                    ("model", "whisper-1"),
                    ("response_format", "verbose_json"),
                    ("prompt", "two numbers"),
                ],
            )
            .await
            .expect("ok"),
        )
        .await,
    )
    .expect("json");
    let text = "Call <PHONE_NUMBER_1> or <PHONE_NUMBER_2>, yes <PHONE_NUMBER_2> please.";
    assert_eq!(verbose["text"], text);
    let spelled: Vec<&str> = verbose["words"]
        .as_array()
        .expect("words")
        .iter()
        .filter_map(|w| w["word"].as_str())
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(spelled.join(" "), text);
    assert_eq!(body("text").await, format!("{redacted}\n"));
    assert!(body("srt").await.ends_with(&format!("\n{redacted}\n")));
    // Streamed: the deltas, joined, and the `.done` event's text.
    let r = transcribe(
        &c,
        Route::AudioTranscriptions,
        &[("model", "gpt-4o-transcribe"), ("stream", "true")],
    )
    .await
    .expect("stream");
    let events = events_of(&body_of(r).await);
    let joined = deltas(&events, "transcript.text.delta");
    assert_eq!(joined, redacted);
    assert_eq!(events.last().expect("done")["text"], redacted);
    // On record, each answer too (the speech's with nothing found), without the values.
    let log = audit_log(dir.path());
    for raw in ["536-22-1234", "jane.doe"] {
        assert!(!log.contains(raw));
    }
    let answers = |route: &str| {
        log.lines()
            .filter(|l| l.contains("\"direction\":\"response\"") && l.contains(route))
            .count()
    };
    assert_eq!(answers("\"/v1/audio/speech\""), 2);
    assert_eq!(answers("\"/v1/audio/transcriptions\""), 6);

    // A clean upload goes up byte for byte; what is not a form is refused.
    let (content_type, clean) = upload(&[("model", "whisper-1"), ("prompt", "Acme, Inc.")]);
    let mut req = PipelineRequest::new(Route::AudioTranscriptions, "t", clean.clone());
    req.content_type = Some(content_type);
    let r = c.pipeline().handle(req).await.expect("clean");
    assert!(r.forwarded_unchanged);
    assert_eq!(
        &up.seen.last("/v1/audio/transcriptions").expect("sent")[..],
        &clean[..]
    );
    for content_type in [None, Some("application/json"), Some("multipart/form-data")] {
        let mut req = PipelineRequest::new(Route::AudioTranscriptions, "t", clean.clone());
        req.content_type = content_type.map(str::to_owned);
        let e = c.pipeline().handle(req).await.expect_err("refused");
        assert!(
            matches!(e, sentinel_client::PipelineError::BadRequest { .. }),
            "{e}"
        );
    }
}

/// [`on_stored`]'s answer, parsed.
async fn stored_json(c: &SentinelClient, route: Route, id: &str, query: Option<&str>) -> Value {
    serde_json::from_str(&on_stored(c, route, id, query).await).expect("json")
}

/// [`answer`], parsed.
async fn answer_json(c: &SentinelClient, route: Route, body: &Value) -> Value {
    serde_json::from_str(&answer(c, route, body).await).expect("json")
}

/// The answer to a request on the stored resource `id` (`GET /v1/responses/{id}` and its
/// kin), as text.
pub(crate) async fn on_stored(
    c: &SentinelClient,
    route: Route,
    id: &str,
    query: Option<&str>,
) -> String {
    bodiless(c, route, Some(id), query).await
}

/// The answer to a request without a body, on `resource` if any, as text.
async fn bodiless(
    c: &SentinelClient,
    route: Route,
    resource: Option<&str>,
    query: Option<&str>,
) -> String {
    let mut req = PipelineRequest::new(route, "t", Vec::new());
    req.resource = resource.map(str::to_owned);
    req.query = query.map(str::to_owned);
    body_of(
        c.pipeline()
            .handle(req)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", route.as_str())),
    )
    .await
}

#[tokio::test]
async fn background_responses_are_fetched_restored_and_scanned() {
    let up = start().await;
    // Addresses go as pseudonyms and come back; an SSN in an answer is redacted.
    let (c, dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    let created: Value = answer_json(
        &c,
        Route::Responses,
        &json!({"model": "background", "input": said, "background": true}),
    )
    .await;
    assert_eq!(created["status"], "queued");
    let id = created["id"].as_str().expect("an id").to_owned();
    let sent = String::from_utf8_lossy(&up.seen.last("/v1/responses").expect("sent")).into_owned();
    assert!(!sent.contains("jane.doe"), "{sent}");

    // Fetched later, whole and streamed again: the quoted pseudonym is restored (the scope
    // is the creating request's), the answer's own SSN redacted.
    let want = format!("You said: {said} The SSN on file is <US_SSN_1>.");
    let whole: Value = stored_json(&c, Route::ResponsesRetrieve, &id, None).await;
    assert_eq!(whole["output"][0]["content"][0]["text"], want);
    let streamed = on_stored(
        &c,
        Route::ResponsesRetrieve,
        &id,
        Some("stream=true&starting_after=0"),
    )
    .await;
    let events = events_of(&streamed);
    let joined = deltas(&events, "response.output_text.delta");
    assert_eq!(joined, want);
    assert!(
        up.seen
            .last(&format!(
                "GET /v1/responses/{id}?stream=true&starting_after=0"
            ))
            .is_some(),
        "the query went on"
    );
    // Cancelled: the partial answer as fetched. Its input items: as the caller wrote them.
    let cancelled: Value = stored_json(&c, Route::ResponsesCancel, &id, None).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["output"][0]["content"][0]["text"], want);
    let items: Value = stored_json(&c, Route::ResponsesInputItems, &id, None).await;
    assert_eq!(items["data"][0]["content"][0]["text"], said);
    let deleted: Value = stored_json(&c, Route::ResponsesDelete, &id, None).await;
    assert_eq!(deleted["deleted"], true);
    assert!(up
        .seen
        .last(&format!("DELETE /v1/responses/{id}"))
        .is_some());

    // On record under the route's template, never the raw values.
    let log = audit_log(&dir.path().join("audit"));
    assert!(log.contains("\"/v1/responses/{id}\"") && log.contains("/v1/responses/{id}/cancel"));
    assert!(!log.contains("jane.doe") && !log.contains("536-22"));
    // An id that is not one, or none, is refused before anything is sent.
    let calls = up.seen.calls.load(Ordering::SeqCst);
    for bad in [Some("../models"), Some("a?b"), None] {
        let mut req = PipelineRequest::new(Route::ResponsesRetrieve, "t", Vec::new());
        req.resource = bad.map(str::to_owned);
        let e = c.pipeline().handle(req).await.expect_err("refused");
        assert!(
            matches!(e, sentinel_client::PipelineError::BadRequest { .. }),
            "{e}"
        );
    }
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), calls);
    // Refused before anything was recorded.
    assert_eq!(audit_log(&dir.path().join("audit")), log);
}

#[tokio::test]
async fn the_responses_api_has_typed_calls() {
    let up = start().await;
    let (c, _dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    // A first turn: the address goes up as a pseudonym and comes back as written.
    let first = c
        .responses()
        .create(openai::ResponsesRequest::new("remember", said))
        .await
        .expect("an answer");
    let sent = String::from_utf8_lossy(&up.seen.last("/v1/responses").expect("sent")).into_owned();
    assert!(!sent.contains("jane.doe"), "{sent}");
    assert_eq!(first.output_text(), said);
    // The next turn names it: the model quotes the first turn, which this request does
    // not carry, and the quote is restored in the first turn's scope.
    let mut next = openai::ResponsesRequest::new("remember", "And before?");
    next.previous_response_id = Some(first.id.clone());
    let second = c.responses().create(next).await.expect("an answer");
    assert_eq!(second.output_text(), format!("Earlier you said: {said}"));

    // A background answer: queued, fetched restored, cancelled, deleted.
    let background = background_request(said);
    let queued = c.responses().create(background).await.expect("queued");
    assert_eq!(queued.status, "queued");
    let want = format!("You said: {said} The SSN on file is <US_SSN_1>.");
    let fetched = c.responses().retrieve(&queued.id).await.expect("fetched");
    assert_eq!(
        (fetched.status.as_str(), fetched.output_text()),
        ("completed", want.clone())
    );
    let cancelled = c.responses().cancel(&queued.id).await.expect("cancelled");
    assert_eq!(
        (cancelled.status.as_str(), cancelled.output_text()),
        ("cancelled", want)
    );
    c.responses().delete(&queued.id).await.expect("deleted");
    assert!(up
        .seen
        .last(&format!("DELETE /v1/responses/{}", queued.id))
        .is_some());
    let calls = up.seen.calls.load(Ordering::SeqCst);
    let bad = c.responses().retrieve("../models").await;
    assert!(matches!(bad, Err(ClientError::BadRequest(_))), "{bad:?}");
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), calls, "nothing sent");

    // Streamed: typed events, the deltas redacted, the completed answer whole.
    let strict = client(&up, "");
    let mut stream = strict
        .responses()
        .create_stream(
            openai::ResponsesRequest::new("m", "what is on file?"),
            &CallOptions::default(),
        )
        .await
        .expect("a stream");
    let (mut joined, mut last) = (String::new(), None);
    while let Some(event) = stream.next().await {
        let event = event.expect("an event");
        if event.kind == "response.output_text.delta" {
            joined.push_str(event.delta.as_deref().unwrap_or_default());
        }
        last = Some(event);
    }
    let redacted = "The SSN on file is <US_SSN_1>, mail <EMAIL_ADDRESS_1>.";
    assert_eq!(joined, redacted);
    let completed = last.expect("events");
    assert_eq!(completed.kind, "response.completed");
    assert_eq!(
        completed.response.expect("the answer").output_text(),
        redacted
    );
}

#[tokio::test]
async fn speech_and_transcripts_have_typed_calls() {
    let up = start().await;
    let c = client(&up, "");
    let audio = c
        .speech(
            serde_json::from_value(
                json!({"model": "tts-1", "voice": "alloy", "input": "Read jane.doe@example.com"}),
            )
            .expect("request"),
        )
        .await
        .expect("speech");
    assert_eq!(&audio[..], crate::upstream::SPOKEN);
    let upload = sentinel_client::AudioUpload {
        model: "whisper-1".to_owned(),
        file_name: "call.wav".to_owned(),
        audio: bytes::Bytes::from_static(AUDIO),
        fields: vec![(
            "prompt".to_owned(),
            "Names: jane.doe@example.com".to_owned(),
        )],
    };
    let redacted = "Call me at <US_SSN_1> or write to <EMAIL_ADDRESS_1> please.";
    assert_eq!(
        c.transcribe(&upload).await.expect("transcript").text,
        redacted
    );
    let sent = up.seen.last("/v1/audio/transcriptions").expect("sent");
    let text = String::from_utf8_lossy(&sent);
    assert!(
        text.contains("Names: <EMAIL_ADDRESS_1>") && !text.contains("jane.doe"),
        "{text}"
    );
    assert!(sent.windows(AUDIO.len()).any(|w| w == AUDIO));
    // A plain-text format comes back as the text.
    let mut plain = upload.clone();
    plain
        .fields
        .push(("response_format".to_owned(), "text".to_owned()));
    assert_eq!(
        c.translate(&plain).await.expect("translation").text,
        format!("{redacted}\n")
    );
}

/// A `multipart/form-data` upload of `data` as the form's `file`, with `purpose`.
pub(crate) fn file_upload(purpose: &str, file_name: &str, data: &[u8]) -> PipelineRequest {
    let b = "sentinel-test-boundary";
    let mut form = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(data);
    form.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    let mut req = PipelineRequest::new(Route::Files, "t", form);
    req.content_type = Some(format!("multipart/form-data; boundary={b}"));
    req
}

/// The lines of the first file the upstream was sent, parsed.
fn first_file_lines(up: &Upstream) -> Vec<Value> {
    let sent = up.seen.files.lock().expect("lock")[0].2.clone();
    String::from_utf8_lossy(&sent)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSONL line"))
        .collect()
}

/// A Responses API request the fake upstream answers in the background (`resp_bg_N`).
fn background_request(input: &str) -> openai::ResponsesRequest {
    let mut r = openai::ResponsesRequest::new("background", input);
    r.extra.insert("background".to_owned(), Value::Bool(true));
    r
}

/// Uploads, through `c`'s pipeline, a batch's input file of one chat request asking
/// `model` to read `said`; the upload's answer (the file object).
pub(crate) async fn upload_one_request(c: &SentinelClient, model: &str, said: &str) -> Value {
    let line = json!({"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": said}]}});
    let req = file_upload("batch", "in.jsonl", format!("{line}\n").as_bytes());
    let answer = c.pipeline().handle(req).await.expect("uploaded");
    serde_json::from_str(&body_of(answer).await).expect("json")
}

#[tokio::test]
async fn batch_files_go_up_scanned_and_come_back_restored() {
    let up = start().await;
    let (c, dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    let line = |id: &str, model: &str, text: &str| {
        json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": text}]}})
    };
    let lines = [
        line("r1", "m", said),
        line("r2", "ssn-leak", "What is on file?"),
    ];
    let jsonl = format!("{}\n{}\n", lines[0], lines[1]);
    let uploaded: Value = serde_json::from_str(
        &body_of(
            c.pipeline()
                .handle(file_upload("batch", "in.jsonl", jsonl.as_bytes()))
                .await
                .expect("uploaded"),
        )
        .await,
    )
    .expect("json");
    let file_id = uploaded["id"].as_str().expect("an id").to_owned();
    assert_eq!(uploaded["filename"], "in.jsonl");

    // The upstream got each request line; the address in the first as a pseudonym, the
    // second as it was.
    let sent = first_file_lines(&up);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1], lines[1]);
    assert_eq!(sent[0]["custom_id"], "r1");
    let pseudonymized = sent[0]["body"]["messages"][0]["content"]
        .as_str()
        .expect("text");
    assert!(
        pseudonymized.starts_with("Mail ") && !pseudonymized.contains("jane.doe"),
        "{pseudonymized}"
    );

    // The batch continues the file's scope, its output file the batch's: the answers come
    // back with the pseudonym restored and the answer's own SSN redacted.
    let batch: Value = answer_json(
        &c,
        Route::Batches,
        &json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                "completion_window": "24h", "metadata": {"owner": "jane.doe@example.com"}}),
    )
    .await;
    let batch_id = batch["id"].as_str().expect("an id").to_owned();
    let sent = String::from_utf8_lossy(&up.seen.last("/v1/batches").expect("sent")).into_owned();
    assert!(!sent.contains("jane.doe"), "{sent}");
    assert_eq!(batch["metadata"]["owner"], "jane.doe@example.com");
    assert_eq!(
        batch["errors"]["data"][0]["message"],
        "Line 9 holds SSN <US_SSN_1>"
    );
    let done: Value = stored_json(&c, Route::BatchesRetrieve, &batch_id, None).await;
    assert_eq!(done["status"], "completed");
    let output = done["output_file_id"].as_str().expect("an output file");
    let content = on_stored(&c, Route::FilesContent, output, None).await;
    let answers: Vec<Value> = content
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSONL line"))
        .collect();
    let text =
        |i: usize| answers[i]["response"]["body"]["choices"][0]["message"]["content"].clone();
    assert_eq!(answers[0]["custom_id"], "r1");
    assert_eq!(text(0), said);
    assert_eq!(text(1), "Sure, the SSN on file is <US_SSN_1> as requested.");
    // The uploaded file read back is restored the same way.
    let input_back = on_stored(&c, Route::FilesContent, &file_id, None).await;
    assert!(input_back.contains(said), "{input_back}");

    // Listings, one file, deletion and cancellation pass through, their texts scanned.
    let listed: Value =
        serde_json::from_str(&bodiless(&c, Route::FilesList, None, Some("purpose=batch")).await)
            .expect("json");
    assert_eq!(listed["data"][0]["filename"], "in.jsonl");
    assert!(up.seen.last("GET /v1/files?purpose=batch").is_some());
    let batches: Value =
        serde_json::from_str(&bodiless(&c, Route::BatchesList, None, None).await).expect("json");
    assert_eq!(
        batches["data"][0]["errors"]["data"][0]["message"],
        "Line 9 holds SSN <US_SSN_1>"
    );
    let one: Value = stored_json(&c, Route::FilesRetrieve, &file_id, None).await;
    assert_eq!(one["id"], file_id);
    let cancelled: Value = stored_json(&c, Route::BatchesCancel, &batch_id, None).await;
    assert_eq!(cancelled["id"], batch_id);
    assert!(up
        .seen
        .last(&format!("POST /v1/batches/{batch_id}/cancel"))
        .is_some());
    let deleted: Value = stored_json(&c, Route::FilesDelete, &file_id, None).await;
    assert_eq!(deleted["deleted"], true);

    // On record under the routes' templates, never the raw values.
    let log = audit_log(&dir.path().join("audit"));
    for route in [
        "\"/v1/files\"",
        "\"/v1/files/{id}/content\"",
        "\"/v1/batches/{id}\"",
    ] {
        assert!(log.contains(route), "{route}");
    }
    assert!(!log.contains("jane.doe") && !log.contains("536-22"));
}

#[tokio::test]
async fn a_batch_listing_links_each_batchs_files_to_its_scope() {
    // A batch found by listing rather than read: its output file still comes back with
    // the upload's pseudonyms restored.
    let up = start().await;
    let (c, _dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    let uploaded = upload_one_request(&c, "m", said).await;
    let file_id = uploaded["id"].as_str().expect("an id");
    answer_json(
        &c,
        Route::Batches,
        &json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                "completion_window": "24h"}),
    )
    .await;
    let listed: Value =
        serde_json::from_str(&bodiless(&c, Route::BatchesList, None, None).await).expect("json");
    let output = listed["data"][0]["output_file_id"]
        .as_str()
        .expect("an output file");
    let content = on_stored(&c, Route::FilesContent, output, None).await;
    let answer: Value =
        serde_json::from_str(content.lines().next().expect("a line")).expect("json");
    assert_eq!(
        answer["response"]["body"]["choices"][0]["message"]["content"],
        said
    );
}

#[tokio::test]
async fn files_that_are_not_jsonl_are_read_whole_or_carried_unread() {
    let up = start().await;
    let c = client(&up, "");
    // A text file: scanned whole, and written again.
    let letter = "Dear Jane,\nplease call 415-555-0100 or mail jane.doe@example.com.\n";
    c.pipeline()
        .handle(file_upload(
            "user_data",
            "jane.doe@example.com letter.txt",
            letter.as_bytes(),
        ))
        .await
        .expect("uploaded");
    let (_, name, sent) = up.seen.files.lock().expect("lock")[0].clone();
    // The file's name is decided too.
    assert_eq!(name, "<EMAIL_ADDRESS_1> letter.txt");
    let sent = String::from_utf8_lossy(&sent).into_owned();
    assert!(
        sent.starts_with("Dear Jane,\nplease call ") && !sent.contains("jane.doe"),
        "{sent}"
    );
    // A clean one, byte for byte in the same form.
    let clean = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n";
    let req = file_upload("fine-tune", "clean.jsonl", clean.as_bytes());
    let form = req.body.clone();
    c.pipeline().handle(req).await.expect("uploaded");
    assert_eq!(up.seen.last("/v1/files").expect("sent"), form);
    // A file that is not UTF-8 (a PDF) is carried as it came.
    let pdf = b"%PDF-1.7\n\xff\xd8 jane.doe@example.com";
    c.pipeline()
        .handle(file_upload("user_data", "scan.pdf", pdf))
        .await
        .expect("uploaded");
    assert_eq!(&up.seen.files.lock().expect("lock")[2].2[..], &pdf[..]);
    // A form without the boundary is refused.
    let mut req = file_upload("batch", "in.jsonl", clean.as_bytes());
    req.content_type = Some("multipart/form-data".to_owned());
    let e = c.pipeline().handle(req).await.expect_err("refused");
    assert!(
        matches!(e, sentinel_client::PipelineError::BadRequest { .. }),
        "{e}"
    );
}

#[tokio::test]
async fn a_large_batch_file_is_decided_text_by_text_as_one_request() {
    // Past a mebibyte of text the segments are decided one by one rather than joined (so
    // the file is not held three more times): numbering still runs across the whole
    // file, unchanged lines are not rewritten, and a block names each reason once.
    let up = start().await;
    let c = client(&up, "");
    let filler = "Please summarise the quarterly report for the board. ".repeat(60);
    let line = |i: usize, extra: &str| {
        json!({"custom_id": format!("r{i}"), "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": format!("{filler}{extra}")}]}})
    };
    let mut lines: Vec<Value> = (0..400).map(|i| line(i, "")).collect();
    lines[0] = line(0, "Mail jane@example.com.");
    lines[200] = line(200, "Mail bob@example.com and jane@example.com.");
    let jsonl: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert!(jsonl.len() > 1 << 20, "{} bytes", jsonl.len());
    c.pipeline()
        .handle(file_upload("batch", "big.jsonl", jsonl.as_bytes()))
        .await
        .expect("uploaded");
    let sent = first_file_lines(&up);
    assert_eq!(sent.len(), 400);
    let text = |i: usize| sent[i]["body"]["messages"][0]["content"].clone();
    assert_eq!(text(0), format!("{filler}Mail <EMAIL_ADDRESS_1>."));
    assert_eq!(
        text(200),
        format!("{filler}Mail <EMAIL_ADDRESS_2> and <EMAIL_ADDRESS_1>.")
    );
    for i in [1, 199, 201, 399] {
        assert_eq!(sent[i], lines[i], "line {i}");
    }

    // A block found in many lines names its entity and rule once.
    let (c, _dir) = policy_client(
        &up,
        "version = \"1\"\n[[rule]]\nname = \"no-mail\"\nentities = [\"EMAIL_ADDRESS\"]\naction = \"block\"\n",
        false,
    );
    let e = c
        .pipeline()
        .handle(file_upload("batch", "big.jsonl", jsonl.as_bytes()))
        .await
        .expect_err("blocked");
    match e {
        sentinel_client::PipelineError::Blocked { reasons, .. } => {
            assert_eq!(reasons.len(), 1, "{reasons:?}");
            assert_eq!(reasons[0].entity, "EMAIL_ADDRESS");
            assert_eq!(reasons[0].rule, "no-mail");
        }
        other => panic!("{other}"),
    }
    assert_eq!(up.seen.files.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn of_two_files_only_the_one_that_changed_is_written_again() {
    // Another route's upload of two files: the first, spaced as a person wrote it and
    // with nothing to change, goes byte for byte; of the second, the line that changed
    // is written again.
    let up = start().await;
    let c = client(&up, "");
    let spaced = "{\"note\": \"nothing here\"}\n";
    let body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.jsonl\"\r\n\r\n{spaced}\r\n\
         --b\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b.jsonl\"\r\n\r\n\
         {{\"z\": 1, \"note\": \"as it was\"}}\n{{\"note\": \"mail jane@example.com\"}}\n\r\n--b--\r\n"
    );
    let mut req = PipelineRequest::new(
        Route::other(&http::Method::POST, "/v1/containers/cntr_1/files").expect("another route"),
        "t",
        body,
    );
    req.resource = Some("/v1/containers/cntr_1/files".to_owned());
    req.content_type = Some("multipart/form-data; boundary=b".to_owned());
    c.pipeline().handle(req).await.expect("sent");
    let sent = up.seen.last_text("POST /v1/containers/cntr_1/files");
    assert!(
        sent.contains(&format!("filename=\"a.jsonl\"\r\n\r\n{spaced}\r\n")),
        "{sent}"
    );
    // Of the second, only the line that changed: the first line as it came.
    assert!(
        sent.contains(
            "filename=\"b.jsonl\"\r\n\r\n{\"z\": 1, \"note\": \"as it was\"}\n\
             {\"note\":\"mail <EMAIL_ADDRESS_1>\"}\n"
        ) && !sent.contains("jane@"),
        "{sent}"
    );
}

/// A user message as a Responses API input item (a conversation's item).
fn user_item(text: &str) -> Value {
    json!({"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": text}]})
}

#[tokio::test]
async fn conversations_have_typed_calls() {
    let up = start().await;
    let (c, _dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    let conversations = c.conversations();
    let created = conversations
        .create(openai::ConversationRequest {
            items: vec![user_item(said)],
            metadata: Some(json!({"topic": "billing"})),
            ..Default::default()
        })
        .await
        .expect("created");
    let id = created.id.clone();
    let sent =
        String::from_utf8_lossy(&up.seen.last("/v1/conversations").expect("sent")).into_owned();
    assert!(!sent.contains("jane.doe"), "{sent}");
    // A typed turn on it: the quote of the first item comes back restored.
    let mut turn = openai::ResponsesRequest::new("m", "What did I ask?");
    turn.conversation = Some(json!(id));
    let answer = c.responses().create(turn).await.expect("an answer");
    assert_eq!(answer.output_text(), format!("Earlier you said: {said}"));
    // Items: added (the SSN redacted going up), listed and read restored, deleted.
    let added = conversations
        .add_items(&id, vec![user_item("My SSN is 536-22-1234, call me.")])
        .await
        .expect("added");
    assert_eq!(
        added.data[0]["content"][0]["text"],
        "My SSN is <US_SSN_1>, call me."
    );
    let items = conversations.items(&id).await.expect("items");
    assert_eq!(items.data[0]["content"][0]["text"], said);
    let one = conversations.item(&id, "msg_1").await.expect("an item");
    assert_eq!(one["content"][0]["text"], said);
    let after = conversations
        .delete_item(&id, "msg_2")
        .await
        .expect("deleted");
    assert_eq!(after.id, id);
    // The conversation: read, its metadata changed (decided going up), deleted.
    let read = conversations.retrieve(&id).await.expect("read");
    assert_eq!(read.metadata, Some(json!({"topic": "billing"})));
    let updated = conversations
        .update(&id, json!({"owner": "jane.doe@example.com"}))
        .await
        .expect("updated");
    assert_eq!(
        updated.metadata,
        Some(json!({"owner": "jane.doe@example.com"}))
    );
    let sent = up
        .seen
        .last(&format!("POST /v1/conversations/{id}"))
        .expect("sent");
    assert!(!String::from_utf8_lossy(&sent).contains("jane.doe"));
    conversations.delete(&id).await.expect("deleted");
    // Ids that are not ones are refused before anything is sent.
    let calls = up.seen.calls.load(Ordering::SeqCst);
    let bad = conversations.item(&id, "../x").await;
    assert!(matches!(bad, Err(ClientError::BadRequest(_))), "{bad:?}");
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), calls);
}

#[tokio::test]
async fn conversations_keep_the_scope_of_the_request_that_made_them() {
    let up = start().await;
    let (c, dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    let created: Value = answer_json(
        &c,
        Route::Conversations,
        &json!({"items": [user_item(said)], "metadata": {"topic": "billing"}}),
    )
    .await;
    let id = created["id"].as_str().expect("an id").to_owned();
    let sent =
        String::from_utf8_lossy(&up.seen.last("/v1/conversations").expect("sent")).into_owned();
    assert!(
        sent.contains("Mail user-") && !sent.contains("jane.doe"),
        "{sent}"
    );

    // A Responses API turn on the conversation continues its scope: the model's quote of
    // the first item is restored.
    let turn: Value = answer_json(
        &c,
        Route::Responses,
        &json!({"model": "m", "conversation": id, "input": "What did I ask?"}),
    )
    .await;
    assert_eq!(
        turn["output"][0]["content"][0]["text"],
        format!("Earlier you said: {said}")
    );

    // Items added go up decided; items read come back restored, the answer's own values
    // scanned.
    let added: Value = serde_json::from_str(
        &body_of(
            c.pipeline()
                .handle({
                    let body = json!({"items": [user_item("My SSN is 536-22-1234, call me.")]});
                    let mut req =
                        PipelineRequest::new(Route::ConversationItemsCreate, "t", body.to_string());
                    req.resource = Some(id.clone());
                    req.query = Some("include[]=message.output_text.logprobs".to_owned());
                    req
                })
                .await
                .expect("added"),
        )
        .await,
    )
    .expect("json");
    let up_items =
        format!("POST /v1/conversations/{id}/items?include[]=message.output_text.logprobs");
    let sent = String::from_utf8_lossy(&up.seen.last(&up_items).expect("sent")).into_owned();
    assert!(!sent.contains("536-22") && !sent.is_empty(), "{sent}");
    // The SSN went as a pseudonym, and is restored, then redacted as an answer's SSN.
    assert_eq!(
        added["data"][0]["content"][0]["text"],
        "My SSN is <US_SSN_1>, call me."
    );
    let items: Value = stored_json(&c, Route::ConversationItems, &id, None).await;
    assert_eq!(items["data"][0]["content"][0]["text"], said);
    let one: Value = stored_json(
        &c,
        Route::ConversationItem,
        &format!("{id}/items/msg_1"),
        None,
    )
    .await;
    assert_eq!(one["content"][0]["text"], said);
    assert!(up
        .seen
        .last(&format!("GET /v1/conversations/{id}/items/msg_1"))
        .is_some());

    // The conversation itself: read, its metadata changed, an item deleted, deleted.
    let read: Value = stored_json(&c, Route::ConversationsRetrieve, &id, None).await;
    assert_eq!(read["metadata"]["topic"], "billing");
    let mut update = PipelineRequest::new(
        Route::ConversationsUpdate,
        "t",
        json!({"metadata": {"owner": "jane.doe@example.com"}}).to_string(),
    );
    update.resource = Some(id.clone());
    let updated: Value =
        serde_json::from_str(&body_of(c.pipeline().handle(update).await.expect("updated")).await)
            .expect("json");
    assert_eq!(updated["metadata"]["owner"], "jane.doe@example.com");
    let sent = up
        .seen
        .last(&format!("POST /v1/conversations/{id}"))
        .expect("sent");
    assert!(!String::from_utf8_lossy(&sent).contains("jane.doe"));
    let after: Value = stored_json(
        &c,
        Route::ConversationItemDelete,
        &format!("{id}/items/msg_2"),
        None,
    )
    .await;
    assert_eq!(after["id"], id);
    let deleted: Value = stored_json(&c, Route::ConversationsDelete, &id, None).await;
    assert_eq!(deleted["deleted"], true);

    // On record under the templates, never the ids' values or the raw values.
    let log = audit_log(&dir.path().join("audit"));
    assert!(log.contains("\"/v1/conversations/{id}/items/{item_id}\""));
    assert!(!log.contains("jane.doe") && !log.contains("536-22"));
    // An item id that is not one is refused before anything is sent.
    let calls = up.seen.calls.load(Ordering::SeqCst);
    for bad in [
        format!("{id}/items/../x"),
        format!("{id}/other/msg_1"),
        id.clone(),
    ] {
        let mut req = PipelineRequest::new(Route::ConversationItem, "t", Vec::new());
        req.resource = Some(bad);
        let e = c.pipeline().handle(req).await.expect_err("refused");
        assert!(
            matches!(e, sentinel_client::PipelineError::BadRequest { .. }),
            "{e}"
        );
    }
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), calls);
}

#[tokio::test]
async fn anthropic_message_batches_go_up_decided_and_their_results_come_back_restored() {
    let up = start().await;
    let (c, dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    let request = |id: &str, text: &str| {
        json!({"custom_id": id, "params": {"model": "claude",
        "max_tokens": 64, "messages": [{"role": "user", "content": text}]}})
    };
    let created: Value = answer_json(
        &c,
        Route::MessagesBatches,
        &json!({"requests": [request("r1", said), request("r2", "Hello")]}),
    )
    .await;
    let id = created["id"].as_str().expect("an id").to_owned();
    assert!(created["results_url"].is_null());
    let sent =
        String::from_utf8_lossy(&up.seen.last("/v1/messages/batches").expect("sent")).into_owned();
    assert!(
        sent.contains("Mail user-") && !sent.contains("jane.doe") && sent.contains("Hello"),
        "{sent}"
    );

    // Read back, the batch names the gateway's own path for its results, so an SDK
    // fetches them through it; listed, each batch does.
    let ended: Value = stored_json(&c, Route::MessagesBatchesRetrieve, &id, None).await;
    let own = format!("/v1/messages/batches/{id}/results");
    assert_eq!(ended["results_url"], own);
    assert_eq!(ended["processing_status"], "ended");
    let listed: Value =
        serde_json::from_str(&bodiless(&c, Route::MessagesBatchesList, None, None).await)
            .expect("json");
    assert_eq!(listed["data"][0]["results_url"], own);
    let cancelled: Value = stored_json(&c, Route::MessagesBatchesCancel, &id, None).await;
    assert_eq!(cancelled["results_url"], own);

    // The results: the quoted pseudonym restored in the batch's scope, the error's SSN
    // redacted.
    let results = on_stored(&c, Route::MessagesBatchesResults, &id, None).await;
    let lines: Vec<Value> = results
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSONL line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["custom_id"], "r1");
    assert_eq!(lines[0]["result"]["message"]["content"][0]["text"], said);
    assert_eq!(lines[1]["result"]["message"]["content"][0]["text"], "Hello");
    assert_eq!(
        lines[2]["result"]["error"]["error"]["message"],
        "SSN <US_SSN_1> is not accepted"
    );
    let deleted: Value = stored_json(&c, Route::MessagesBatchesDelete, &id, None).await;
    assert_eq!(deleted["type"], "message_batch_deleted");

    let log = audit_log(&dir.path().join("audit"));
    assert!(log.contains("\"/v1/messages/batches/{id}/results\""));
    assert!(!log.contains("jane.doe") && !log.contains("536-22"));
}

#[tokio::test]
async fn anthropic_message_batches_have_typed_calls() {
    let up = start().await;
    let (c, _dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    let request = |id: &str, text: &str| anthropic::BatchedRequest {
        custom_id: id.to_owned(),
        params: serde_json::from_value(json!({"model": "claude", "max_tokens": 64,
            "messages": [{"role": "user", "content": text}]}))
        .expect("a request"),
    };
    let batches = c.message_batches();
    let created = batches
        .create(anthropic::MessageBatchRequest {
            requests: vec![request("r1", said), request("r2", "Hello")],
            ..Default::default()
        })
        .await
        .expect("created");
    let sent =
        String::from_utf8_lossy(&up.seen.last("/v1/messages/batches").expect("sent")).into_owned();
    assert!(!sent.contains("jane.doe"), "{sent}");
    let ended = batches.retrieve(&created.id).await.expect("read");
    assert_eq!(ended.processing_status, "ended");
    assert_eq!(
        ended.results_url.as_deref(),
        Some(format!("/v1/messages/batches/{}/results", created.id).as_str())
    );
    let results = batches.results(&created.id).await.expect("results");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].custom_id, "r1");
    assert_eq!(results[0].result["message"]["content"][0]["text"], said);
    assert_eq!(
        results[2].result["error"]["error"]["message"],
        "SSN <US_SSN_1> is not accepted"
    );
    let listed = batches.list(&Page::default()).await.expect("listed");
    assert_eq!(listed.data.len(), 1);
    assert!(!listed.has_more);
    assert_eq!(
        listed.data[0].results_url.as_deref(),
        Some(format!("/v1/messages/batches/{}/results", created.id).as_str())
    );
    batches
        .list(&Page {
            after: Some("msgbatch_0".to_owned()),
            limit: Some(5),
        })
        .await
        .expect("listed");
    assert!(up
        .seen
        .last("GET /v1/messages/batches?after_id=msgbatch_0&limit=5")
        .is_some());
    batches.cancel(&created.id).await.expect("cancelled");
    batches.delete(&created.id).await.expect("deleted");
    let bad = batches.results("a/../b").await;
    assert!(matches!(bad, Err(ClientError::BadRequest(_))), "{bad:?}");

    // Counting tokens decides the messages first: what is counted is what would be sent.
    let count = c
        .messages()
        .count_tokens(
            serde_json::from_value(json!({"model": "claude",
                "messages": [{"role": "user", "content": said}]}))
            .expect("a request"),
        )
        .await
        .expect("a count");
    assert_eq!(count.input_tokens, 3);
    let counted =
        String::from_utf8_lossy(&up.seen.last("/v1/messages/count_tokens").expect("sent"))
            .into_owned();
    assert!(!counted.contains("jane.doe"), "{counted}");
}

/// Listings and a stored answer's input, typed: files and batches by page, the
/// input restored in the answer's scope; an `after` that is not an id is refused before
/// anything is sent.
#[tokio::test]
async fn listings_and_input_items_have_typed_calls() {
    let up = start().await;
    let (c, _dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    let uploaded = upload_one_request(&c, "m", said).await;
    let files = c.list_files(&Page::default()).await.expect("files");
    assert_eq!(files.data.len(), 1);
    assert_eq!(Some(files.data[0].id.as_str()), uploaded["id"].as_str());
    let batch = c
        .create_batch(
            serde_json::from_value(json!({"input_file_id": uploaded["id"],
                "endpoint": "/v1/chat/completions", "completion_window": "24h"}))
            .expect("a batch request"),
        )
        .await
        .expect("a batch");
    let batches = c
        .list_batches(&Page {
            after: None,
            limit: Some(10),
        })
        .await
        .expect("batches");
    assert!(batches.data.iter().any(|b| b.id == batch.id), "{batches:?}");
    assert!(up.seen.last("GET /v1/batches?limit=10").is_some());

    // A stored (background) answer's input: it went up with a pseudonym.
    let background = background_request(said);
    let queued = c.responses().create(background).await.expect("queued");
    let input = c
        .responses()
        .input_items(&queued.id, &Page::default())
        .await
        .expect("its input");
    assert_eq!(input.data[0]["content"][0]["text"], said, "restored");

    let calls = up.seen.calls.load(Ordering::SeqCst);
    let bad = c
        .list_files(&Page {
            after: Some("x&purpose=batch".to_owned()),
            limit: None,
        })
        .await;
    assert!(matches!(bad, Err(ClientError::BadRequest(_))), "{bad:?}");
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), calls, "nothing sent");
}

/// A request on a path `Route::other` admits, through the pipeline.
async fn elsewhere(
    c: &SentinelClient,
    method: http::Method,
    path: &str,
    query: Option<&str>,
    body: &str,
) -> Result<sentinel_client::PipelineResponse, sentinel_client::PipelineError> {
    let route = Route::other(&method, path).expect("another route");
    let mut req = PipelineRequest::new(route, "t", body.to_owned());
    req.resource = Some(path.to_owned());
    req.query = query.map(str::to_owned);
    c.pipeline().handle(req).await
}

#[tokio::test]
async fn another_routes_answer_quoting_an_upload_is_restored_in_the_uploads_scope() {
    // A file uploaded through the gateway went up with a pseudonym; a vector store's
    // search (a route without a walker) quotes it back, naming the file: the quote is
    // restored in the upload's scope, which the search request does not share.
    let up = start().await;
    let (c, dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    c.pipeline()
        .handle(file_upload("assistants", "note.txt", said.as_bytes()))
        .await
        .expect("uploaded");
    let stored = String::from_utf8_lossy(&up.seen.files.lock().expect("lock")[0].2).into_owned();
    assert!(!stored.contains("jane.doe"), "{stored}");
    let search = elsewhere(
        &c,
        http::Method::POST,
        "/v1/vector_stores/vs_files/search",
        None,
        r#"{"query": "mail"}"#,
    )
    .await
    .expect("answered");
    let found: Value = serde_json::from_str(&body_of(search).await).expect("json");
    assert_eq!(found["data"][0]["content"][0]["text"], said);
    // On record as restored, without the value.
    let log = audit_log(&dir.path().join("audit"));
    let answer = log
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .find(|r| r["event"]["direction"] == "response")
        .expect("the search's answer");
    assert_eq!(answer["event"]["restored"], 1);
    assert!(!log.contains("jane.doe"));
}

#[tokio::test]
async fn other_routes_have_every_string_decided_both_ways() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    let ok = |r: Result<_, sentinel_client::PipelineError>| r.expect("answered");
    // A vector store search: the query went up redacted; the chunks, attributes and the
    // echoed query came back scanned.
    let found: Value = serde_json::from_str(
        &body_of(ok(elsewhere(
            &c,
            http::Method::POST,
            "/v1/vector_stores/vs_1/search",
            None,
            r#"{"query": "notes about jane.doe@example.com", "max_num_results": 3}"#,
        )
        .await))
        .await,
    )
    .expect("json");
    let sent =
        String::from_utf8_lossy(&up.seen.last("/v1/vector_stores/vs_1/search").expect("sent"))
            .into_owned();
    assert!(
        sent.contains("notes about <EMAIL_ADDRESS_1>") && sent.contains("\"max_num_results\":3"),
        "{sent}"
    );
    assert_eq!(
        found["data"][0]["content"][0]["text"],
        "The SSN on file is <US_SSN_1>."
    );
    assert_eq!(found["data"][0]["attributes"]["owner"], "<EMAIL_ADDRESS_1>");
    assert_eq!(found["search_query"][0], "notes about <EMAIL_ADDRESS_1>");
    // A listing, its query sent on; a cancellation with an empty body, sent empty.
    let jobs: Value = serde_json::from_str(
        &body_of(ok(elsewhere(
            &c,
            http::Method::GET,
            "/v1/fine_tuning/jobs",
            Some("limit=2"),
            "",
        )
        .await))
        .await,
    )
    .expect("json");
    assert_eq!(
        jobs["data"][0]["error"]["message"],
        "Line 3 names <EMAIL_ADDRESS_1>"
    );
    assert!(up.seen.last("GET /v1/fine_tuning/jobs?limit=2").is_some());
    let cancelled = ok(elsewhere(
        &c,
        http::Method::POST,
        "/v1/fine_tuning/jobs/ftjob-1/cancel",
        None,
        "",
    )
    .await);
    assert_eq!(cancelled.status, 200);
    // A stream: each event decided whole.
    let streamed = body_of(ok(elsewhere(
        &c,
        http::Method::POST,
        "/v1/threads/runs",
        None,
        r#"{"assistant_id": "asst_1", "stream": true}"#,
    )
    .await))
    .await;
    assert!(
        streamed.contains("on file is <US_SSN_1>.") && !streamed.contains("536-22"),
        "{streamed}"
    );
    assert!(streamed.contains("[DONE]"));
    // An answer that is not text passes as it came.
    let png = ok(elsewhere(
        &c,
        http::Method::GET,
        "/v1/containers/cntr_1/files/f_1/content",
        None,
        "",
    )
    .await);
    match png.body {
        sentinel_client::PipelineBody::Full(b) => assert_eq!(&b[..], b"\x89PNG 536-22-1234"),
        sentinel_client::PipelineBody::Stream(_) => panic!("a whole answer"),
    }
    // An upload: its text fields, file names and the files that are text decided; a file
    // that is not text goes as it came.
    let mut req = file_upload(
        "ignored",
        "jane.doe@example.com notes.csv",
        b"name,mail\nJane,jane.doe@example.com\n",
    );
    req.route =
        Route::other(&http::Method::POST, "/v1/containers/cntr_1/files").expect("another route");
    req.resource = Some("/v1/containers/cntr_1/files".to_owned());
    ok(c.pipeline().handle(req).await);
    let sent = up.seen.last_text("POST /v1/containers/cntr_1/files");
    assert!(
        sent.contains("name,mail\nJane,<EMAIL_ADDRESS_1>\n")
            && sent.contains("filename=\"<EMAIL_ADDRESS_1> notes.csv\"")
            && !sent.contains("jane.doe"),
        "{sent}"
    );
    // A body that is not JSON, and a path that is not one, are refused before anything
    // is sent.
    let calls = up.seen.calls.load(Ordering::SeqCst);
    let form = elsewhere(
        &c,
        http::Method::POST,
        "/v1/uploads/u_1/parts",
        None,
        "--x\r\n",
    )
    .await;
    assert!(
        matches!(form, Err(sentinel_client::PipelineError::BadRequest { .. })),
        "{form:?}"
    );
    let mut bad = PipelineRequest::new(
        Route::Other(sentinel_client::OtherMethod::Get),
        "t",
        Vec::new(),
    );
    bad.resource = Some("/v1/chat/completions/../../admin".to_owned());
    let e = c.pipeline().handle(bad).await.expect_err("refused");
    assert!(
        matches!(e, sentinel_client::PipelineError::BadRequest { .. }),
        "{e}"
    );
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), calls);
    // On record as `other`, never the path or a value.
    let log = audit_log(dir.path());
    assert!(log.contains("\"route\":\"other\""));
    assert!(!log.contains("vs_1") && !log.contains("jane.doe") && !log.contains("536-22"));
}

#[tokio::test]
async fn batches_have_typed_calls() {
    let up = start().await;
    let (c, _dir) = restoring_client(&up);
    let said = "Mail jane.doe@example.com today.";
    let line = json!({"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": [{"role": "user", "content": said}]}});
    let file = c
        .upload_file(&sentinel_client::FileUpload {
            purpose: "batch".to_owned(),
            file_name: "requests.jsonl".to_owned(),
            data: format!("{line}\n").into(),
        })
        .await
        .expect("uploaded");
    assert_eq!(file.filename, "requests.jsonl");
    let sent = up.seen.files.lock().expect("lock")[0].2.clone();
    assert!(!String::from_utf8_lossy(&sent).contains("jane.doe"));
    let batch = c
        .create_batch(openai::BatchRequest {
            input_file_id: file.id.clone(),
            endpoint: "/v1/chat/completions".to_owned(),
            completion_window: "24h".to_owned(),
            extra: Default::default(),
        })
        .await
        .expect("batch");
    assert_eq!(batch.status, "validating");
    let done = c.batch_status(&batch.id).await.expect("status");
    assert_eq!(done.status, "completed");
    let output = c
        .file_content(done.output_file_id.as_deref().expect("an output file"))
        .await
        .expect("content");
    let answer: Value = serde_json::from_slice(output.trim_ascii()).expect("a line");
    assert_eq!(
        answer["response"]["body"]["choices"][0]["message"]["content"],
        said
    );
}

#[tokio::test]
async fn an_answer_past_max_answer_bytes_is_an_error_not_memory() {
    let up = start().await;
    let roomy = client(&up, "");
    // Right after the [network] section the config opens.
    let tight = client(&up, "max_answer_bytes = 64\n");
    let batch_line = json!({"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": [{"role": "user", "content": "a fairly long question, longer than sixty-four bytes"}]}});
    let upload = sentinel_client::FileUpload {
        purpose: "batch".to_owned(),
        file_name: "requests.jsonl".to_owned(),
        data: format!("{batch_line}\n").into(),
    };
    let file = roomy.upload_file(&upload).await.expect("uploaded");
    let roomy_read = roomy.file_content(&file.id).await.expect("read");
    assert!(roomy_read.len() > 64);
    match tight.file_content(&file.id).await {
        Err(sentinel_client::ClientError::Transport(e)) => {
            assert!(e.to_string().contains("64"), "{e}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}
