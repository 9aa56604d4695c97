//! End to end, with programs outside Rust: the official OpenAI and Anthropic Python SDKs
//! against the gateway, and the dashboard rendered by headless Chromium. `cargo xtask ci`
//! installs them and points at them with DEEPSENTINEL_TEST_PYTHON and
//! DEEPSENTINEL_TEST_CHROMIUM.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::{gateway, KEY};

fn program(var: &str, fallback: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| fallback.to_owned())
}

/// Runs `cmd` with a deadline; its standard output.
async fn run(mut cmd: Command, what: &str) -> String {
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot run {what}: {e} (cargo xtask ci installs it)"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first body the upstream got at a path ending in `suffix`.
fn sent_to(gw: &crate::Running, suffix: &str) -> bytes::Bytes {
    gw.seen
        .lock()
        .expect("lock")
        .iter()
        .find(|(p, _)| p.ends_with(suffix))
        .map(|(_, b)| b.clone())
        .unwrap_or_else(|| panic!("nothing went upstream to {suffix}"))
}

const SCRIPT: &str = r#"
import sys, json, concurrent.futures
import openai
base, key = sys.argv[1], sys.argv[2]
c = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=20)
out = {}
r = c.chat.completions.create(model="echo", messages=[{"role": "user", "content": "mail jane.doe@example.com"}])
out["redacted"] = r.choices[0].message.content
s = c.chat.completions.create(model="echo", stream=True,
    messages=[{"role": "user", "content": "call +1 415 555 2671 or mail a.b@example.org now"}])
out["stream"] = "".join((ch.choices[0].delta.content or "") for ch in s if ch.choices)
e = c.embeddings.create(model="embed", input=["first", "second"])
out["embeddings"] = [d.embedding for d in e.data]
try:
    c.chat.completions.create(model="echo", messages=[{"role": "user", "content": "key AKIAIOSFODNN7EXAMPLE"}])
    out["blocked"] = None
except openai.PermissionDeniedError as err:
    out["blocked"] = {"status": err.status_code, "code": err.code, "message": str(err)}
r = c.chat.completions.create(model="flaky", messages=[{"role": "user", "content": "retried"}])
out["flaky"] = r.choices[0].message.content
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    out["concurrent"] = list(ex.map(lambda i: c.chat.completions.create(model="echo",
        messages=[{"role": "user", "content": "n%d" % i}]).choices[0].message.content, range(16)))
events = list(c.responses.create(model="echo", input="what now?", stream=True))
out["responses_deltas"] = "".join(e.delta for e in events if e.type == "response.output_text.delta")
out["responses_done"] = [e.text for e in events if e.type == "response.output_text.done"]
out["responses_final"] = [e.response.output_text for e in events if e.type == "response.completed"]
try:
    for e in c.responses.create(model="leak-key", input="my key?", stream=True):
        pass
    out["responses_blocked"] = None
except openai.APIError as err:
    out["responses_blocked"] = str(err)
img = c.images.generate(model="gpt-image-1", prompt="a postcard to jane.doe@example.com")
out["image"] = [img.data[0].b64_json, img.data[0].revised_prompt]
m = c.moderations.create(model="omni-moderation-latest", input=["mail jane.doe@example.com"])
out["moderation"] = m.results[0].flagged
tr = c.audio.transcriptions.create(model="whisper-1", prompt="Names: jane.doe@example.com",
    file=("call.wav", b"RIFF\x00\x01 not text", "audio/wav"))
out["transcript"] = tr.text
sp = c.audio.speech.create(model="tts-1", voice="alloy", input="read jane.doe@example.com")
out["speech"] = sp.content.decode("latin-1")
out["retrieved"] = c.responses.retrieve("resp_1").output_text
ed = c.images.edit(model="gpt-image-1", prompt="Add jane.doe@example.com",
    image=("a.png", b"\x89PNG\x00 not text", "image/png"))
out["edited"] = ed.data[0].revised_prompt
line = {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions",
    "body": {"model": "echo", "messages": [{"role": "user", "content": "mail jane.doe@example.com"}]}}
f = c.files.create(file=("batch.jsonl", (json.dumps(line) + "\n").encode()), purpose="batch")
b = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
b = c.batches.retrieve(b.id)
out["batch_output"] = [json.loads(l) for l in c.files.content(b.output_file_id).text.splitlines()]
conv = c.conversations.create(items=[{"type": "message", "role": "user",
    "content": "mail jane.doe@example.com"}])
out["conversation_items"] = [i.content[0].text for i in c.conversations.items.list(conv.id)]
raw = c.chat.completions.with_raw_response.create(model="echo",
    messages=[{"role": "user", "content": "hi"}], extra_headers={"OpenAI-Beta": "e2e-feature=v1"})
out["raw"] = {"sdk_request_id": raw.parse()._request_id,
    "audit_request_id": raw.headers.get("x-deepsentinel-request-id"),
    "remaining": raw.headers.get("x-ratelimit-remaining-requests"),
    "cookie": raw.headers.get("set-cookie")}
try:
    c.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])
except openai.RateLimitError as err:
    out["limited"] = {"status": err.status_code, "retry_after": err.response.headers.get("retry-after"),
        "request_id": err.request_id}
try:
    openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "x"}])
except openai.AuthenticationError as err:
    out["unauthorized"] = err.status_code
print(json.dumps(out))
"#;

const ANTHROPIC_SCRIPT: &str = r#"
import sys, json
import anthropic
base, key = sys.argv[1], sys.argv[2]
c = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0, timeout=20)
out = {}
m = c.messages.create(model="claude", max_tokens=64,
    messages=[{"role": "user", "content": "mail jane.doe@example.com"}])
out["message"] = m.content[0].text
b = c.messages.batches.create(requests=[{"custom_id": "r1", "params": {"model": "claude",
    "max_tokens": 64, "messages": [{"role": "user", "content": "mail jane.doe@example.com"}]}}])
out["results_url"] = c.messages.batches.retrieve(b.id).results_url
out["results"] = [r.result.message.content[0].text for r in c.messages.batches.results(b.id)]
print(json.dumps(out))
"#;

const LITELLM_SCRIPT: &str = r#"
import sys, os, json, asyncio, tempfile
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
from urllib.parse import urlsplit
import litellm
from litellm.proxy.guardrails.guardrail_hooks.presidio import _OPTIONAL_PresidioPIIMasking
from litellm.proxy._types import UserAPIKeyAuth
from litellm.caching.caching import DualCache
from litellm.exceptions import BlockedPiiEntityError

base, key, recognizers = sys.argv[1], sys.argv[2], sys.argv[3]
u = urlsplit(base)
# The guardrail takes a base URL and nothing else: the gateway key goes in it.
keyed = f"{u.scheme}://key:{key}@{u.netloc}/"
out = {}

def guard(url=keyed, **kw):
    return _OPTIONAL_PresidioPIIMasking(presidio_analyzer_api_base=url,
        presidio_anonymizer_api_base=url, guardrail_name="deepsentinel",
        event_hook="pre_call", default_on=True, **kw)

async def pre(g, text):
    data = {"model": "m", "messages": [{"role": "user", "content": text},
        {"role": "user", "content": [{"type": "text", "text": text}]}]}
    r = await g.async_pre_call_hook(UserAPIKeyAuth(), DualCache(), data, "completion")
    return r, [r["messages"][0]["content"], r["messages"][1]["content"][0]["text"]]

async def main():
    _, out["masked"] = await pre(guard(),
        "mail jane.doe@example.com or call +1 415 555 2671, SSN 536-22-1234, caf\u00e9 4111 1111 1111 1111")
    g = guard(output_parse_pii=True)
    r, masked = await pre(g, "mail jane.doe@example.com and bob@example.org")
    out["tokens"] = masked[0]
    answer = litellm.ModelResponse(choices=[{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "Done: " + masked[0]}}])
    answer = await g.async_post_call_success_hook(data=r, user_api_key_dict=UserAPIKeyAuth(), response=answer)
    out["unmasked"] = answer.choices[0].message.content
    try:
        await pre(guard(pii_entities_config={"CREDIT_CARD": "BLOCK", "EMAIL_ADDRESS": "MASK"}),
            "card 4111 1111 1111 1111")
        out["blocked"] = None
    except BlockedPiiEntityError as e:
        out["blocked"] = str(e)
    _, out["ad_hoc"] = await pre(guard(presidio_ad_hoc_recognizers=recognizers),
        "see TCK-1234 for jane.doe@example.com")
    try:
        await pre(guard(url=base + "/", pii_entities_config={"EMAIL_ADDRESS": "MASK"}),
            "mail jane.doe@example.com")
        out["without_key"] = None
    except Exception as e:
        out["without_key"] = str(e)

asyncio.run(main())
print(json.dumps(out))
"#;

/// LiteLLM's Presidio guardrail, its own code, with the gateway as its analyzer and
/// anonymizer: masking (text and content parts, offsets in characters past non-ASCII
/// text), numbered tokens unmasked in the answer, an entity it blocks, ad-hoc recognizers
/// from its file, and the gateway key written into the base URL (the one place the
/// guardrail takes it); without it the guardrail fails closed on the 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litellms_presidio_guardrail_works_against_the_gateway() {
    let gw = gateway("", true).await;
    let dir = tempfile::tempdir().expect("tmp");
    let script = dir.path().join("litellm_guardrail.py");
    std::fs::write(&script, LITELLM_SCRIPT).expect("script");
    let recognizers = dir.path().join("recognizers.json");
    std::fs::write(
        &recognizers,
        r#"[{"name": "Tickets", "supported_language": "en", "supported_entity": "TICKET",
            "patterns": [{"name": "ticket", "regex": "tck-\\d{4}", "score": 0.8}]}]"#,
    )
    .expect("recognizers");
    let mut cmd = Command::new(program("DEEPSENTINEL_TEST_PYTHON", "python3"));
    cmd.arg(&script).arg(&gw.url).arg(KEY).arg(&recognizers);
    let out = tokio::time::timeout(Duration::from_secs(120), run(cmd, "LiteLLM's guardrail"))
        .await
        .expect("the Python client finished in time");
    let v: Value = serde_json::from_str(out.trim()).expect("the script's JSON");
    let masked = "mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>, SSN <US_SSN>, café <CREDIT_CARD>";
    assert_eq!(v["masked"], serde_json::json!([masked, masked]));
    assert_eq!(v["tokens"], "mail <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>");
    assert_eq!(
        v["unmasked"],
        "Done: mail jane.doe@example.com and bob@example.org"
    );
    assert!(
        v["blocked"]
            .as_str()
            .is_some_and(|m| m.contains("CREDIT_CARD")),
        "{v}"
    );
    let ad_hoc = "see <TICKET> for <EMAIL_ADDRESS>";
    assert_eq!(v["ad_hoc"], serde_json::json!([ad_hoc, ad_hoc]));
    assert!(
        v["without_key"].as_str().is_some_and(|m| m.contains("401")),
        "{v}"
    );
    // Nothing went upstream: the guardrail asks the gateway's own routes.
    assert!(gw.seen.lock().expect("lock").is_empty());
}

/// The official Anthropic Python SDK: messages, and a message batch whose results it
/// fetches from the URL the batch names, which the gateway makes its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_anthropic_python_sdk_works_through_the_gateway() {
    let gw = gateway("", true).await;
    let dir = tempfile::tempdir().expect("tmp");
    let script = dir.path().join("anthropic_client.py");
    std::fs::write(&script, ANTHROPIC_SCRIPT).expect("script");
    let mut cmd = Command::new(program("DEEPSENTINEL_TEST_PYTHON", "python3"));
    cmd.arg(&script).arg(&gw.url).arg(KEY);
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        run(cmd, "the Anthropic Python SDK"),
    )
    .await
    .expect("the Python client finished in time");
    let v: Value = serde_json::from_str(out.trim()).expect("the script's JSON");
    assert_eq!(v["message"], "mail <EMAIL_ADDRESS_1>");
    let batch = String::from_utf8_lossy(&sent_to(&gw, "/messages/batches")).into_owned();
    assert!(
        batch.contains("mail <EMAIL_ADDRESS_1>") && !batch.contains("jane.doe"),
        "{batch}"
    );
    assert_eq!(v["results_url"], "/v1/messages/batches/msgbatch_1/results");
    assert_eq!(v["results"][0], "call <PHONE_NUMBER_1> now");
    assert!(gw
        .seen
        .lock()
        .expect("lock")
        .iter()
        .any(|(p, _)| p == "/v1/messages/batches/msgbatch_1/results"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_python_sdk_works_through_the_gateway() {
    let gw = gateway("", true).await;
    let dir = tempfile::tempdir().expect("tmp");
    let script = dir.path().join("client.py");
    std::fs::write(&script, SCRIPT).expect("script");
    let mut cmd = Command::new(program("DEEPSENTINEL_TEST_PYTHON", "python3"));
    cmd.arg(&script).arg(&gw.url).arg(KEY);
    let out = tokio::time::timeout(Duration::from_secs(120), run(cmd, "the OpenAI Python SDK"))
        .await
        .expect("the Python client finished in time");
    let v: Value = serde_json::from_str(out.trim()).expect("the script's JSON");
    assert_eq!(v["redacted"], "mail <EMAIL_ADDRESS_1>");
    assert_eq!(
        v["stream"],
        "call <PHONE_NUMBER_1> or mail <EMAIL_ADDRESS_1> now"
    );
    assert_eq!(v["embeddings"][1][0], 1.0);
    assert_eq!(v["blocked"]["status"], 403);
    assert_eq!(v["blocked"]["code"], "sensitive_data_blocked");
    assert!(!v["blocked"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("AKIA"));
    assert_eq!(
        v["flaky"], "retried",
        "the gateway retried the upstream's 429"
    );
    for i in 0..16 {
        assert_eq!(v["concurrent"][i], format!("n{i}"));
    }
    assert_eq!(v["unauthorized"], 401);
    // Images: generated through the gateway, the prompt redacted going and coming back.
    assert_eq!(v["image"][0], "iVBORw0KGgo=");
    assert_eq!(
        v["image"][1],
        "A watercolor of: a postcard to <EMAIL_ADDRESS_1>"
    );
    // Moderations: the SDK's call works through the gateway, the input scanned first.
    assert_eq!(v["moderation"], false);
    let moderated = String::from_utf8_lossy(&sent_to(&gw, "/moderations")).into_owned();
    assert!(
        moderated.contains("<EMAIL_ADDRESS_1>") && !moderated.contains("jane.doe"),
        "{moderated}"
    );
    // Audio: the SDK's upload (multipart) goes up with its prompt redacted and its audio as
    // it was; the transcript comes back scanned; speech comes back as audio.
    assert_eq!(v["transcript"], "call <PHONE_NUMBER_1> now");
    assert_eq!(v["speech"], "ID3 audio that says 415 555 2671");
    // An image edit (multipart): the prompt went up redacted, the revised prompt came back
    // scanned.
    assert_eq!(v["edited"], "The card, addressed to <EMAIL_ADDRESS_1>");
    let edit = String::from_utf8_lossy(&sent_to(&gw, "/images/edits")).into_owned();
    assert!(
        edit.contains("Add <EMAIL_ADDRESS_1>") && !edit.contains("jane.doe"),
        "{edit}"
    );
    // A batch: the SDK's upload of its JSONL went up redacted line by line, and its output
    // file came back scanned.
    let batch = String::from_utf8_lossy(&sent_to(&gw, "/files")).into_owned();
    assert!(
        batch.contains(r#""custom_id":"r1""#)
            && batch.contains("mail <EMAIL_ADDRESS_1>")
            && !batch.contains("jane.doe"),
        "{batch}"
    );
    assert_eq!(
        v["batch_output"][0]["response"]["body"]["choices"][0]["message"]["content"],
        "call <PHONE_NUMBER_1> now"
    );
    // A conversation: its first items went up redacted, its items come back scanned.
    let conversation = String::from_utf8_lossy(&sent_to(&gw, "/conversations")).into_owned();
    assert!(
        conversation.contains("mail <EMAIL_ADDRESS_1>") && !conversation.contains("jane.doe"),
        "{conversation}"
    );
    assert_eq!(v["conversation_items"][0], "call <PHONE_NUMBER_1> now");
    // A stored response fetched by the SDK is scanned like any answer.
    assert_eq!(v["retrieved"], "call <PHONE_NUMBER_1> now");
    let upload = sent_to(&gw, "/audio/transcriptions");
    let text = String::from_utf8_lossy(&upload);
    assert!(
        text.contains("Names: <EMAIL_ADDRESS_1>") && text.contains("RIFF\0\u{1} not text"),
        "{text}"
    );
    // What the SDK reads from headers: the provider's request id (`_request_id`, and on
    // errors) and rate limits pass through, a cookie does not; the gateway adds its own
    // id; a header the caller adds for the provider reaches it.
    assert_eq!(v["raw"]["sdk_request_id"], "req_upstream_1", "{}", v["raw"]);
    assert!(v["raw"]["audit_request_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("req-")));
    assert_eq!(v["raw"]["remaining"], "99");
    assert!(v["raw"]["cookie"].is_null());
    assert_eq!(v["limited"]["status"], 429);
    assert_eq!(v["limited"]["retry_after"], "120");
    assert_eq!(v["limited"]["request_id"], "req_upstream_1");
    assert!(
        gw.heads
            .lock()
            .expect("lock")
            .iter()
            .any(|(_, h)| h.get("openai-beta").is_some_and(|p| p == "e2e-feature=v1")),
        "OpenAI-Beta reached the upstream"
    );
    // A streamed Responses API answer, read by the SDK: every delta, the .done text and the
    // completed response are redacted; a blocked one raises.
    assert_eq!(v["responses_deltas"], "call <PHONE_NUMBER_1> now");
    assert_eq!(v["responses_done"][0], "call <PHONE_NUMBER_1> now");
    assert_eq!(v["responses_final"][0], "call <PHONE_NUMBER_1> now");
    let blocked = v["responses_blocked"].as_str().expect("the SDK raised");
    assert!(
        blocked.contains("AWS_ACCESS_KEY") && !blocked.contains("AKIA"),
        "{blocked}"
    );
    // The upstream saw the redacted text, never the address.
    let sent: String = gw
        .seen
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(!sent.contains("jane.doe") && !sent.contains("555 2671"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_in_headless_chromium() {
    let gw = gateway("", false).await;
    let c = crate::client(&gw.url, None);
    for text in [
        "mail jane.doe@example.com",
        "nothing here",
        "card 4111 1111 1111 1111",
    ] {
        let _ = crate::post(&c, "/v1/chat/completions", crate::chat(text)).await;
    }
    let mut cmd = Command::new(program("DEEPSENTINEL_TEST_CHROMIUM", "chromium"));
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=5000",
        "--dump-dom",
    ])
    .arg(format!("{}/dashboard", gw.url));
    let dom = tokio::time::timeout(Duration::from_secs(120), run(cmd, "headless Chromium"))
        .await
        .expect("Chromium finished in time");
    assert!(
        dom.contains("data-rendered=\"yes\""),
        "the page never rendered stats:\n{dom}"
    );
    assert!(dom.contains("<polyline"), "no chart was drawn");
    for figure in [
        "detect",
        "EMAIL_ADDRESS",
        "CREDIT_CARD",
        "detection",
        "closed",
        "healthy",
        "(0 keys)",
        " entries",
        "queued), large 0, busy 0/",
    ] {
        assert!(
            dom.contains(figure),
            "{figure} missing from the rendered dashboard"
        );
    }
}
