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

    // Pseudonymize (surrogates and tokens recorded in the vault) and restore the answer
    // that repeats them: the 12-finding prompt, one conversation scope.
    std::env::set_var("DEEPSENTINEL_BENCH_PSEUDONYM_KEY", "bench key");
    let set = PolicySet::from_toml(
        "bench.toml",
        "version = \"1\"\npseudonym_key_env = \"DEEPSENTINEL_BENCH_PSEUDONYM_KEY\"\n\
         default_action = \"pseudonymize\"\n",
    )
    .expect("policy");
    let text = texts::prompt_pii();
    let findings = detector.scan(&text);
    let ctx = DecisionContext::request("acme").with_scope("bench");
    let answer = match set.decide(&text, &findings, &ctx) {
        sentinel_policy::Decision::Transform { text, .. } => text,
        other => panic!("expected a transform, got {other:?}"),
    };
    let resp = DecisionContext::response("acme").with_scope("bench");
    let restorer = set.restorer(&resp).expect("restorer");
    // The same with tokens only: no format-preserving encryption, so the difference is
    // what FF1 costs.
    let tokens = PolicySet::from_toml(
        "bench.toml",
        "version = \"1\"\npseudonym_key_env = \"DEEPSENTINEL_BENCH_PSEUDONYM_KEY\"\n\
         [[rule]]\ngroups = [\"pii\", \"pci\", \"phi\", \"secrets\"]\naction = \"pseudonymize\"\n\
         pseudonym = \"token\"\n",
    )
    .expect("policy");
    let mut g = c.benchmark_group("pseudonymize");
    g.bench_function("decide_12_findings", |b| {
        b.iter(|| set.decide(black_box(&text), black_box(&findings), &ctx))
    });
    g.bench_function("decide_12_findings_tokens_only", |b| {
        b.iter(|| tokens.decide(black_box(&text), black_box(&findings), &ctx))
    });
    g.bench_function("restorer_for_scope", |b| b.iter(|| set.restorer(&resp)));
    g.bench_function("restore_4kb_answer", |b| {
        b.iter(|| restorer.restore(black_box(&answer)))
    });
    let empty = set
        .restorer(&DecisionContext::response("acme").with_scope("empty"))
        .expect("restorer");
    g.bench_function("restore_4kb_answer_empty_scope", |b| {
        b.iter(|| empty.restore(black_box(&answer)))
    });
    g.bench_function("restore_4kb_answer_streamed_64b_chunks", |b| {
        b.iter(|| {
            let mut s = restorer.stream();
            let mut n = 0;
            for chunk in answer.as_bytes().chunks(64) {
                // The generated prompt is ASCII, so every 64-byte cut is a char boundary.
                n += s.push(std::str::from_utf8(chunk).unwrap_or_default()).len();
            }
            n + s.finish().0.len()
        })
    });
    g.finish();

    // A long conversation's scope: restoring a 1 KB answer that quotes one pseudonym,
    // with 1,000 and 3,000 issued (the matcher compiled in pieces of 128).
    let mut g = c.benchmark_group("pseudonymize_large_scope");
    g.sample_size(20);
    for n in [1_000usize, 3_000] {
        let scope = format!("large-{n}");
        let ctx = DecisionContext::request("acme").with_scope(&scope);
        let mut last = String::new();
        for i in 0..n {
            let text = format!("mail person{i}@corp.com");
            if let sentinel_policy::Decision::Transform { text, .. } =
                set.decide(&text, &detector.scan(&text), &ctx)
            {
                last = text;
            }
        }
        let answer = format!("{} {last}", "All is well. ".repeat(80));
        let restorer = set
            .restorer(&DecisionContext::response("acme").with_scope(&scope))
            .expect("restorer");
        g.bench_with_input(
            BenchmarkId::new("restore_1kb_answer", n),
            &answer,
            |b, a| b.iter(|| restorer.restore(black_box(a))),
        );
    }
    g.finish();
}

criterion_group!(benches, policy);
criterion_main!(benches);
