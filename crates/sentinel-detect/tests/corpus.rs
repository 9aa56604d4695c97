//! The labelled corpus in testdata/, run against every Detector implementation.

use sentinel_detect::{Detector, LocalDetector};

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    entities: Vec<(String, String)>,
}

fn run(d: &dyn Detector) {
    let data = include_str!("../testdata/corpus.jsonl");
    let mut failures = Vec::new();
    for (n, line) in data
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case: Case =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let got: Vec<(String, String)> = d
            .scan(&case.text)
            .into_iter()
            .filter(|f| f.score >= 0.5)
            .map(|f| (f.entity.as_str().to_owned(), case.text[f.span()].to_owned()))
            .collect();
        if got != case.entities {
            failures.push(format!(
                "line {}: expected {:?}, got {:?}",
                n + 1,
                case.entities,
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn local_detector_passes_the_corpus() {
    run(&LocalDetector::new());
}

#[test]
fn boxed_detector_passes_the_corpus() {
    let boxed: Box<dyn Detector> = Box::new(LocalDetector::new());
    run(&boxed);
}
