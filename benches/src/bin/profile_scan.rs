//! Scans one generated input in a loop, for a profiler: `profile-scan prose|numbers|dense|prompt [secs]`.
#![allow(clippy::print_stdout)] // reason: prints the scan rate

use benches::texts;
use sentinel_detect::{Detector, LocalDetector};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map_or("prose", String::as_str);
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let text = match kind {
        "numbers" => texts::prose_with_numbers(2, 4 << 20),
        "dense" => texts::pii_dense(3, 4 << 20),
        "prompt" => texts::prompt_clean(),
        "pii" => texts::prompt_pii(),
        _ => texts::prose(1, 4 << 20),
    };
    let d = LocalDetector::new();
    let mut out = Vec::new();
    let t = Instant::now();
    let mut bytes = 0usize;
    while t.elapsed().as_secs_f64() < secs {
        out.clear();
        d.scan_into(&text, &mut out);
        bytes += text.len();
    }
    println!(
        "{kind}: {:.1} MB/s, {} findings",
        bytes as f64 / 1e6 / t.elapsed().as_secs_f64(),
        out.len()
    );
}
