//! How exchanges end, on record: an upstream's error body is decided like an answer, an
//! answer that is not JSON is scanned as text, and every forwarded request gets exactly one
//! response event, also when it fails or is abandoned.

use std::time::Duration;

use sentinel_client::{
    LargeAnswer, PipelineBody, PipelineError, PipelineRequest, Route, SentinelClient,
};
use serde_json::{json, Value};

use crate::sdk::{audit_log, audited_client, body_of, config};
use crate::upstream::start;

fn request(id: &str, model: &str, stream: bool) -> PipelineRequest {
    let body = json!({"model": model, "stream": stream,
        "messages": [{"role": "user", "content": "what is on file?"}]});
    let mut r = PipelineRequest::new(
        Route::ChatCompletions,
        "t",
        serde_json::to_vec(&body).expect("json"),
    );
    r.request_id = id.to_owned();
    r
}

/// The events of an audit directory, in order.
fn events(dir: &std::path::Path) -> Vec<Value> {
    audit_log(dir)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["event"].clone())
        .collect()
}

/// The response events of request `id`.
fn answers<'a>(events: &'a [Value], id: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["request_id"] == id && e["direction"] == "response")
        .collect()
}

#[tokio::test]
async fn an_upstream_error_body_is_decided_and_recorded_as_an_answer() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    let p = c.pipeline();

    // A value in the error's message is redacted as in any answer; the error's shape stays.
    match p.handle(request("e-ssn", "error-ssn", false)).await {
        Err(PipelineError::Upstream { status, body, .. }) => {
            assert_eq!(status.as_u16(), 400);
            let v: Value = serde_json::from_slice(&body).expect("still JSON");
            assert_eq!(v["error"]["message"], "SSN <US_SSN_1> is not accepted here");
            assert_eq!(v["error"]["type"], "invalid_request_error");
            assert!(v["error"]["code"].is_null());
        }
        other => panic!("{other:?}"),
    }
    // A key in an error body is blocked as in any answer (strict blocks keys both ways).
    match p.handle(request("e-key", "error-key", false)).await {
        Err(PipelineError::Blocked { direction, reasons }) => {
            assert_eq!(direction, "response");
            assert_eq!(reasons[0].entity, "AWS_ACCESS_KEY");
        }
        other => panic!("{other:?}"),
    }
    // An error body without text to decide still passes on byte for byte.
    match p.handle(request("e-plain", "status-503", false)).await {
        Err(PipelineError::Upstream { status, body, .. }) => {
            assert_eq!(status.as_u16(), 503);
            assert_eq!(
                &body[..],
                json!({"error": {"message": "failing on purpose"}})
                    .to_string()
                    .as_bytes()
            );
        }
        other => panic!("{other:?}"),
    }

    drop(c);
    let log = audit_log(dir.path());
    assert!(!log.contains("536-22-1234") && !log.contains("AKIAIOSFODNN7EXAMPLE"));
    let events = events(dir.path());
    let ssn = answers(&events, "e-ssn");
    assert_eq!(ssn.len(), 1, "{events:#?}");
    assert_eq!(ssn[0]["outcome"], "upstream_status");
    assert_eq!(ssn[0]["upstream_status"], 400);
    assert_eq!(ssn[0]["decision"], "transform");
    assert_eq!(ssn[0]["entities"]["US_SSN"], 1);
    let key = answers(&events, "e-key");
    assert_eq!(key.len(), 1, "{events:#?}");
    assert_eq!(key[0]["decision"], "block");
    assert_eq!(key[0]["upstream_status"], 401);
    let plain = answers(&events, "e-plain");
    assert_eq!(plain.len(), 1, "{events:#?}");
    assert_eq!(plain[0]["decision"], "allow");
    assert_eq!(plain[0]["upstream_status"], 503);
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_scanned_as_text() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    let r = c
        .pipeline()
        .handle(request("page", "text-page", false))
        .await
        .expect("answer");
    assert_eq!(r.content_type, "text/plain");
    assert_eq!(body_of(r).await, "Sure, the SSN on file is <US_SSN_1>.");
    drop(c);
    let events = events(dir.path());
    let page = answers(&events, "page");
    assert_eq!(page.len(), 1, "{events:#?}");
    assert_eq!(page[0]["entities"]["US_SSN"], 1);
    assert!(page[0].get("outcome").is_none(), "{}", page[0]);
}

#[tokio::test]
async fn every_forwarded_request_has_one_response_event_however_it_ends() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    let p = c.pipeline();

    // Answered whole.
    p.handle(request("whole", "echo", false))
        .await
        .expect("answer");
    // Blocked before it left: no answer is owed.
    let mut blocked = request("blocked", "echo", false);
    blocked.body = serde_json::to_vec(&json!({"model": "echo",
        "messages": [{"role": "user", "content": "use key AKIAIOSFODNN7EXAMPLE"}]}))
    .expect("json")
    .into();
    assert!(matches!(
        p.handle(blocked).await,
        Err(PipelineError::Blocked { .. })
    ));
    // Given up while the upstream thinks (the caller left, a deadline passed).
    let gave_up = tokio::time::timeout(
        Duration::from_millis(40),
        p.handle(request("gave-up", "slow", false)),
    )
    .await;
    assert!(gave_up.is_err(), "the slow upstream answers after 150 ms");
    // Past its own deadline, which the pipeline keeps: a timeout, not abandoned.
    let mut late = request("late", "slow", false);
    late.deadline = Some(Duration::from_millis(40));
    match p.handle(late).await {
        Err(e @ PipelineError::TimedOut { .. }) => assert_eq!(e.status().as_u16(), 504),
        other => panic!("{other:?}"),
    }
    // A streamed answer dropped after its first piece.
    let r = p
        .handle(request("left", "ssn-leak", true))
        .await
        .expect("answer");
    let PipelineBody::Stream(mut s) = r.body else {
        panic!("a stream")
    };
    s.next().await.expect("a piece").expect("not an error");
    drop(s);
    // A streamed answer whose upstream breaks after the value was passed on.
    let r = p
        .handle(request("broke", "stream-breaks", true))
        .await
        .expect("answer");
    let PipelineBody::Stream(mut s) = r.body else {
        panic!("a stream")
    };
    let mut passed = Vec::new();
    let mut failed = None;
    while let Some(piece) = s.next().await {
        match piece {
            Ok(b) => passed.extend_from_slice(&b),
            Err(e) => failed = Some(e),
        }
    }
    assert!(failed.is_some(), "the break reaches the caller");
    let passed = String::from_utf8_lossy(&passed);
    assert!(
        passed.contains("<US_SSN_1>") && !passed.contains("536-22-1234"),
        "{passed}"
    );
    drop(s);
    drop(c);

    // An upstream nobody listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut cfg = config(
        &up,
        &format!(
            "[audit]\ndir = \"{}\"\nsync = \"always\"\n",
            dir.path().display()
        ),
    );
    cfg.network.upstream = Some(format!("http://127.0.0.1:{dead}/v1"));
    let c = SentinelClient::new(&cfg).expect("client");
    let err = c
        .pipeline()
        .handle(request("refused", "echo", false))
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, PipelineError::Transport(_)), "{err:?}");
    drop(c);

    let events = events(dir.path());
    let one = |id: &str| {
        let a = answers(&events, id);
        assert_eq!(a.len(), 1, "{id}: {events:#?}");
        a[0].clone()
    };
    let whole = one("whole");
    assert_eq!(whole["decision"], "allow");
    assert!(whole.get("outcome").is_none(), "{whole}");
    assert!(answers(&events, "blocked").is_empty());
    let gave_up = one("gave-up");
    assert_eq!(gave_up["decision"], "none");
    assert_eq!(gave_up["outcome"], "abandoned");
    assert_eq!(gave_up["model"], "slow");
    let late = one("late");
    assert_eq!(late["decision"], "none");
    assert_eq!(late["outcome"], "timeout");
    let left = one("left");
    assert_eq!(left["outcome"], "abandoned");
    let broke = one("broke");
    assert_eq!(broke["outcome"], "upstream_protocol", "{broke}");
    assert_eq!(broke["decision"], "transform");
    assert_eq!(broke["entities"]["US_SSN"], 1);
    let refused = one("refused");
    assert_eq!(refused["decision"], "none");
    assert_eq!(refused["outcome"], "upstream_connect", "{refused}");
    // Every request that left has its one answer.
    for e in events.iter().filter(|e| e["direction"] == "request") {
        let id = e["request_id"].as_str().expect("id");
        let owed = usize::from(e["decision"] != "block");
        assert_eq!(answers(&events, id).len(), owed, "{id}");
    }
}

/// Once the process cuts its exchanges short (`Pipeline::cut_short`: a second stop signal,
/// a drain out of grace), a dropped exchange is on record as `shutdown`, not as the
/// caller's `abandoned`: whole answers and streams alike.
#[tokio::test]
async fn exchanges_cut_by_a_stopping_gateway_are_told_from_callers_that_left() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    let p = c.pipeline();
    let r = p
        .handle(request("streaming", "ssn-leak", true))
        .await
        .expect("answer");
    let PipelineBody::Stream(mut s) = r.body else {
        panic!("a stream")
    };
    s.next().await.expect("a piece").expect("not an error");
    p.cut_short();
    let cut = tokio::time::timeout(
        Duration::from_millis(40),
        p.handle(request("waiting", "slow", false)),
    )
    .await;
    assert!(cut.is_err(), "the slow upstream answers after 150 ms");
    drop(s);
    let events = events(dir.path());
    for id in ["streaming", "waiting"] {
        let a = answers(&events, id);
        assert_eq!(a.len(), 1, "{id}: {events:#?}");
        assert_eq!(a[0]["outcome"], "shutdown", "{id}");
    }
}

/// A caller that asked to hear of large answers ([`LargeAnswer`]) hears of a whole answer
/// of its size before it is decided, and of nothing smaller or streamed; the answer is the
/// same either way.
#[tokio::test]
async fn a_large_answer_is_told_to_the_caller_that_asked() {
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = audited_client(&up, dir.path());
    let p = c.pipeline();
    for (at, stream, told) in [
        (16, false, true),
        (1 << 20, false, false),
        (16, true, false),
    ] {
        let large = LargeAnswer::new(at);
        let mut req = request("large", "m", stream);
        req.large_answer = Some(large.clone());
        let answer = p.handle(req).await.expect("answer");
        assert_eq!(large.came(), told, "at {at}, stream {stream}");
        if !stream {
            let plain = p
                .handle(request("plain", "m", false))
                .await
                .expect("answer");
            assert_eq!(body_of(answer).await, body_of(plain).await);
        }
    }
}
