//! The response cache's Redis level (`[cache] redis_url`) against a real redis-server on
//! 127.0.0.1: replicas share answers, and Redis holds them sealed.

use std::sync::atomic::Ordering;

use sentinel_client::{PipelineRequest, Route, SentinelClient, SentinelConfig};
use sentinel_testkit::RedisServer;
use serde_json::json;

use crate::sdk::{body_of, client};
use crate::upstream::{start, Upstream};

const SHARED: &str = "SENTINEL_CLIENT_TEST_CACHE_KEY";
const OTHER: &str = "SENTINEL_CLIENT_TEST_OTHER_CACHE_KEY";

fn replica(up: &Upstream, redis: &RedisServer, key_env: &str) -> SentinelClient {
    client(
        up,
        &format!(
            "[cache]\nresponse = true\nredis_url = \"{}\"\nredis_key_env = \"{key_env}\"\nredis_timeout_ms = 500\n",
            redis.url()
        ),
    )
}

async fn ask(c: &SentinelClient) -> (bool, String) {
    let body = json!({"model": "echo", "temperature": 0,
        "messages": [{"role": "user", "content": "Reply with the code word: pineapple"}]});
    let r = crate::sdk::respond(c, Route::ChatCompletions, &body).await;
    (r.cache_hit, body_of(r).await)
}

/// A connection to `redis`, and the names it holds that match `pattern`.
async fn redis_keys(
    redis: &RedisServer,
    pattern: &str,
) -> (redis::aio::MultiplexedConnection, Vec<String>) {
    let mut conn = redis::Client::open(redis.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .expect("keys");
    (conn, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_answers_through_redis_and_redis_holds_them_sealed() {
    let redis = RedisServer::start();
    let up = start().await;
    std::env::set_var(SHARED, "the replicas' shared secret, 32 characters or more");
    std::env::set_var(OTHER, "a secret the other replicas do not share");
    let a = replica(&up, &redis, SHARED);
    let b = replica(&up, &redis, SHARED);
    let stranger = replica(&up, &redis, OTHER);

    let (hit, first) = ask(&a).await;
    assert!(!hit && first.contains("pineapple"), "{first}");
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), 1);
    // The other replica has never seen it: its answer comes from Redis.
    let (hit, second) = ask(&b).await;
    assert!(hit, "served from the shared level");
    assert_eq!(second, first);
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), 1);
    // A replica under another secret cannot open the entry and asks the upstream.
    let (hit, third) = ask(&stranger).await;
    assert!(!hit);
    assert_eq!(third, first);
    assert_eq!(up.seen.calls.load(Ordering::SeqCst), 2);

    // What Redis holds is sealed: the answer's text is not in it.
    let (mut conn, keys) = redis_keys(&redis, "deepsentinel:response:*").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let held: Vec<u8> = redis::cmd("GET")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .expect("get");
    assert!(held.len() > 40);
    assert!(!held.windows(9).any(|w| w == b"pineapple"), "sealed");
}

#[tokio::test]
async fn a_redis_level_needs_a_sealing_secret_and_a_url_that_parses() {
    let config = |extra: &str| {
        SentinelConfig::from_toml("test.toml", &format!("[cache]\nresponse = true\n{extra}"))
            .expect("parses")
    };
    let err = config(
        "redis_url = \"redis://127.0.0.1:1/0\"\nredis_key_env = \"SENTINEL_CLIENT_TEST_UNSET_KEY\"\n",
    )
    .check()
    .expect_err("no secret");
    assert!(
        err.to_string().contains("SENTINEL_CLIENT_TEST_UNSET_KEY"),
        "{err}"
    );
    std::env::set_var(SHARED, "the replicas' shared secret, 32 characters or more");
    let err = config(&format!(
        "redis_url = \"nosuch://:hunter2@127.0.0.1:1/0\"\nredis_key_env = \"{SHARED}\"\n"
    ))
    .check()
    .expect_err("not a Redis URL");
    assert!(err.to_string().contains("redis_url"), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let c = config(&format!(
        "redis_url = \"redis://:hunter2@127.0.0.1:1/0\"\nredis_key_env = \"{SHARED}\"\n"
    ));
    c.check().expect("a usable Redis level");
    assert!(!format!("{c:?}").contains("hunter2"));
}

/// Tokens for every value, so a quoted token is found as nothing when it comes back in a
/// request (a surrogate card would be found and pseudonymized again).
const TOKENS: &str = r#"version = "1"
pseudonym_key_env = "SENTINEL_CLIENT_TEST_PSEUDONYM_KEY"
[[rule]]
groups = ["pii", "pci"]
action = "pseudonymize"
pseudonym = "token"
direction = "request"
"#;

/// A replica that pseudonymizes with [`TOKENS`] (its policy file written into `dir`),
/// with the shared secret's Redis level, sharing its vault there or not.
fn token_replica(
    up: &Upstream,
    redis: &RedisServer,
    dir: &std::path::Path,
    share: bool,
) -> SentinelClient {
    std::env::set_var(SHARED, "the replicas' shared secret, 32 characters or more");
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, TOKENS).expect("write");
    client(
        up,
        &format!(
            "[policy]\nfile = \"{}\"\n[cache]\nredis_url = \"{}\"\nredis_key_env = \"{SHARED}\"\n\
             redis_timeout_ms = 500\nshare_vault = {share}\n",
            policy.display(),
            redis.url()
        ),
    )
}

/// The answer's text to `text`, said in `conversation`.
async fn say(c: &SentinelClient, conversation: &str, text: &str) -> String {
    let mut req = PipelineRequest::new(
        Route::ChatCompletions,
        "t",
        serde_json::to_vec(&json!({"model": "echo",
            "messages": [{"role": "user", "content": text}]}))
        .expect("json"),
    );
    req.conversation = Some(conversation.to_owned());
    let body = body_of(c.pipeline().handle(req).await.expect("answer")).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["choices"][0]["message"]["content"]
        .as_str()
        .expect("text")
        .to_owned()
}

/// A conversation's pseudonyms restore on a replica that never saw their values, through
/// the vault scopes in Redis (what a stateful API needs, where the provider holds the
/// earlier turns and the model quotes their pseudonyms); Redis holds the scope sealed;
/// without `share_vault`, or in another conversation, they stay as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversations_pseudonyms_restore_on_any_replica_through_redis() {
    let redis = RedisServer::start();
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let replica = |share: bool| token_replica(&up, &redis, dir.path(), share);
    let (a, b, alone) = (replica(true), replica(true), replica(false));
    let prompt = "mail jane.doe@example.com about card 4111 1111 1111 1111";
    assert_eq!(say(&a, "conv-1", prompt).await, prompt);
    let body = up.seen.last("/v1/chat/completions").expect("sent");
    let sent = serde_json::from_slice::<serde_json::Value>(&body).expect("json")["messages"][0]
        ["content"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(
        sent.contains("[EMAIL_ADDRESS_") && !sent.contains("jane.doe"),
        "{sent}"
    );

    // The model quotes the first turn on another replica.
    let quoted = format!("As you said: {sent}");
    assert_eq!(
        say(&b, "conv-1", &quoted).await,
        format!("As you said: {prompt}")
    );
    // Back on the first replica, which holds the scope from the first turn, a turn that
    // quotes what the second replica was given: the scope is read again, not trusted stale.
    let later = "and call 10.20.30.40";
    assert_eq!(say(&b, "conv-1", later).await, later);
    let body = up.seen.last("/v1/chat/completions").expect("sent");
    let sent_later = serde_json::from_slice::<serde_json::Value>(&body).expect("json")["messages"]
        [0]["content"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(sent_later.contains("[IP_ADDRESS_"), "{sent_later}");
    assert_eq!(
        say(&a, "conv-1", &format!("Quoting: {sent_later}")).await,
        format!("Quoting: {later}")
    );
    assert_eq!(say(&alone, "conv-1", &quoted).await, quoted, "not shared");
    assert_eq!(say(&b, "conv-2", &quoted).await, quoted, "another scope");

    let (mut conn, keys) = redis_keys(&redis, "deepsentinel:vault:*").await;
    assert_eq!(
        keys.len(),
        1,
        "one conversation issued pseudonyms: {keys:?}"
    );
    // A hash: each pseudonym a field, its way back sealed.
    let held: Vec<Vec<u8>> = redis::cmd("HGETALL")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .expect("hgetall");
    assert_eq!(held.len(), 2 * 3, "three pseudonyms, each a field");
    assert!(
        held.iter().all(|x| !x.windows(8).any(|w| w == b"jane.doe")),
        "sealed"
    );
    let ttl: i64 = redis::cmd("TTL")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .expect("ttl");
    assert!(ttl > 3000 && ttl <= 3600, "the vault's TTL: {ttl}");

    // Without a Redis level there is nothing to share through.
    let err = SentinelConfig::from_toml("test.toml", "[cache]\nshare_vault = true\n")
        .expect("parses")
        .check()
        .expect_err("share_vault without redis_url");
    assert!(err.to_string().contains("redis_url"), "{err}");
}

/// A Responses API turn through `c`: the answer's id and text (whole, or the deltas of a
/// stream).
async fn respond(
    c: &SentinelClient,
    input: &str,
    previous: Option<&str>,
    stream: bool,
) -> (String, String) {
    let mut body = json!({"model": "remember", "input": input, "stream": stream});
    if let Some(p) = previous {
        body["previous_response_id"] = json!(p);
    }
    let req = PipelineRequest::new(
        Route::Responses,
        "t",
        serde_json::to_vec(&body).expect("json"),
    );
    let out = body_of(c.pipeline().handle(req).await.expect("answer")).await;
    if !stream {
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        let text = v["output"][1]["content"][0]["text"]
            .as_str()
            .expect("text")
            .to_owned();
        return (v["id"].as_str().expect("id").to_owned(), text);
    }
    let mut id = String::new();
    let mut text = String::new();
    for line in out.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let e: serde_json::Value = serde_json::from_str(data).expect("event");
        match e["type"].as_str() {
            Some("response.created") => id = e["response"]["id"].as_str().expect("id").to_owned(),
            Some("response.output_text.delta") => {
                text.push_str(e["delta"].as_str().expect("delta"))
            }
            _ => {}
        }
    }
    (id, text)
}

/// A Responses API conversation continued by `previous_response_id` (the provider holds
/// the earlier turns, the request carries none of their values) restores the pseudonyms
/// the model quotes from them: in one process, and on another replica through the shared
/// vault, whole or streamed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responses_chain_restores_pseudonyms_from_earlier_turns() {
    let redis = RedisServer::start();
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let replica = |share: bool| token_replica(&up, &redis, dir.path(), share);
    let said = "mail jane.doe@example.com";
    let quoted = format!("Earlier you said: {said}");

    // One process: the first turn's scope follows its answer's id.
    let alone = replica(false);
    let (first, text) = respond(&alone, said, None, false).await;
    assert_eq!(text, said);
    let (second, text) = respond(&alone, "and then?", Some(&first), false).await;
    assert_eq!(text, quoted);
    // A third turn continues the second's answer, still the same scope.
    let (_, text) = respond(&alone, "again?", Some(&second), true).await;
    assert_eq!(text, "Earlier you said: and then?");
    // Another replica without the shared vault cannot know it.
    let other = replica(false);
    let (_, text) = respond(&other, "and then?", Some(&first), false).await;
    assert!(
        text.starts_with("Earlier you said: mail [EMAIL_ADDRESS_"),
        "{text}"
    );

    // Replicas sharing the vault: a streamed first turn on one, the next on the other.
    let (a, b) = (replica(true), replica(true));
    let (first, text) = respond(&a, said, None, true).await;
    assert_eq!(text, said);
    let (_, text) = respond(&b, "and then?", Some(&first), false).await;
    assert_eq!(text, quoted);
    let (_, text) = respond(&b, "and then?", Some(&first), true).await;
    assert_eq!(text, quoted);
}

/// A client with the response cache's Redis level and the shared vault both on, and a
/// policy that pseudonymizes (its file in the directory returned).
fn cache_and_vault_client(
    up: &Upstream,
    redis: &RedisServer,
) -> (SentinelClient, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    std::env::set_var(SHARED, "the replicas' shared secret, 32 characters or more");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, TOKENS).expect("write");
    let c = client(
        up,
        &format!(
            "[policy]\nfile = \"{}\"\n[cache]\nresponse = true\nredis_url = \"{}\"\n\
             redis_key_env = \"{SHARED}\"\nredis_timeout_ms = 500\nshare_vault = true\n",
            policy.display(),
            redis.url()
        ),
    );
    (c, dir)
}

/// With both the response cache's level and the shared vault on, a replica holds one
/// connection to Redis, not one per use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_cache_and_the_vault_share_one_connection() {
    let redis = RedisServer::start();
    let up = start().await;
    let (c, _dir) = cache_and_vault_client(&up, &redis);
    // An answer cached, and a conversation's scope written.
    let (hit, _) = ask(&c).await;
    assert!(!hit);
    say(&c, "conv-one", "mail jane.doe@example.com").await;
    let (mut conn, answers) = redis_keys(&redis, "deepsentinel:response:*").await;
    let scopes: Vec<String> = redis::cmd("KEYS")
        .arg("deepsentinel:vault:*")
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert!(
        !answers.is_empty() && !scopes.is_empty(),
        "both levels used"
    );
    // Every client but the one asking: the replica's.
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .expect("client list");
    let others = clients
        .lines()
        .filter(|l| !l.contains("cmd=client"))
        .count();
    assert_eq!(others, 1, "{clients}");
}

/// A batch file uploaded on one replica has its pseudonyms restored in the batch's output
/// read on another: the upload's scope is shared, and the file, the batch and its output
/// file are chained to it through Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_uploaded_on_one_replica_is_restored_on_another() {
    let redis = RedisServer::start();
    let up = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (
        token_replica(&up, &redis, dir.path(), true),
        token_replica(&up, &redis, dir.path(), true),
    );
    let said = "mail jane.doe@example.com today";
    let uploaded = crate::sdk::upload_one_request(&a, "echo", said).await;
    let sent = up.seen.files.lock().expect("lock")[0].2.clone();
    assert!(!String::from_utf8_lossy(&sent).contains("jane.doe"));

    // Everything after the upload on the other replica.
    let create = PipelineRequest::new(
        Route::Batches,
        "t",
        json!({"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions",
            "completion_window": "24h"})
        .to_string(),
    );
    let batch: serde_json::Value =
        serde_json::from_str(&body_of(b.pipeline().handle(create).await.expect("batch")).await)
            .expect("json");
    let id = batch["id"].as_str().expect("an id");
    let done: serde_json::Value =
        serde_json::from_str(&crate::sdk::on_stored(&b, Route::BatchesRetrieve, id, None).await)
            .expect("json");
    let output = done["output_file_id"].as_str().expect("an output file");
    let content = crate::sdk::on_stored(&b, Route::FilesContent, output, None).await;
    let answer: serde_json::Value = serde_json::from_str(content.trim()).expect("a line");
    assert_eq!(
        answer["response"]["body"]["choices"][0]["message"]["content"],
        said
    );
}

/// `Pipeline::cache_sizes`, what `/metrics` and `/v1/sentinel/stats` show: what each cache
/// holds, and whether a shared level is down, which it is once Redis stops answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_sizes_show_what_is_held_and_a_shared_level_going_down() {
    let mut redis = RedisServer::start();
    let up = start().await;
    let (c, _dir) = cache_and_vault_client(&up, &redis);
    let sizes = |c: &SentinelClient| {
        c.pipeline()
            .cache_sizes()
            .into_iter()
            .map(|s| (s.cache, s))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let before = sizes(&c);
    assert_eq!(before["response"].entries, Some(0));
    let (hit, _) = ask(&c).await;
    assert!(!hit);
    say(&c, "conv-one", "mail jane.doe@example.com").await;
    // Long enough for the detection cache (short texts are scanned again instead).
    let long = json!({"model": "echo",
        "messages": [{"role": "user", "content": "a longer question ".repeat(20)}]});
    let _ = crate::sdk::respond(&c, Route::ChatCompletions, &long).await;
    let held = sizes(&c);
    assert_eq!(held["response"].entries, Some(1), "{held:?}");
    assert!(held["response"].bytes.is_some_and(|b| b > 0));
    assert_eq!(held["response"].degraded, Some(false));
    assert_eq!(held["vault"].degraded, Some(false));
    assert!(held["detection"].entries.is_some_and(|n| n > 0), "{held:?}");
    assert_eq!(held["detection"].degraded, None, "memory only");
    assert!(!held.contains_key("remote_detection"));

    redis.stop();
    let body = json!({"model": "echo", "temperature": 0,
        "messages": [{"role": "user", "content": "another question, not cached"}]});
    let _ = crate::sdk::respond(&c, Route::ChatCompletions, &body).await;
    say(&c, "conv-two", "mail john.roe@example.com").await;
    let down = sizes(&c);
    assert_eq!(down["response"].degraded, Some(true), "{down:?}");
    assert_eq!(down["vault"].degraded, Some(true));
}
