//! Policy benchmarks: deciding and transforming a 4 KB prompt with 0, 1 and 12 findings,
//! findings precomputed (the scan is benchmarked in `detect`), beside the plain baseline of
//! copying the text, which any transform must at least do.

use benches::texts;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use sentinel_detect::{Detector, LocalDetector};
use sentinel_policy::{DecisionContext, PolicyEngine, PolicySet};
use std::hint::black_box;

fn policy(c: &mut Criterion) {
    let detector = LocalDetector::new();
    let set = PolicySet::preset("gdpr").expect("preset");
    let ctx = DecisionContext::request("acme");
    let clean = texts::prompt_clean();
    let one = format!("{} mail jane@example.com", &clean[..clean.len() - 30]);
    let dozen = texts::prompt_pii();
    let mut g = c.benchmark_group("policy");
    for (name, text) in [
        ("0_findings", clean),
        ("1_finding", one),
        ("12_findings", dozen),
    ] {
        let findings = detector.scan(&text);
        g.bench_with_input(
            BenchmarkId::new("decide_and_transform", name),
            &text,
            |b, t| b.iter(|| set.decide(black_box(t), black_box(&findings), &ctx)),
        );
        g.bench_with_input(
            BenchmarkId::new("baseline_copy_text", name),
            &text,
            |b, t| b.iter(|| black_box(t).clone()),
        );
    }
    g.finish();
}

criterion_group!(benches, policy);
criterion_main!(benches);
