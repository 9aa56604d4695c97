//! Detection benchmarks: the clean and the PII-heavy 4 KB prompt, a 1 MB and an 8 MB
//! document (the latter scanned in pieces: `sentinel_detect::PIECEWISE_ABOVE`), each
//! beside the baseline (one `meta::Regex::new_many` over the same patterns, `find_iter`, no
//! validation), so results read as ratios; the clean prompt and the 1 MB document again
//! with one custom recognizer whose prefix takes the literal triggers past the 64 one
//! automaton's SIMD prefilter is built for (`deepsentinel_custom_prefix`); plus compiling
//! the default set.

use benches::{texts, Baseline};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sentinel_detect::{Detector, LocalDetector, Recognizer};
use std::hint::black_box;

fn scan(c: &mut Criterion) {
    let detector = LocalDetector::new();
    let baseline = Baseline::new();
    #[allow(clippy::expect_used)] // reason: a fixed pattern, compiled by the tests too
    let custom = LocalDetector::builder()
        .recognizer(Recognizer::new(
            "acme_key",
            "ACME_KEY",
            r"acme_[a-z0-9]{32}",
        ))
        .build()
        .expect("compiles");
    let inputs = [
        ("prompt_4k_clean", texts::prompt_clean()),
        ("prompt_4k_12_findings", texts::prompt_pii()),
        ("document_1mb", texts::document_1mb()),
        // Over `PIECEWISE_ABOVE`: scanned in pieces, so its rate against the 1 MB one is
        // what the pieces cost.
        ("document_8mb", texts::document_1mb().repeat(8)),
    ];
    let mut g = c.benchmark_group("detect");
    let mut out = Vec::new();
    for (name, text) in &inputs {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("deepsentinel", name), text, |b, t| {
            b.iter(|| {
                out.clear();
                detector.scan_into(black_box(t), &mut out);
                out.len()
            })
        });
        if matches!(*name, "prompt_4k_clean" | "document_1mb") {
            g.bench_with_input(
                BenchmarkId::new("deepsentinel_custom_prefix", name),
                text,
                |b, t| {
                    b.iter(|| {
                        out.clear();
                        custom.scan_into(black_box(t), &mut out);
                        out.len()
                    })
                },
            );
        }
        g.bench_with_input(
            BenchmarkId::new("baseline_meta_new_many", name),
            text,
            |b, t| b.iter(|| baseline.count(black_box(t))),
        );
    }
    g.finish();
}

fn stages(c: &mut Criterion) {
    let mut g = c.benchmark_group("detect_stages");
    let text = texts::prompt_pii();
    let set = LocalDetector::new().pattern_set().clone();
    let mut out = Vec::new();
    g.bench_function("candidates_windowed", |b| {
        b.iter(|| {
            out.clear();
            set.candidates(black_box(&text), &mut out);
            out.len()
        })
    });
    g.bench_function("candidates_exhaustive", |b| {
        b.iter(|| {
            out.clear();
            set.candidates_exhaustive(black_box(&text), &mut out);
            out.len()
        })
    });
    g.bench_function("build_default_set", |b| b.iter(LocalDetector::new));
    g.finish();
}

criterion_group!(benches, scan, stages);
criterion_main!(benches);
