//! Audit log benchmarks: what `append` costs the request path, and how many events per
//! second reach the file with `interval` durability, beside a plain `BufWriter` writing the
//! same events as JSON lines with no chain, no thread and no fsync.

use std::io::Write;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sentinel_audit::{AuditEvent, AuditSink, Direction, Durability, FileSink, FileSinkConfig};

fn event(i: u64) -> AuditEvent {
    let mut e = AuditEvent::new(&format!("req-{i}"), "acme", Direction::Request);
    e.route = "/v1/chat/completions".into();
    e.model = "gpt-4o-mini".into();
    e.decision = "transform".into();
    e.entities.insert("EMAIL_ADDRESS".into(), 2);
    e.entities.insert("CREDIT_CARD".into(), 1);
    e.actions.insert("redact".into(), 3);
    e.latency_us = 14;
    e.policy_version = "3f2a9c1e".into();
    e.fingerprints = vec![0x6a1f.into(), 0x9be2.into(), 0x01cd.into()];
    e
}

fn audit(c: &mut Criterion) {
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(1));
    let interval = Durability::Interval(Duration::from_millis(100));

    // The request path's cost at request rates: the queue has room (a saturated queue would
    // measure the writer instead), the events are built beforehand, only `append` is timed.
    g.bench_function("append_request_path", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(10_000);
                let dir = tempfile::tempdir().expect("tmp");
                let sink = FileSink::open(FileSinkConfig::new(dir.path()).durability(interval))
                    .expect("open");
                let events: Vec<AuditEvent> = (0..n).map(event).collect();
                let t = Instant::now();
                for e in events {
                    sink.append(e).expect("append");
                }
                total += t.elapsed();
                sink.close().expect("close");
                left -= n;
            }
            total
        })
    });

    // End to end: events appended and written (close waits for the writer).
    g.bench_function("append_and_write_interval", |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().expect("tmp");
            let sink =
                FileSink::open(FileSinkConfig::new(dir.path()).durability(interval)).expect("open");
            let t = Instant::now();
            for i in 0..iters {
                sink.append(event(i)).expect("append");
            }
            sink.close().expect("close");
            t.elapsed()
        })
    });
    g.bench_function("baseline_bufwriter_jsonl", |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().expect("tmp");
            let f = std::fs::File::create(dir.path().join("plain.jsonl")).expect("create");
            let mut w = std::io::BufWriter::new(f);
            let t = Instant::now();
            for i in 0..iters {
                serde_json::to_writer(&mut w, &event(i)).expect("write");
                w.write_all(b"\n").expect("write");
            }
            w.flush().expect("flush");
            t.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, audit);
criterion_main!(benches);
