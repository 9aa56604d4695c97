use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::Version;
use http_body_util::BodyExt;
use sentinel_transport::{
    BreakerConfig, CircuitState, Endpoint, HttpTransport, LimitConfig, OutboundRequest, Priority,
    PriorityLimiter, RetryConfig, Strategy, Transport, TransportError, Upstream,
};

use crate::server::{full, handler, respond, start, start_tls, Body};
use crate::{quick_config, transport, upstream};

fn ok_server() -> crate::server::Handler {
    handler(|_req, _n| async { respond(200, "{\"ok\":true}") })
}

async fn get_ok(t: &HttpTransport) -> Bytes {
    let r = t.send(OutboundRequest::get("/x")).await.expect("send");
    assert_eq!(r.status, 200);
    r.bytes().await.expect("body")
}

#[tokio::test]
async fn http1_connections_are_pooled_and_reused() {
    let s = start(ok_server()).await;
    let t = transport(quick_config(), &[s.url()]);
    for _ in 0..10 {
        assert_eq!(&get_ok(&t).await[..], b"{\"ok\":true}");
    }
    assert_eq!(s.requests(), 10);
    assert_eq!(
        s.accepted(),
        1,
        "one connection for ten sequential requests"
    );
    assert!(s
        .versions
        .lock()
        .expect("lock")
        .iter()
        .all(|v| *v == Version::HTTP_11));
}

/// The pool gauge follows the connections hyper keeps: raised as each opens, lowered as
/// idle ones are reaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_gauge_counts_open_connections() {
    let s = start(handler(|_req, _n| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        respond(200, "{}")
    }))
    .await;
    let recorder = sentinel_metrics::prometheus_recorder().expect("recorder");
    let handle = recorder.handle();
    let mut config = quick_config();
    config.pool.idle_timeout = Duration::from_millis(300);
    // The gauge's handles are resolved against the recorder current at construction.
    let t = Arc::new(metrics::with_local_recorder(&recorder, || {
        transport(config, &[s.url()])
    }));
    let open = || -> f64 {
        let text = handle.render();
        text.lines()
            .find_map(|l| {
                l.strip_prefix("deepsentinel_upstream_pool_connections{upstream=\"up-0\"} ")
            })
            .map_or(-1.0, |v| v.parse().expect("a number"))
    };
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let t = Arc::clone(&t);
            tokio::spawn(async move { get_ok(&t).await })
        })
        .collect();
    for c in calls {
        c.await.expect("call");
    }
    // Three requests at once on HTTP/1.1: a connection each, kept idle in the pool.
    assert!(s.accepted() >= 2, "{} connections", s.accepted());
    assert_eq!(open(), s.accepted() as f64);
    // The health page's count is the same one.
    let endpoint = &t.pools()[0].endpoints()[0];
    assert_eq!(endpoint.connections(), s.accepted());
    let deadline = Instant::now() + Duration::from_secs(5);
    while open() != 0.0 || endpoint.connections() != 0 {
        assert!(Instant::now() < deadline, "still open: {}", open());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn h2c_with_prior_knowledge_multiplexes_on_one_connection() {
    let s = start(handler(|_r, _n| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        respond(200, "ok")
    }))
    .await;
    let mut c = quick_config();
    c.pool.http2_prior_knowledge = true;
    let t = Arc::new(transport(c, &[s.url()]));
    // Warm the connection, then ten at once share it.
    get_ok(&t).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move { get_ok(&t).await }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(s.accepted(), 1);
    assert!(s
        .versions
        .lock()
        .expect("lock")
        .iter()
        .all(|v| *v == Version::HTTP_2));
}

#[tokio::test]
async fn tls_negotiates_http2_by_alpn_and_falls_back_to_http1() {
    for (alpn, version) in [
        (&[&b"h2"[..], &b"http/1.1"[..]][..], Version::HTTP_2),
        (&[&b"http/1.1"[..]][..], Version::HTTP_11),
    ] {
        let (s, der) = start_tls(ok_server(), alpn).await;
        let mut c = quick_config();
        c.tls.test_roots = vec![der];
        let t = transport(c, &[s.https_url()]);
        get_ok(&t).await;
        get_ok(&t).await;
        assert_eq!(s.accepted(), 1);
        assert_eq!(s.versions.lock().expect("lock")[0], version);
    }
    // Without trusting the certificate the handshake fails, as a connect error.
    let (s, _) = start_tls(ok_server(), &[b"http/1.1"]).await;
    let mut c = quick_config();
    c.retry.max_retries = 0;
    let err = transport(c, &[s.https_url()])
        .send(OutboundRequest::get("/"))
        .await
        .expect_err("untrusted");
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn each_timeout_is_its_own_error() {
    let s = start(handler(|req, _n| async move {
        match req.uri().path() {
            "/slow-headers" => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                respond(200, "late")
            }
            "/stall" => {
                let (mut tx, body) =
                    http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
                tokio::spawn(async move {
                    let _ = tx.send_data(Bytes::from_static(b"first")).await;
                    tokio::time::sleep(Duration::from_secs(5)).await;
                });
                http::Response::new(BodyExt::boxed(body))
            }
            _ => {
                // A trickle: a byte every 50 ms, forever.
                let (mut tx, body) =
                    http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
                tokio::spawn(async move {
                    while tx.send_data(Bytes::from_static(b".")).await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                });
                http::Response::new(BodyExt::boxed(body))
            }
        }
    }))
    .await;
    let mut c = quick_config();
    c.timeouts.headers = Duration::from_millis(300);
    c.timeouts.idle = Duration::from_millis(300);
    c.timeouts.total = Duration::from_millis(900);
    let t = transport(c, &[s.url()]);
    let err = t
        .send(OutboundRequest::get("/slow-headers"))
        .await
        .expect_err("slow");
    assert!(
        matches!(err, TransportError::HeadersTimeout { .. }),
        "{err}"
    );

    let mut body = t
        .send(OutboundRequest::get("/stall"))
        .await
        .expect("headers")
        .into_body();
    assert_eq!(
        &body.chunk().await.expect("chunk").expect("data")[..],
        b"first"
    );
    let err = body.chunk().await.expect("an error").expect_err("idle");
    assert!(matches!(err, TransportError::IdleTimeout { .. }), "{err}");
    assert!(body.chunk().await.is_none(), "finished after an error");

    let body = t
        .send(OutboundRequest::get("/trickle"))
        .await
        .expect("headers")
        .into_body();
    let err = body.collect().await.expect_err("total");
    assert!(matches!(err, TransportError::TotalTimeout { .. }), "{err}");
}

#[tokio::test]
async fn bad_upstreams_give_typed_errors_and_bounded_memory() {
    let s = start(handler(|req, _n| async move {
        match req.uri().path() {
            "/endless" => {
                let (mut tx, body) =
                    http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
                tokio::spawn(async move {
                    let chunk = Bytes::from(vec![b'x'; 64 << 10]);
                    while tx.send_data(chunk.clone()).await.is_ok() {}
                });
                http::Response::new(BodyExt::boxed(body))
            }
            "/reset" => {
                let (mut tx, body) =
                    http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
                tokio::spawn(async move {
                    let _ = tx.send_data(Bytes::from_static(b"{\"partial\":")).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    tx.abort(std::io::Error::other("boom"));
                });
                let mut r = http::Response::new(BodyExt::boxed(body));
                r.headers_mut()
                    .insert(http::header::CONTENT_LENGTH, "1000".parse().expect("v"));
                r
            }
            "/huge-headers" => {
                let mut r = respond(200, "x");
                r.headers_mut()
                    .insert("x-big", "a".repeat(100_000).parse().expect("header"));
                r
            }
            "/gzip-bomb" => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                std::io::Write::write_all(&mut enc, &vec![0u8; 32 << 20]).expect("gzip");
                let mut r = respond(200, enc.finish().expect("gzip"));
                r.headers_mut()
                    .insert(http::header::CONTENT_ENCODING, "gzip".parse().expect("v"));
                r
            }
            "/gzip" => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut enc, b"{\"zipped\":true}").expect("gzip");
                let mut r = respond(200, enc.finish().expect("gzip"));
                r.headers_mut()
                    .insert(http::header::CONTENT_ENCODING, "gzip".parse().expect("v"));
                r
            }
            "/echo-encoding" => {
                let enc = req
                    .headers()
                    .get(http::header::CONTENT_ENCODING)
                    .map(|v| v.to_str().unwrap_or_default().to_owned())
                    .unwrap_or_default();
                let body = req.into_body().collect().await.expect("body").to_bytes();
                let plain = sentinel_transport::decode(&enc, &body, 1 << 20).expect("decodes");
                respond(200, format!("{enc}:{}", plain.len()))
            }
            _ => respond(200, "not json {"),
        }
    }))
    .await;
    let mut c = quick_config();
    c.limits.max_body_bytes = 1 << 20;
    c.limits.max_decoded_bytes = 1 << 20;
    c.limits.max_header_bytes = 16 << 10;
    c.retry.max_retries = 0;
    c.compress_requests = true;
    let t = transport(c, &[s.url()]);

    let err = t
        .send(OutboundRequest::get("/endless"))
        .await
        .expect("headers")
        .bytes()
        .await;
    assert!(
        matches!(err, Err(TransportError::BodyTooLarge { limit }) if limit == 1 << 20),
        "{err:?}"
    );
    let err = t
        .send(OutboundRequest::get("/reset"))
        .await
        .expect("headers")
        .bytes()
        .await;
    assert!(matches!(err, Err(TransportError::Body { .. })), "{err:?}");
    let err = t
        .send(OutboundRequest::get("/huge-headers"))
        .await
        .expect_err("headers too large");
    assert!(matches!(err, TransportError::Protocol { .. }), "{err}");
    let err = t
        .send(OutboundRequest::get("/json"))
        .await
        .expect("headers")
        .json::<serde_json::Value>()
        .await;
    assert!(
        matches!(err, Err(TransportError::InvalidJson { .. })),
        "{err:?}"
    );
    let err = t
        .send(OutboundRequest::get("/gzip-bomb").accept_compressed())
        .await
        .expect("headers")
        .bytes()
        .await;
    assert!(
        matches!(err, Err(TransportError::BodyTooLarge { .. })),
        "{err:?}"
    );
    let v: serde_json::Value = t
        .send(OutboundRequest::get("/gzip").accept_compressed())
        .await
        .expect("headers")
        .json()
        .await
        .expect("json");
    assert_eq!(v["zipped"], true);
    // Request bodies of 1 KiB and more are gzipped when configured.
    let body = vec![b'a'; 4096];
    let r = t
        .send(OutboundRequest::post_json("/echo-encoding", body))
        .await
        .expect("send");
    assert_eq!(&r.bytes().await.expect("body")[..], b"gzip:4096");
}

#[tokio::test]
async fn retries_honour_statuses_retry_after_and_the_budget() {
    let s = start(handler(|req, n| async move {
        match (req.uri().path(), n) {
            ("/flaky", _) if n % 3 != 2 => respond(503, "busy"),
            ("/after", _) => {
                let mut r = respond(429, "slow down");
                let v = if n % 2 == 0 {
                    "1".to_owned()
                } else {
                    "0".to_owned()
                };
                r.headers_mut()
                    .insert(http::header::RETRY_AFTER, v.parse().expect("v"));
                r
            }
            ("/date", _) => {
                let at = SystemTime::now() + Duration::from_secs(1);
                let mut r = respond(503, "later");
                r.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    httpdate::fmt_http_date(at).parse().expect("v"),
                );
                r
            }
            ("/far", _) => {
                let mut r = respond(503, "much later");
                r.headers_mut()
                    .insert(http::header::RETRY_AFTER, "3600".parse().expect("v"));
                r
            }
            _ => respond(200, "ok"),
        }
    }))
    .await;
    let t = transport(quick_config(), &[s.url()]);
    let r = t.send(OutboundRequest::get("/flaky")).await.expect("send");
    assert_eq!((r.status.as_u16(), r.attempts), (200, 3));

    // Retry-After in seconds: the retry waits for it (1 s, within tolerance).
    let started = Instant::now();
    let r = t.send(OutboundRequest::get("/after")).await.expect("send");
    let waited = started.elapsed();
    assert!(r.attempts >= 2);
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );

    // As an HTTP date (whole seconds, so up to a second less than asked).
    let started = Instant::now();
    let r = t.send(OutboundRequest::get("/date")).await.expect("send");
    assert_eq!(r.status, 503, "still failing after the retries");
    assert_eq!(r.attempts, 3);
    assert!(started.elapsed() < Duration::from_secs(5));

    // Longer than max_retry_after: returned at once.
    let started = Instant::now();
    let r = t.send(OutboundRequest::get("/far")).await.expect("send");
    assert_eq!((r.status.as_u16(), r.attempts), (503, 1));
    assert!(started.elapsed() < Duration::from_millis(500));

    // No budget: no retries.
    let mut c = quick_config();
    c.retry = RetryConfig {
        budget_ratio: 0.0,
        budget_min_per_second: 0.0,
        ..c.retry
    };
    let t = transport(c, &[s.url()]);
    let before = s.requests();
    let r = t
        .send(OutboundRequest::get("/far-flaky"))
        .await
        .expect("send");
    let _ = r;
    let r = t.send(OutboundRequest::get("/flaky")).await.expect("send");
    assert_eq!(r.attempts, 1);
    assert_eq!(s.requests() - before, 2);
}

#[tokio::test]
async fn connect_failures_retry_on_another_endpoint() {
    let good = start(ok_server()).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let t = transport(quick_config(), &[dead.clone(), good.url()]);
    for _ in 0..6 {
        get_ok(&t).await;
    }
    // Only refused connections: a typed, retryable error after the retries.
    let err = transport(quick_config(), &[dead])
        .send(OutboundRequest::get("/"))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, TransportError::Connect { .. }) && err.is_retryable(),
        "{err}"
    );
}

#[tokio::test]
async fn the_breaker_opens_probes_and_closes() {
    let healthy = Arc::new(AtomicUsize::new(0));
    let h = healthy.clone();
    let s = start(handler(move |_r, _n| {
        let ok = h.load(Ordering::SeqCst) == 1;
        async move {
            if ok {
                respond(200, "ok")
            } else {
                respond(500, "down")
            }
        }
    }))
    .await;
    let mut c = quick_config();
    c.retry.max_retries = 0;
    c.breaker = BreakerConfig {
        min_requests: 4,
        failure_rate: 0.5,
        open_for: Duration::from_millis(300),
        half_open_probes: 1,
        ..BreakerConfig::default()
    };
    let t = transport(c, &[s.url()]);
    let breaker = &t.pools()[0].endpoints()[0].breaker;
    for _ in 0..4 {
        let r = t.send(OutboundRequest::get("/")).await.expect("answer");
        assert_eq!(r.status, 500);
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    let before = s.requests();
    let err = t.send(OutboundRequest::get("/")).await.expect_err("open");
    assert!(matches!(err, TransportError::CircuitOpen), "{err}");
    assert_eq!(s.requests(), before, "an open circuit sends nothing");

    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    // A failed probe opens it again.
    assert_eq!(
        t.send(OutboundRequest::get("/"))
            .await
            .expect("probe")
            .status,
        500
    );
    assert_eq!(breaker.state(), CircuitState::Open);
    tokio::time::sleep(Duration::from_millis(350)).await;
    healthy.store(1, Ordering::SeqCst);
    assert_eq!(
        t.send(OutboundRequest::get("/"))
            .await
            .expect("probe")
            .status,
        200
    );
    assert_eq!(breaker.state(), CircuitState::Closed);
}

async fn distribution(
    strategy: Strategy,
    weights: [u32; 2],
    delays: [u64; 2],
    n: usize,
    parallel: bool,
) -> [usize; 2] {
    let mut servers = Vec::new();
    for d in delays {
        servers.push(
            start(handler(move |_r, _n| async move {
                tokio::time::sleep(Duration::from_millis(d)).await;
                respond(200, "ok")
            }))
            .await,
        );
    }
    let mut up = upstream("lb", &[servers[0].url(), servers[1].url()], strategy);
    for (e, w) in up.endpoints.iter_mut().zip(weights) {
        e.weight = w;
    }
    let t = Arc::new(HttpTransport::new(quick_config(), vec![up]).expect("transport"));
    if parallel {
        // Four callers, each sending one request after another.
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..n / 4 {
                    get_ok(&t).await;
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
    } else {
        for _ in 0..n {
            get_ok(&t).await;
        }
    }
    [servers[0].requests(), servers[1].requests()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balancing_strategies_spread_as_designed() {
    assert_eq!(
        distribution(Strategy::RoundRobin, [1, 1], [0, 0], 100, false).await,
        [50, 50]
    );
    assert_eq!(
        distribution(Strategy::WeightedRoundRobin, [3, 1], [0, 0], 100, false).await,
        [75, 25]
    );
    // A slow endpoint: requests pile up there, so least-outstanding and P2C send most of
    // the load to the fast one.
    let [slow, fast] = distribution(Strategy::LeastOutstanding, [1, 1], [40, 0], 100, true).await;
    assert!(
        fast > slow * 2,
        "least outstanding: slow {slow}, fast {fast}"
    );
    let [slow, fast] = distribution(Strategy::PowerOfTwoChoices, [1, 1], [30, 1], 100, false).await;
    assert!(fast > slow * 2, "p2c: slow {slow}, fast {fast}");
}

#[tokio::test]
async fn open_circuits_are_skipped_and_the_chain_falls_back() {
    let bad = start(handler(|_r, _n| async { respond(500, "down") })).await;
    let good = start(ok_server()).await;
    let backup = start(ok_server()).await;
    let mut c = quick_config();
    c.retry.max_retries = 0;
    c.breaker = BreakerConfig {
        min_requests: 2,
        open_for: Duration::from_secs(60),
        ..BreakerConfig::default()
    };
    let t = HttpTransport::new(
        c.clone(),
        vec![upstream(
            "primary",
            &[bad.url(), good.url()],
            Strategy::RoundRobin,
        )],
    )
    .expect("transport");
    for _ in 0..10 {
        let _ = t.send(OutboundRequest::get("/")).await.expect("answer");
    }
    // Two failures opened the bad endpoint's circuit; everything else went to the good one.
    assert_eq!(bad.requests(), 2);
    assert_eq!(good.requests(), 8);

    let t = HttpTransport::new(
        c,
        vec![
            upstream("primary", &[bad.url()], Strategy::RoundRobin),
            upstream("backup", &[backup.url()], Strategy::RoundRobin),
        ],
    )
    .expect("transport");
    for _ in 0..2 {
        let _ = t.send(OutboundRequest::get("/")).await.expect("answer");
    }
    for _ in 0..5 {
        get_ok(&t).await;
    }
    assert_eq!(backup.requests(), 5);
}

#[tokio::test]
async fn the_limiter_admits_by_priority_and_refuses_when_full() {
    let limiter = Arc::new(PriorityLimiter::new(LimitConfig {
        max_concurrent: 1,
        max_queued: 2,
        queue_timeout: Duration::from_millis(300),
    }));
    let first = limiter.acquire(Priority::Normal).await.expect("free slot");
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for p in [Priority::Low, Priority::Critical] {
        let (l, o) = (limiter.clone(), order.clone());
        waiters.push(tokio::spawn(async move {
            let permit = l.acquire(p).await;
            o.lock().expect("lock").push(p);
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(permit);
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(limiter.queued(), 2);
    // The queue is full: refused at once, with a retry hint.
    let err = limiter.acquire(Priority::High).await.expect_err("full");
    assert!(
        matches!(err, TransportError::Overloaded { retry_after } if retry_after == Duration::from_millis(300))
    );
    drop(first);
    for w in waiters {
        w.await.expect("task");
    }
    assert_eq!(
        *order.lock().expect("lock"),
        vec![Priority::Critical, Priority::Low]
    );
    assert_eq!(limiter.running(), 0);

    // A wait longer than the queue timeout ends in Overloaded, and the slot is not lost.
    let held = limiter.acquire(Priority::Normal).await.expect("slot");
    let started = Instant::now();
    let err = limiter.acquire(Priority::High).await.expect_err("timeout");
    assert!(matches!(err, TransportError::Overloaded { .. }));
    assert!(started.elapsed() >= Duration::from_millis(290));
    drop(held);
    assert_eq!(limiter.running(), 0);
    assert!(limiter.acquire(Priority::Low).await.is_ok());
}

/// Limits changed while requests run: a raised limit admits waiters at once, highest
/// priority first; a lowered one admits no one until fewer than it run.
#[tokio::test]
async fn the_limiter_takes_new_limits_while_requests_run() {
    let config = |max_concurrent| LimitConfig {
        max_concurrent,
        max_queued: 8,
        queue_timeout: Duration::from_secs(10),
    };
    let limiter = Arc::new(PriorityLimiter::new(config(1)));
    let first = limiter.acquire(Priority::Normal).await.expect("free slot");
    let admitted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (release, released) = tokio::sync::watch::channel(false);
    let mut waiters = Vec::new();
    for p in [Priority::Low, Priority::Normal, Priority::Critical] {
        let (l, a, mut r) = (limiter.clone(), admitted.clone(), released.clone());
        waiters.push(tokio::spawn(async move {
            let permit = l.acquire(p).await.expect("admitted");
            a.lock().expect("lock").push(p);
            let _ = r.wait_for(|done| *done).await;
            drop(permit);
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!((limiter.running(), limiter.queued()), (1, 3));

    // Raised to 3: the two highest waiting are admitted without any release.
    limiter.reconfigure(config(3));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!((limiter.running(), limiter.queued()), (3, 1));
    assert_eq!(
        *admitted.lock().expect("lock"),
        [Priority::Critical, Priority::Normal]
    );

    // Lowered to 1 with three running: releases admit no one until one runs.
    limiter.reconfigure(config(1));
    drop(first);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!((limiter.running(), limiter.queued()), (2, 1));
    release.send(true).expect("waiters listen");
    for w in waiters {
        w.await.expect("task");
    }
    assert_eq!(
        *admitted.lock().expect("lock"),
        [Priority::Critical, Priority::Normal, Priority::Low]
    );
    assert_eq!((limiter.running(), limiter.queued()), (0, 0));
    assert_eq!(limiter.config().max_concurrent, 1);
}

#[tokio::test]
async fn a_streamed_body_keeps_its_slot_until_it_ends() {
    let s = start(handler(|_r, _n| async {
        let (mut tx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
        tokio::spawn(async move {
            for i in 0..3 {
                let _ = tx.send_data(Bytes::from(format!("data: {i}\n\n"))).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let b: Body = BodyExt::boxed(body);
        http::Response::new(b)
    }))
    .await;
    let mut c = quick_config();
    c.concurrency = Some(LimitConfig {
        max_concurrent: 1,
        max_queued: 0,
        queue_timeout: Duration::from_millis(10),
    });
    let t = transport(c, &[s.url()]);
    let r = t.send(OutboundRequest::get("/stream")).await.expect("send");
    assert_eq!(t.pools()[0].endpoints()[0].outstanding(), 1);
    let err = t
        .send(OutboundRequest::get("/stream"))
        .await
        .expect_err("slot busy");
    assert!(matches!(err, TransportError::Overloaded { .. }));
    let body = r.into_body().collect().await.expect("body");
    assert_eq!(&body[..], b"data: 0\n\ndata: 1\n\ndata: 2\n\n");
    assert_eq!(t.limiter().expect("limiter").running(), 0);
    assert_eq!(t.pools()[0].endpoints()[0].outstanding(), 0);
    let _ = full("unused");
    let _ = Endpoint::new("x", "ftp://nope").expect_err("scheme");
    let _: Option<Upstream> = None;
}

#[tokio::test]
async fn mutual_tls_sends_the_configured_client_certificate() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // A CA that signs client certificates, and one client certificate.
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let client_key = KeyPair::generate().expect("key");
    let client_cert = CertificateParams::new(vec!["client".to_owned()])
        .expect("params")
        .signed_by(&client_key, &ca)
        .expect("signed");
    let dir = tempfile::tempdir().expect("tmp");
    let (cert_path, key_path) = (dir.path().join("client.pem"), dir.path().join("client.key"));
    std::fs::write(&cert_path, client_cert.pem()).expect("write");
    std::fs::write(&key_path, client_key.serialize_pem()).expect("write");
    // The server trusts that CA for clients and requires a client certificate.
    let server = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let server_der = server.cert.der().to_vec();
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots.add(ca.der().clone()).expect("ca root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(client_roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server_der.clone().into()],
            rustls::pki_types::PrivateKeyDer::try_from(server.signing_key.serialize_der())
                .expect("key"),
        )
        .expect("server config");
    let s = crate::server::start_tls_with(ok_server(), config).await;

    let mut c = quick_config();
    c.retry.max_retries = 0;
    c.tls.test_roots = vec![server_der];
    c.tls.client_cert = Some((cert_path, key_path));
    get_ok(&transport(c.clone(), &[s.https_url()])).await;
    // Without the certificate the server refuses.
    c.tls.client_cert = None;
    let refused = transport(c, &[s.https_url()])
        .send(OutboundRequest::get("/"))
        .await;
    assert!(
        refused.is_err(),
        "a server requiring client certificates must refuse"
    );
    assert_eq!(s.requests(), 1);
}

/// The body `t` gets for `r`, as text.
async fn body_text(t: &HttpTransport, r: OutboundRequest) -> String {
    let b = t.send(r).await.expect("send").bytes().await.expect("body");
    String::from_utf8_lossy(&b).into_owned()
}

#[tokio::test]
async fn a_request_credential_replaces_the_endpoints_key_and_never_prints() {
    // The server answers with the Authorization header it was sent.
    let s = start(handler(|req, _| async move {
        let auth = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        respond(200, auth)
    }))
    .await;
    let endpoint = Endpoint::new("keyed", &s.url()).expect("endpoint").header(
        http::header::AUTHORIZATION,
        "Bearer sk-configured".parse().expect("v"),
    );
    let mut c = quick_config();
    c.retry.max_retries = 0;
    let t = HttpTransport::new(
        c,
        vec![Upstream {
            name: "up".to_owned(),
            endpoints: vec![endpoint],
            strategy: Strategy::RoundRobin,
        }],
    )
    .expect("transport");
    let sent = |r: OutboundRequest| body_text(&t, r);
    assert_eq!(
        sent(OutboundRequest::get("/")).await,
        "Bearer sk-configured"
    );
    let forwarded = OutboundRequest::get("/").with_credential(
        http::header::AUTHORIZATION,
        "Bearer sk-client-own".parse().expect("v"),
    );
    let printed = format!("{forwarded:?}");
    assert!(!printed.contains("sk-client-own"), "{printed}");
    assert_eq!(sent(forwarded).await, "Bearer sk-client-own");
}

#[tokio::test]
async fn an_endpoints_default_header_gives_way_to_the_requests_own_and_its_key_does_not() {
    // The server answers with the version and key headers it was sent.
    let s = start(handler(|req, _| async move {
        let h = |name: &str| {
            req.headers()
                .get(name)
                .map(|v| v.to_str().unwrap_or_default().to_owned())
                .unwrap_or_default()
        };
        respond(
            200,
            format!("{} {}", h("anthropic-version"), h("x-api-key")),
        )
    }))
    .await;
    let endpoint = Endpoint::new("anthropic", &s.url())
        .expect("endpoint")
        .header(
            http::HeaderName::from_static("x-api-key"),
            "sk-configured".parse().expect("v"),
        )
        .default_header(
            http::HeaderName::from_static("anthropic-version"),
            "2023-06-01".parse().expect("v"),
        );
    let mut c = quick_config();
    c.retry.max_retries = 0;
    let t = HttpTransport::new(c, vec![Upstream::single(endpoint)]).expect("transport");
    let sent = |r: OutboundRequest| body_text(&t, r);
    assert_eq!(
        sent(OutboundRequest::get("/")).await,
        "2023-06-01 sk-configured"
    );
    let mut own = OutboundRequest::get("/");
    own.headers.insert(
        http::HeaderName::from_static("anthropic-version"),
        "2024-01-01".parse().expect("v"),
    );
    own.headers.insert(
        http::HeaderName::from_static("x-api-key"),
        "sk-smuggled".parse().expect("v"),
    );
    assert_eq!(sent(own).await, "2024-01-01 sk-configured");
}
