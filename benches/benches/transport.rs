//! Transport benchmark: a 1 KB JSON POST to a loopback HTTP/1.1 server through the full
//! stack (priority limiter, balancer over two endpoints with power of two choices, circuit
//! breakers, retry budget, pooled client) and, in the same run, through a bare hyper-util
//! pooled client. The difference is what the stack adds per request.

use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sentinel_transport::{
    Endpoint, HttpTransport, LimitConfig, OutboundRequest, Strategy, Transport, TransportConfig,
    Upstream,
};

const ANSWER: &[u8] = br#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#;

fn transport(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let upstream = rt.block_on(sentinel_testkit::spawn(|_, _| async {
        sentinel_testkit::json(200, Bytes::from_static(ANSWER))
    }));
    let addr = upstream.addr;
    let body = Bytes::from(format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "a".repeat(1000)
    ));
    let url = format!("http://{addr}");
    let stack = rt.block_on(async {
        let endpoints = vec![
            Endpoint::new("a", &url).expect("endpoint"),
            Endpoint::new("b", &url).expect("endpoint"),
        ];
        HttpTransport::new(
            TransportConfig {
                concurrency: Some(LimitConfig::default()),
                ..TransportConfig::default()
            },
            vec![Upstream {
                name: "bench".into(),
                endpoints,
                strategy: Strategy::PowerOfTwoChoices,
            }],
        )
        .expect("transport")
    });
    let bare = rt.block_on(async {
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.set_nodelay(true);
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build::<_, Full<Bytes>>(http)
    });
    let uri: http::Uri = format!("{url}/chat/completions").parse().expect("uri");
    let mut g = c.benchmark_group("transport");
    g.bench_function("bare_hyper_util_post_1kb", |b| {
        b.to_async(&rt).iter(|| async {
            let req = http::Request::post(uri.clone())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()))
                .expect("request");
            let resp = bare.request(req).await.expect("response");
            resp.into_body().collect().await.expect("body").to_bytes()
        })
    });
    g.bench_function("full_stack_post_1kb", |b| {
        b.to_async(&rt).iter(|| async {
            let resp = stack
                .send(OutboundRequest::post_json(
                    "/chat/completions",
                    body.clone(),
                ))
                .await
                .expect("response");
            resp.bytes().await.expect("body")
        })
    });
    g.finish();
}

criterion_group!(benches, transport);
criterion_main!(benches);
