//! Pipeline benchmark: a 4 KB chat request through the whole pipeline (parse, detection,
//! policy, audit, cache lookups, transport, response scan, metrics) against a loopback
//! upstream, and in the same run the same request through the bare transport. Clean and
//! with a dozen findings; with the detection cache warm (a conversation resending turns)
//! and cold (every text new). Also: sixteen concurrent embedding calls with and without
//! micro-batching; a batch's input file uploaded; naming a request's route.

use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::texts;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use sentinel_client::{MicroBatchConfig, PipelineRequest, Route, SentinelClient, SentinelConfig};
use sentinel_transport::{OutboundRequest, Transport};
use serde_json::json;

/// The upstream's answers: embeddings per input, one fixed chat completion otherwise.
fn answer(path: &str, body: &[u8]) -> Bytes {
    let answer = if path.ends_with("/embeddings") {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let n = v["input"].as_array().map_or(1, Vec::len);
        let data: Vec<_> = (0..n)
            .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.5, 0.25]}))
            .collect();
        json!({"object": "list", "data": data})
    } else {
        json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Happy to help with that request."}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 900, "completion_tokens": 7, "total_tokens": 907}})
    };
    Bytes::from(answer.to_string())
}

fn chat_body(text: &str) -> Bytes {
    Bytes::from(json!({"model": "m", "messages": [{"role": "user", "content": text}]}).to_string())
}

fn pipeline(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let upstream = rt.block_on(sentinel_testkit::spawn(|path: String, body: Bytes| async move {
        sentinel_testkit::json(200, answer(&path, &body))
    }));
    let addr = upstream.addr;
    // Every finding redacted (numbered), none blocked: the prompt with a dozen findings
    // holds secrets that the presets would block before the upstream.
    let dir = std::env::temp_dir().join(format!("deepsentinel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "version = \"bench\"\ndefault_action = \"redact\"\n",
    )
    .expect("policy");
    let build = |extra: &str| {
        let cfg = SentinelConfig::from_toml(
            "bench",
            &format!("[network]\nupstream = \"http://{addr}/v1\"\napi_key_env = \"DEEPSENTINEL_BENCH_NO_KEY\"\n[policy]\nfile = \"{}\"\n{extra}", policy.display()),
        )
        .expect("config");
        rt.block_on(async { Arc::new(cfg.build().expect("pipeline")) })
    };
    let warm = build("");
    // A detection cache too small to hold anything: every scan is a miss.
    let cold = build("[detection]\ncache_max_bytes = 1\n");
    let clean = chat_body(&texts::prompt_clean());
    let pii = chat_body(&texts::prompt_pii());
    // The PII prompt as a tool call's JSON arguments (its line breaks escaped): read
    // unescaped, mapped back, its replacements written into JSON text.
    let arguments = json!({ "q": texts::prompt_pii() }).to_string();
    let tool_args = Bytes::from(
        json!({"model": "m", "messages": [
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "lookup", "arguments": arguments}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "done"}]})
        .to_string(),
    );
    let transport = rt.block_on(async {
        sentinel_transport::HttpTransport::new(
            sentinel_transport::TransportConfig::default(),
            vec![sentinel_transport::Upstream::single(
                sentinel_transport::Endpoint::new("bare", &format!("http://{addr}/v1"))
                    .expect("endpoint"),
            )],
        )
        .expect("transport")
    });
    let mut g = c.benchmark_group("pipeline");
    g.bench_function("bare_transport_4kb", |b| {
        b.to_async(&rt).iter(|| async {
            let r = transport
                .send(OutboundRequest::post_json(
                    "/chat/completions",
                    clean.clone(),
                ))
                .await
                .expect("send");
            r.bytes().await.expect("body")
        })
    });
    for (name, p, body) in [
        ("clean_4kb_warm", &warm, &clean),
        ("clean_4kb_cold", &cold, &clean),
        ("12_findings_4kb_warm", &warm, &pii),
        ("12_findings_4kb_cold", &cold, &pii),
        ("12_findings_4kb_tool_arguments_cold", &cold, &tool_args),
    ] {
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                p.handle(PipelineRequest::new(
                    Route::ChatCompletions,
                    "bench",
                    body.clone(),
                ))
                .await
                .expect("answer")
            })
        });
    }
    g.finish();

    // A batch's input file of 256 chat requests (about 1 MB, half of them with a dozen
    // findings), uploaded through the pipeline with every text new to the detection cache:
    // the JSONL read line by line, each body walked, decided and written again.
    let mut jsonl = String::new();
    for i in 0..256 {
        let text = if i % 2 == 0 {
            texts::prompt_clean()
        } else {
            texts::prompt_pii()
        };
        let line = json!({"custom_id": format!("r{i}"), "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": text}]}});
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    let boundary = "bench-boundary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\
         Content-Type: application/jsonl\r\n\r\n"
    );
    form.push_str(&jsonl);
    form.push_str(&format!("\r\n--{boundary}--\r\n"));
    let form = Bytes::from(form);
    let mut g = c.benchmark_group("files");
    g.sample_size(10);
    g.throughput(criterion::Throughput::Bytes(jsonl.len() as u64));
    g.bench_function("batch_upload_256_requests_cold", |b| {
        b.to_async(&rt).iter(|| async {
            let mut req = PipelineRequest::new(Route::Files, "bench", form.clone());
            req.content_type = Some(format!("multipart/form-data; boundary={boundary}"));
            cold.handle(req).await.expect("uploaded")
        })
    });
    g.finish();

    // Which route a gateway request names: the first route, one in the middle of the 41,
    // one with two ids, and a path none names (every route looked at).
    let mut g = c.benchmark_group("route_of");
    for (name, method, path) in [
        (
            "chat_completions",
            http::Method::POST,
            "/v1/chat/completions",
        ),
        ("messages", http::Method::POST, "/v1/messages"),
        (
            "conversation_item",
            http::Method::DELETE,
            "/v1/conversations/conv_123/items/msg_456",
        ),
        (
            "unknown",
            http::Method::POST,
            "/v1/vector_stores/vs_1/search",
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| Route::of(std::hint::black_box(&method), std::hint::black_box(path)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("micro_batching");
    g.sample_size(20);
    for (name, batching) in [
        ("16_concurrent_embeddings_unbatched", None),
        (
            "16_concurrent_embeddings_batched",
            Some(MicroBatchConfig {
                max_batch: 16,
                max_wait: Duration::from_millis(2),
            }),
        ),
    ] {
        let mut client = SentinelClient::from_pipeline(Arc::clone(&warm), "bench");
        if let Some(cfg) = batching {
            client = client.with_micro_batching(cfg);
        }
        g.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let client = client.clone();
                async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut tasks = Vec::new();
                        for i in 0..16 {
                            let c = client.clone();
                            tasks.push(tokio::spawn(async move {
                                let req = serde_json::from_value(json!({"model": "e", "input": format!("sentence number {i} to embed")})).expect("request");
                                c.embeddings().create(req).await.expect("embedding")
                            }));
                        }
                        for t in tasks {
                            t.await.expect("task");
                        }
                    }
                    start.elapsed()
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
