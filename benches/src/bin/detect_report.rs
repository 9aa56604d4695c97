//! Measures what criterion does not: MB/s with one thread on large generated files beside
//! the baseline, build time and memory of the default set, the clean-prompt latency, and
//! precision/recall/F1 per entity type on the labelled corpus. Prints one JSON object;
//! `cargo xtask bench` adds host, revision and time and prints the summary.
#![allow(clippy::print_stdout)] // reason: the JSON report is this program's output

use std::time::Instant;

use benches::{corpus, texts, Baseline};
use sentinel_detect::{Detector, LocalDetector};
use serde_json::json;

/// Median of `runs` timings of `f`, in seconds.
fn median_secs(runs: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut last = 0;
    for _ in 0..runs {
        let t = Instant::now();
        last = std::hint::black_box(f());
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], last)
}

/// Prints up to 12 mismatches for one entity type, for tuning: the labelled value or the
/// reported one, with 40 bytes around it.
fn print_mismatches(detector: &LocalDetector, docs: &[corpus::Doc], entity: &str) {
    let mut shown = 0;
    for d in docs {
        let found = detector.scan(&d.text);
        let around = |s: usize, e: usize| {
            let mut a = s.saturating_sub(40);
            while !d.text.is_char_boundary(a) {
                a -= 1;
            }
            let mut b = (e + 40).min(d.text.len());
            while !d.text.is_char_boundary(b) {
                b += 1;
            }
            format!("{:?} in {:?}", &d.text[s..e], &d.text[a..b])
        };
        for f in found.iter().filter(|f| f.entity.as_str() == entity) {
            if !d
                .labels
                .iter()
                .any(|l| l.entity == entity && l.start == f.start && l.end == f.end)
                && shown < 12
            {
                println!("FP {:.2} {}", f.score, around(f.start, f.end));
                shown += 1;
            }
        }
        for l in d.labels.iter().filter(|l| l.entity == entity) {
            if !found
                .iter()
                .any(|f| f.entity.as_str() == entity && f.start == l.start && f.end == l.end)
                && shown < 12
            {
                let other: Vec<String> = found
                    .iter()
                    .filter(|f| f.start < l.end && l.start < f.end)
                    .map(|f| format!("{}:{:.2}", f.entity, f.score))
                    .collect();
                println!(
                    "FN {} (reported instead: {other:?})",
                    around(l.start, l.end)
                );
                shown += 1;
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--mismatches") {
        let entity = args.get(i + 1).map_or("US_SSN", String::as_str);
        print_mismatches(
            &LocalDetector::new(),
            &corpus::generate(2026, 10_000),
            entity,
        );
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let (size, runs, docs) = if quick {
        (4 << 20, 5, 2_000)
    } else {
        (16 << 20, 11, 10_000)
    };

    let t = Instant::now();
    let detector = LocalDetector::new();
    let build_ms = t.elapsed().as_secs_f64() * 1e3;
    let (build_median, _) = median_secs(if quick { 5 } else { 15 }, || {
        LocalDetector::new().pattern_set().len()
    });
    let memory = detector.pattern_set().memory_usage();
    let baseline = Baseline::new();

    let mut throughput = Vec::new();
    let mut out = Vec::new();
    for (name, text) in [
        ("prose", texts::prose(1, size)),
        ("prose_with_numbers", texts::prose_with_numbers(2, size)),
        ("pii_dense", texts::pii_dense(3, size)),
    ] {
        let mb = text.len() as f64 / 1e6;
        let (ours, found) = median_secs(runs, || {
            out.clear();
            detector.scan_into(&text, &mut out);
            out.len()
        });
        let (base, matches) = median_secs(runs, || baseline.count(&text));
        throughput.push(json!({
            "input": name,
            "bytes": text.len(),
            "deepsentinel_mb_s": mb / ours,
            "baseline_mb_s": mb / base,
            "ratio": base / ours,
            "findings": found,
            "baseline_matches": matches,
        }));
    }

    let mut prompts = Vec::new();
    for (name, text) in [
        ("prompt_4k_clean", texts::prompt_clean()),
        ("prompt_4k_12_findings", texts::prompt_pii()),
    ] {
        let iters = if quick { 2_000 } else { 20_000 };
        let (secs, found) = median_secs(9, || {
            let mut n = 0;
            for _ in 0..iters {
                out.clear();
                detector.scan_into(std::hint::black_box(&text), &mut out);
                n += out.len();
            }
            n / iters
        });
        let (base, _) = median_secs(9, || {
            (0..iters)
                .map(|_| baseline.count(std::hint::black_box(&text)))
                .sum::<usize>()
        });
        prompts.push(json!({
            "input": name,
            "bytes": text.len(),
            "findings": found,
            "deepsentinel_us": secs / iters as f64 * 1e6,
            "baseline_us": base / iters as f64 * 1e6,
        }));
    }

    let docs = corpus::generate(2026, docs);
    let labels: usize = docs.iter().map(|d| d.labels.len()).sum();
    let accuracy: serde_json::Map<String, serde_json::Value> = corpus::evaluate(&detector, &docs)
        .into_iter()
        .map(|(entity, c)| {
            (entity, json!({"tp": c.tp, "fp": c.fp, "fn": c.r#fn, "precision": c.precision(), "recall": c.recall(), "f1": c.f1()}))
        })
        .collect();

    let report = json!({
        "quick": quick,
        "build_ms_first": build_ms,
        "build_ms_median": build_median * 1e3,
        "memory_bytes": memory,
        "recognizers": detector.pattern_set().len(),
        "groups": detector.pattern_set().group_count(),
        "throughput": throughput,
        "prompts": prompts,
        "corpus": {"documents": docs.len(), "labels": labels, "by_entity": accuracy},
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}
