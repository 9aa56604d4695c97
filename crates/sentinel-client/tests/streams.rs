//! Streamed answers against whole ones: wherever the upstream cuts its stream, the caller
//! reads the text a whole answer would have given.

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use sentinel_client::{CallOptions, SentinelClient};
use sentinel_transport::wire::{anthropic, openai, Content};
use serde_json::json;

use crate::sdk::config;
use crate::upstream::{escaped_everywhere, start, Upstream};

/// Prose, punctuation and text beyond ASCII a prompt is made of around its values.
const WORDS: &[&str] = &[
    "Please",
    "call",
    "the",
    "report",
    "for",
    "and",
    ",",
    ".",
    ":",
    "(",
    ")",
    "\n",
    "été",
    "東京",
    "🙂",
    "order 4111",
    "id 123-45",
    "password=",
    "password: \"",
    "'",
    "手机",
    "주민번호",
    "マイナンバー",
    "móvil",
];

/// One piece of a prompt: a word, a value the catalogue's generators make from a seed,
/// or a stretch of prose longer than a stream holds back.
fn piece(kind: usize, seed: u64) -> String {
    use sentinel_detect::testgen as g;
    let mut rng = g::Rng::new(seed);
    let values: [fn(&mut g::Rng) -> String; 22] = [
        g::card,
        g::ssn,
        g::iban,
        g::phone_us,
        g::phone_intl,
        g::email,
        g::ipv4,
        g::ipv6,
        g::mac,
        g::aws_access_key,
        g::github_token,
        g::openai_key,
        g::slack_token,
        g::jwt,
        g::private_key,
        g::password,
        g::phone_cn_mobile,
        g::kr_rrn,
        g::cn_resident_id,
        g::jp_my_number,
        g::phone_es_mobile,
        // A passphrase in quotes, read to its closing quote.
        |rng| format!("password: \"{}\"", g::passphrase(rng)),
    ];
    match kind {
        k if k < WORDS.len() => WORDS[k].to_owned(),
        k if k < WORDS.len() + values.len() => values[k - WORDS.len()](&mut rng),
        _ => "The quarterly figures are in the shared folder. ".repeat(1 + rng.below(8)),
    }
}

fn prompt() -> impl Strategy<Value = String> {
    let kinds = WORDS.len() + 23;
    // At most a few KB: streamed a byte an event, within the client's 5 s deadline in a
    // debug build on a busy machine.
    prop::collection::vec((0..kinds, any::<u64>(), any::<bool>()), 1..16).prop_map(|parts| {
        let mut text = String::new();
        for (kind, seed, spaced) in parts {
            if spaced && !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&piece(kind, seed));
        }
        text
    })
}

/// The client with the policy `rules` (and the pseudonym key the tests use).
fn client(up: &Upstream, rules: &str, dir: &std::path::Path) -> SentinelClient {
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        format!(
            "version = \"1\"\npseudonym_key_env = \"SENTINEL_CLIENT_TEST_PSEUDONYM_KEY\"\n\
             hash_key_env = \"SENTINEL_CLIENT_TEST_PSEUDONYM_KEY\"\n{rules}"
        ),
    )
    .expect("write");
    let extra = format!("[policy]\nfile = \"{}\"\n", path.display());
    SentinelClient::new(&config(up, &extra)).expect("client")
}

/// A runtime for a property's exchanges, and the fake upstream on it.
fn runtime_and_upstream() -> (tokio::runtime::Runtime, Upstream) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let up = rt.block_on(start());
    (rt, up)
}

/// A property's runner: `DEEPSENTINEL_STREAM_CASES` cases (64 by default), failures not
/// saved to files.
fn runner() -> TestRunner {
    let cases = std::env::var("DEEPSENTINEL_STREAM_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// The API a case goes through.
#[derive(Clone, Copy, Debug)]
enum Api {
    Chat,
    /// A chat answer that is a tool call carrying the text in its JSON arguments.
    Tools,
    /// The same, the text written with every character but letters, digits and spaces
    /// escaped.
    EscapedTools,
    Responses,
    Messages,
}

/// The `query` of a tool call's JSON arguments.
fn query_of(arguments: &str) -> String {
    let args: serde_json::Value = serde_json::from_str(arguments)
        .unwrap_or_else(|e| panic!("arguments are JSON ({e}): {arguments}"));
    args["query"].as_str().expect("a query").to_owned()
}

/// The echo of `text` through `api`, whole, then streamed `by` bytes an event, and for
/// the Responses API the whole text its `.done` event carries.
async fn whole_and_streamed(
    c: &SentinelClient,
    api: Api,
    text: &str,
    by: usize,
    opts: &CallOptions,
) -> (String, String, Option<String>) {
    let model = format!("echo-by-{by}");
    let mut streamed = String::new();
    match api {
        Api::Chat => {
            let req: openai::ChatCompletionRequest = serde_json::from_value(
                json!({"model": model, "messages": [{"role": "user", "content": text}]}),
            )
            .expect("request");
            let answer = c
                .chat()
                .completions()
                .create_with(req.clone(), opts)
                .await
                .expect("answer");
            let whole = match &answer.choices[0].message.content {
                Content::Text(s) => s.clone(),
                other => panic!("{other:?}"),
            };
            let mut stream = c
                .chat()
                .completions()
                .create_stream(req, opts)
                .await
                .expect("stream");
            while let Some(chunk) = stream.next().await {
                if let Some(choice) = chunk.expect("chunk").choices.first() {
                    if let Content::Text(t) = &choice.delta.content {
                        streamed.push_str(t);
                    }
                }
            }
            (whole, streamed, None)
        }
        Api::Tools | Api::EscapedTools => {
            let model = match api {
                Api::Tools => format!("tools-by-{by}"),
                _ => format!("tools-escaped-by-{by}"),
            };
            let req: openai::ChatCompletionRequest = serde_json::from_value(json!({
                "model": model,
                "messages": [{"role": "user", "content": text}]
            }))
            .expect("request");
            let answer = c
                .chat()
                .completions()
                .create_with(req.clone(), opts)
                .await
                .expect("answer");
            let calls = answer.choices[0]
                .message
                .tool_calls
                .as_ref()
                .expect("calls");
            let function = calls[0].function.as_ref().expect("a function");
            let whole = query_of(function.arguments.as_deref().unwrap_or_default());
            let mut stream = c
                .chat()
                .completions()
                .create_stream(req, opts)
                .await
                .expect("stream");
            let mut arguments = String::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.expect("chunk");
                let calls = chunk
                    .choices
                    .first()
                    .and_then(|c| c.delta.tool_calls.as_ref());
                for call in calls.into_iter().flatten() {
                    let piece = call.function.as_ref().and_then(|f| f.arguments.as_deref());
                    arguments.push_str(piece.unwrap_or_default());
                }
            }
            (whole, query_of(&arguments), None)
        }
        Api::Responses => {
            let req: openai::ResponsesRequest =
                serde_json::from_value(json!({"model": model, "input": text})).expect("request");
            let whole = c
                .responses()
                .create_with(req.clone(), opts)
                .await
                .expect("answer")
                .output_text();
            let mut stream = c
                .responses()
                .create_stream(req, opts)
                .await
                .expect("stream");
            let mut done = None;
            while let Some(event) = stream.next().await {
                let event = event.expect("event");
                match event.kind.as_str() {
                    "response.output_text.delta" => {
                        streamed.push_str(event.delta.as_deref().unwrap_or_default());
                    }
                    "response.output_text.done" => done = event.text,
                    _ => {}
                }
            }
            (whole, streamed, done)
        }
        Api::Messages => {
            let req: anthropic::MessagesRequest = serde_json::from_value(json!({
                "model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}]
            }))
            .expect("request");
            let whole = c
                .messages()
                .create_with(req.clone(), opts)
                .await
                .expect("message")
                .content
                .iter()
                .filter_map(|b| b.text.clone())
                .collect();
            let mut stream = c
                .messages()
                .create_stream_with(req, opts)
                .await
                .expect("stream");
            while let Some(event) = stream.next().await {
                if let Some(d) = event.expect("event").delta {
                    streamed.push_str(d.text.as_deref().unwrap_or_default());
                }
            }
            (whole, streamed, None)
        }
    }
}

/// Values the answer carries are redacted (numbered), masked or hashed alike whether the
/// answer came whole or cut anywhere, and pseudonyms the request was given come back as the
/// caller's values however the stream splits them.
#[test]
fn a_streamed_answer_reads_as_the_whole_one() {
    std::env::set_var("SENTINEL_CLIENT_TEST_PSEUDONYM_KEY", "client test key");
    let (rt, up) = runtime_and_upstream();
    let dir = tempfile::tempdir().expect("tmp");
    let (answers, pseudo) = {
        let _guard = rt.enter();
        let answers = client(
            &up,
            "[[rule]]\nentities = [\"CREDIT_CARD\"]\naction = \"mask\"\nkeep_last = 4\n\
             direction = \"response\"\n\
             [[rule]]\nentities = [\"IBAN_CODE\", \"IP_ADDRESS\"]\naction = \"hash\"\n\
             direction = \"response\"\n\
             [[rule]]\ngroups = [\"pii\", \"pci\", \"secrets\"]\naction = \"redact\"\n\
             direction = \"response\"\n",
            dir.path(),
        );
        let pseudo = client(
            &up,
            "[[rule]]\ngroups = [\"pii\", \"pci\", \"secrets\"]\naction = \"pseudonymize\"\n\
             direction = \"request\"\n",
            dir.path(),
        );
        (answers, pseudo)
    };
    let mut runner = runner();
    let case = std::sync::atomic::AtomicUsize::new(0);
    let apis = prop::sample::select(vec![
        Api::Chat,
        Api::Tools,
        Api::EscapedTools,
        Api::Responses,
        Api::Messages,
    ]);
    let result = runner.run(&(prompt(), 1usize..12, apis), |(text, by, api)| {
        // A conversation of its own per case: one scope would gather every case's
        // pseudonyms.
        let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(async {
            let (whole, streamed, done) =
                whole_and_streamed(&answers, api, &text, by, &CallOptions::default()).await;
            prop_assert_eq!(
                &streamed,
                &whole,
                "{:?}, answer policy, {} bytes a piece",
                api,
                by
            );
            if let Some(done) = done {
                prop_assert_eq!(&done, &whole, "the .done event's text");
            }

            let opts = CallOptions {
                conversation: Some(format!("conv-{n}")),
                ..CallOptions::default()
            };
            let (whole, streamed, done) = whole_and_streamed(&pseudo, api, &text, by, &opts).await;
            prop_assert_eq!(&whole, &text, "{:?}", api);
            prop_assert_eq!(
                &streamed,
                &text,
                "{:?}, pseudonyms, {} bytes a piece",
                api,
                by
            );
            if let Some(done) = done {
                prop_assert_eq!(&done, &text, "the .done event's text");
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A tool call's JSON arguments in a request's history are decided as the text they are:
/// whatever the values and escapes in them, what goes upstream is still JSON, and no value
/// the catalogue finds in the decoded text goes up in the clear, whether the arguments
/// were written as serde_json writes them or with every character but letters, digits and
/// spaces escaped; nor does one when the arguments were cut short (a model out of tokens),
/// for every value the cut left whole.
#[test]
fn tool_arguments_going_up_stay_json_without_their_values() {
    let (rt, up) = runtime_and_upstream();
    let dir = tempfile::tempdir().expect("tmp");
    let c = {
        let _guard = rt.enter();
        client(
            &up,
            "[[rule]]\ngroups = [\"pii\", \"pci\", \"secrets\"]\naction = \"redact\"\n\
             direction = \"request\"\n",
            dir.path(),
        )
    };
    let detector = sentinel_detect::LocalDetector::new();
    let mut runner = runner();
    let send = |arguments: &str| {
        let req: openai::ChatCompletionRequest = serde_json::from_value(json!({
            "model": "echo",
            "messages": [
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
                    "type": "function", "function": {"name": "lookup", "arguments": arguments}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "done"},
                {"role": "user", "content": "go on"}
            ]
        }))
        .expect("request");
        rt.block_on(c.chat().completions().create(req))
            .expect("answer");
        let sent: serde_json::Value =
            serde_json::from_slice(&up.seen.last("/v1/chat/completions").expect("sent"))
                .expect("json");
        sent["messages"][0]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .expect("arguments")
            .to_owned()
    };
    let result = runner.run(
        &(prompt(), 1usize..100, any::<bool>()),
        |(text, cut, esc)| {
            let arguments = match esc {
                true => format!(r#"{{"q":"{}"}}"#, escaped_everywhere(&text)),
                false => json!({ "q": text }).to_string(),
            };
            let went = send(&arguments);
            let went: serde_json::Value = serde_json::from_str(&went)
                .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {went}")))?;
            let went = went["q"].as_str().expect("q");
            use sentinel_detect::Detector as _;
            let found = detector.scan(&text);
            for f in &found {
                let value = &text[f.start..f.end];
                prop_assert!(!went.contains(value), "{:?} went up: {}", f.entity, went);
            }
            // Cut short: each value the catalogue finds in what is left of the text (a
            // value whose context word was cut off may no longer be one), still whole
            // there as it is written (JSON-escaped), must not go up as it was.
            let mut at = arguments.len() * cut / 100;
            while !arguments.is_char_boundary(at) {
                at -= 1;
            }
            let short = &arguments[..at];
            let went = send(short);
            let escape = |t: &str| match esc {
                true => escaped_everywhere(t),
                false => {
                    let quoted = serde_json::to_string(t).expect("escaped");
                    quoted[1..quoted.len() - 1].to_owned()
                }
            };
            // The text whose escaped form the cut arguments hold whole (after `{"q":"`):
            // characters are escaped one by one.
            let held = short.len().saturating_sub(r#"{"q":""#.len());
            let mut written_len = 0;
            let left = text
                .char_indices()
                .find(|&(i, c)| {
                    written_len += escape(&text[i..i + c.len_utf8()]).len();
                    written_len > held
                })
                .map_or(text.len(), |(i, _)| i);
            let left = &text[..left];
            for f in &detector.scan(left) {
                let written = escape(&left[f.start..f.end]);
                if short.contains(&written) {
                    prop_assert!(
                        !went.contains(&written),
                        "{:?} went up from arguments cut at {}: {}",
                        f.entity,
                        at,
                        went
                    );
                }
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
