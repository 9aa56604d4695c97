//! Throughput inputs: prose without digits, ordinary prose with numbers, PII-dense text,
//! and prompt-sized texts for the criterion benches. All are generated from a seed.

use sentinel_detect::testgen::{self, Rng};

const WORDS: &[&str] = &[
    "the",
    "model",
    "should",
    "answer",
    "customer",
    "question",
    "about",
    "their",
    "account",
    "summary",
    "please",
    "review",
    "policy",
    "before",
    "sending",
    "response",
    "with",
    "clear",
    "steps",
    "and",
    "friendly",
    "tone",
    "when",
    "issue",
    "remains",
    "open",
    "escalate",
    "team",
    "support",
    "document",
    "describes",
    "how",
    "system",
    "handles",
    "requests",
    "from",
    "users",
    "across",
    "regions",
    "while",
    "keeping",
    "latency",
    "low",
    "reliable",
    "service",
    "quality",
    "translate",
    "paragraph",
    "into",
    "french",
    "explain",
    "reasoning",
    "briefly",
    "context",
    "meeting",
    "notes",
    "project",
    "timeline",
    "risks",
    "owners",
    "next",
    "update",
    "draft",
];

fn sentence(rng: &mut Rng, out: &mut String) {
    let n = rng.range(8, 18);
    for i in 0..n {
        let w = *rng.pick(WORDS);
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.push(f.to_ascii_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(w);
        }
        if i + 1 < n && rng.chance(0.08) {
            out.push(',');
        }
    }
    out.push_str(if rng.chance(0.1) { "? " } else { ". " });
    if rng.chance(0.1) {
        out.push('\n');
    }
}

/// Ordinary numbers that are not sensitive: dates, times, prices, versions, ids, counts.
pub fn harmless_number(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => format!("2024-{:02}-{:02}", rng.range(1, 12), rng.range(1, 28)),
        1 => format!("{:02}:{:02}", rng.below(24), rng.below(60)),
        2 => format!("${}.{:02}", rng.range(1, 9999), rng.below(100)),
        3 => format!("v{}.{}.{}", rng.below(10), rng.below(20), rng.below(50)),
        4 => format!("order #{}", rng.range(10_000, 999_999)),
        5 => format!("{} items", rng.range(1, 500)),
        6 => format!("{}%", rng.range(1, 100)),
        7 => format!("room {}", rng.range(100, 999)),
        8 => format!("{} ms", rng.range(1, 2000)),
        _ => format!("page {}", rng.range(1, 300)),
    }
}

/// One sensitive value of a random kind.
pub fn sensitive(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => testgen::card(rng),
        1 => testgen::email(rng),
        2 => format!("SSN {}", testgen::ssn(rng)),
        3 => testgen::phone_us(rng),
        4 => testgen::iban(rng),
        5 => testgen::ipv4(rng),
        6 => testgen::aws_access_key(rng),
        7 => testgen::github_token(rng),
        8 => testgen::phone_intl(rng),
        _ => testgen::jwt(rng),
    }
}

/// Prose without a digit.
pub fn prose(seed: u64, len: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut s = String::with_capacity(len + 256);
    while s.len() < len {
        sentence(&mut rng, &mut s);
    }
    s
}

/// Prose with a harmless number in most sentences, and no sensitive value.
pub fn prose_with_numbers(seed: u64, len: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut s = String::with_capacity(len + 256);
    while s.len() < len {
        sentence(&mut rng, &mut s);
        if rng.chance(0.7) {
            s.pop();
            s.push_str(&format!(" ({}) ", harmless_number(&mut rng)));
        }
    }
    s
}

/// Text with a sensitive value about every 200 bytes.
pub fn pii_dense(seed: u64, len: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut s = String::with_capacity(len + 256);
    while s.len() < len {
        let mark = s.len();
        while s.len() < mark + 160 {
            sentence(&mut rng, &mut s);
        }
        s.push_str(&sensitive(&mut rng));
        s.push_str(". ");
    }
    s
}

/// A 4 KB chat prompt with no sensitive value (numbers included, as real prompts have).
pub fn prompt_clean() -> String {
    let mut s = prose_with_numbers(17, 4000);
    s.truncate(4096);
    while !s.is_char_boundary(s.len()) {
        s.pop();
    }
    s
}

/// A 4 KB chat prompt with twelve sensitive values.
pub fn prompt_pii() -> String {
    let mut rng = Rng::new(23);
    let mut s = String::new();
    for _ in 0..12 {
        let mark = s.len();
        while s.len() < mark + 300 {
            sentence(&mut rng, &mut s);
        }
        s.push_str(&sensitive(&mut rng));
        s.push_str(". ");
    }
    s
}

/// A 1 MB document: prose with numbers and a sensitive value every few kilobytes.
pub fn document_1mb() -> String {
    let mut rng = Rng::new(29);
    let mut s = String::with_capacity(1 << 20);
    while s.len() < (1 << 20) {
        s.push_str(&prose_with_numbers(rng.next_u64(), 3000));
        s.push_str(&sensitive(&mut rng));
        s.push_str(". ");
    }
    s
}
