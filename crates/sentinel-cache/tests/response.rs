use std::time::Duration;

use bytes::Bytes;
use sentinel_cache::{
    response_key, response_key_varying, CacheValue, Cacheability, CachedBody, CachedResponse,
    ResponseCachePolicy,
};
use serde_json::{json, Value};

const CHAT: &str = "/v1/chat/completions";

fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("json")
}

#[test]
fn keys_ignore_field_order_whitespace_and_number_spelling() {
    let a = parse(
        r#"{"model":"gpt-4o","temperature":0,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"b":1,"a":2}}}]}"#,
    );
    let b = parse(
        r#"{
        "tools": [ { "function": { "parameters": { "a": 2.0, "b": 1 }, "name": "f" }, "type": "function" } ],
        "messages": [ { "content": "hi", "role": "user" } ],
        "temperature": 0.0,
        "model": "gpt-4o"
    }"#,
    );
    assert_eq!(
        response_key("acme", None, CHAT, &a),
        response_key("acme", None, CHAT, &b)
    );
    // Tenants never share an entry.
    assert_ne!(
        response_key("acme", None, CHAT, &a),
        response_key("globex", None, CHAT, &a)
    );
    // Nor do callers forwarding their own upstream keys, with each other or with the
    // configured key.
    let own = response_key("acme", Some(b"Bearer sk-one"), CHAT, &a);
    assert_ne!(own, response_key("acme", Some(b"Bearer sk-two"), CHAT, &a));
    assert_ne!(own, response_key("acme", None, CHAT, &a));
    assert_eq!(own, response_key("acme", Some(b"Bearer sk-one"), CHAT, &b));
    // Anything that changes the answer changes the key.
    for change in [
        json!({"temperature": 0.5}),
        json!({"max_tokens": 10}),
        json!({"seed": 7}),
        json!({"top_p": 0.9}),
        json!({"response_format": {"type": "json_object"}}),
        json!({"model": "gpt-4o-mini"}),
    ] {
        let mut c = a.clone();
        for (k, v) in change.as_object().expect("object") {
            c[k] = v.clone();
        }
        assert_ne!(
            response_key("acme", None, CHAT, &a),
            response_key("acme", None, CHAT, &c),
            "{change}"
        );
    }
    assert_ne!(
        response_key("acme", None, CHAT, &a),
        response_key("acme", None, "/v1/completions", &a)
    );
    // Message order matters.
    let m1 = json!({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]});
    let m2 = json!({"model":"m","messages":[{"role":"user","content":"b"},{"role":"user","content":"a"}]});
    assert_ne!(
        response_key("t", None, CHAT, &m1),
        response_key("t", None, CHAT, &m2)
    );
    // Headers that change the answer (a beta feature asked for by header) change the key;
    // without any the key is the plain one.
    let beta: &[(&[u8], &[u8])] = &[(b"anthropic-beta", b"output-128k")];
    let other: &[(&[u8], &[u8])] = &[(b"anthropic-beta", b"context-1m")];
    let plain = response_key("acme", None, CHAT, &a);
    assert_eq!(response_key_varying("acme", None, CHAT, &[], &a), plain);
    let with_beta = response_key_varying("acme", None, CHAT, beta, &a);
    assert_ne!(with_beta, plain);
    assert_ne!(
        with_beta,
        response_key_varying("acme", None, CHAT, other, &a)
    );
    assert_eq!(
        with_beta,
        response_key_varying("acme", None, CHAT, beta, &b)
    );
}

#[test]
fn only_deterministic_or_opted_in_requests_are_cacheable() {
    let on = ResponseCachePolicy {
        enabled: true,
        ..ResponseCachePolicy::default()
    };
    let det = json!({"model":"m","temperature":0,"messages":[]});
    let random = json!({"model":"m","messages":[]});
    assert_eq!(
        ResponseCachePolicy::default().cacheability(CHAT, &det, None, false),
        Cacheability::Bypass("disabled")
    );
    assert_eq!(on.cacheability(CHAT, &det, None, false), Cacheability::Use);
    assert_eq!(
        on.cacheability(CHAT, &random, None, false),
        Cacheability::Bypass("nondeterministic")
    );
    assert_eq!(
        on.cacheability(CHAT, &random, None, true),
        Cacheability::Use
    );
    assert_eq!(
        on.cacheability(
            "/v1/embeddings",
            &json!({"model":"e","input":"x"}),
            None,
            false
        ),
        Cacheability::Use
    );
    assert_eq!(
        on.cacheability(CHAT, &det, Some("max-age=0, No-Store"), false),
        Cacheability::Bypass("no_store")
    );
    assert_eq!(
        on.cacheability(CHAT, &det, Some("no-cache"), false),
        Cacheability::Refresh
    );
    let limited = ResponseCachePolicy {
        routes: vec!["/v1/embeddings".into()],
        models: vec!["m".into()],
        ..on.clone()
    };
    assert_eq!(
        limited.cacheability(CHAT, &det, None, false),
        Cacheability::Bypass("route")
    );
    assert_eq!(
        limited.cacheability("/v1/embeddings", &json!({"model":"x"}), None, false),
        Cacheability::Bypass("model")
    );
    assert_eq!(on.ttl, Duration::from_secs(300));
}

#[test]
fn responses_and_event_streams_round_trip() {
    for body in [
        CachedBody::Full(Bytes::from_static(b"{\"id\":\"x\"}")),
        CachedBody::Events(vec![
            Bytes::from_static(b"data: {\"a\":1}\n\n"),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ]),
    ] {
        let r = CachedResponse {
            status: 200,
            content_type: "text/event-stream".into(),
            body,
        };
        let bytes = r.encode();
        assert_eq!(CachedResponse::decode(&bytes), Some(r.clone()));
        assert!(CachedResponse::decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(r.weight() > 0);
    }
    assert!(CachedResponse::decode(b"garbage").is_none());
}
