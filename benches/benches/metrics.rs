//! Measurement benchmarks: recording one finished request (six stages, two cache lookups,
//! two findings, tokens) into the Prometheus recorder and the Monitor, and the Monitor
//! alone; and rendering a snapshot.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use sentinel_metrics::{prometheus_recorder, CacheName, Monitor, RequestRecord, Stage, Telemetry};
use std::hint::black_box;

fn record(c: &mut Criterion) {
    let recorder = prometheus_recorder().expect("recorder");
    let handle = recorder.handle();
    let _ = metrics::set_global_recorder(recorder);
    let telemetry = Telemetry::new(&["/v1/chat/completions", "/v1/embeddings"]);
    let mut r = RequestRecord::new(
        "/v1/chat/completions",
        "gpt-4o",
        200,
        Duration::from_micros(950),
    );
    for (i, s) in Stage::ALL.iter().enumerate() {
        r.stages[s.index()] = Some(Duration::from_micros(5 + i as u64));
    }
    r.cache = &[(CacheName::Detection, true), (CacheName::Response, false)];
    r.findings = &[
        ("EMAIL_ADDRESS", "redact", 1),
        ("PHONE_NUMBER", "redact", 1),
    ];
    r.tokens = Some((120, 45));
    let mut g = c.benchmark_group("metrics");
    g.bench_function("record_request_all_stages", |b| {
        b.iter(|| telemetry.record(black_box(&r)))
    });
    let clean = RequestRecord {
        findings: &[],
        ..r.clone()
    };
    g.bench_function("record_clean_request_all_stages", |b| {
        b.iter(|| telemetry.record(black_box(&clean)))
    });
    let monitor = Monitor::new();
    g.bench_function("monitor_record", |b| {
        b.iter(|| monitor.record(black_box(&r)))
    });
    g.bench_function("monitor_snapshot", |b| {
        b.iter(|| black_box(monitor.snapshot()))
    });
    g.bench_function("prometheus_render", |b| {
        b.iter(|| black_box(handle.render()))
    });
    g.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
