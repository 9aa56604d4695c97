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
    // A request's own scope, new every time: its matcher built, then the answer restored.
    let mut fresh = 0;
    g.bench_function("first_restore_4kb_answer", |b| {
        b.iter_batched(
            || {
                fresh += 1;
                let scope = format!("fresh-{fresh}");
                let ctx = DecisionContext::request("acme").with_scope(&scope);
                let _ = set.decide(&text, &findings, &ctx);
                scope
            },
            |scope| {
                let back = DecisionContext::response("acme").with_scope(&scope);
                set.restorer(&back)
                    .expect("restorer")
                    .restore(black_box(&answer))
            },
            criterion::BatchSize::PerIteration,
        )
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

    // A long conversation's scope, of e-mail surrogates, card surrogates and address
    // tokens in turn: restoring a 1 KB answer that quotes one pseudonym of each kind, with
    // 1,000 and 3,000 issued; the first restore in a scope of that size (its matcher
    // built); and a conversation's turn, one more pseudonym issued and an answer restored
    // (the scope's matcher built again).
    let mut g = c.benchmark_group("pseudonymize_large_scope");
    g.sample_size(20);
    let value = |i: usize| match i % 3 {
        0 => format!("mail person{i}@corp.com"),
        1 => format!(
            "card {}",
            sentinel_detect::testgen::card(&mut sentinel_detect::testgen::Rng::new(i as u64))
        ),
        _ => format!("host 10.{}.{}.{}", i / 65_536, i / 256 % 256, i % 256),
    };
    for n in [1_000usize, 3_000] {
        let scope = format!("large-{n}");
        let ctx = DecisionContext::request("acme").with_scope(&scope);
        let mut quoted = Vec::new();
        for i in 0..n {
            let text = value(i);
            if let sentinel_policy::Decision::Transform { text, .. } =
                set.decide(&text, &detector.scan(&text), &ctx)
            {
                if i + 3 >= n {
                    quoted.push(text);
                }
            }
        }
        let answer = format!("{} {}", "All is well. ".repeat(75), quoted.join(", "));
        let back = DecisionContext::response("acme").with_scope(&scope);
        let restorer = set.restorer(&back).expect("restorer");
        g.bench_with_input(
            BenchmarkId::new("restore_1kb_answer", n),
            &answer,
            |b, a| b.iter(|| restorer.restore(black_box(a))),
        );
        // A scope seen for the first time in this process (a conversation's turn after a
        // restart, or one imported from the shared vault): its matcher is built, then the
        // answer restored.
        let mut fresh = 0;
        g.bench_with_input(
            BenchmarkId::new("first_restore_1kb_answer", n),
            &answer,
            |b, a| {
                b.iter_batched(
                    || {
                        fresh += 1;
                        let scope = format!("fresh-{n}-{fresh}");
                        let ctx = DecisionContext::request("acme").with_scope(&scope);
                        for i in 0..n {
                            let text = value(i);
                            let _ = set.decide(&text, &detector.scan(&text), &ctx);
                        }
                        scope
                    },
                    |scope| {
                        let back = DecisionContext::response("acme").with_scope(&scope);
                        set.restorer(&back).expect("restorer").restore(black_box(a))
                    },
                    criterion::BatchSize::PerIteration,
                )
            },
        );
        // Kept within 500 of `n`: past that a fresh scope of `n` is filled (untimed).
        let mut turn = (String::new(), usize::MAX);
        g.bench_with_input(
            BenchmarkId::new("one_more_then_restore_1kb_answer", n),
            &answer,
            |b, a| {
                b.iter_batched(
                    || {
                        if turn.1 >= n + 500 {
                            fresh += 1;
                            turn = (format!("turns-{n}-{fresh}"), 0);
                            let ctx = DecisionContext::request("acme").with_scope(&turn.0);
                            for i in 0..n {
                                let text = value(i);
                                let _ = set.decide(&text, &detector.scan(&text), &ctx);
                            }
                            turn.1 = n;
                        }
                        turn.1 += 1;
                        (turn.0.clone(), value(turn.1))
                    },
                    |(scope, text)| {
                        let ctx = DecisionContext::request("acme").with_scope(&scope);
                        let _ = set.decide(&text, &detector.scan(&text), &ctx);
                        let back = DecisionContext::response("acme").with_scope(&scope);
                        set.restorer(&back).expect("restorer").restore(black_box(a))
                    },
                    criterion::BatchSize::PerIteration,
                )
            },
        );
    }
    g.finish();
}

criterion_group!(benches, policy);
criterion_main!(benches);
