//! Streaming: chunked scans equal one-shot scans.

use crate::engine::text_for_stream;
use crate::util::detector;
use proptest::prelude::*;
use sentinel_detect::{Detector, StreamScanner};

fn chunked(text: &str, cuts: &[usize]) -> Vec<sentinel_detect::Finding> {
    let mut s = StreamScanner::new(detector());
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        let mut c = c.min(text.len());
        while !text.is_char_boundary(c) {
            c += 1;
        }
        if c > at {
            s.feed(&text[at..c], &mut out);
            at = c;
        }
    }
    s.feed(&text[at..], &mut out);
    s.finish(&mut out).expect("complete utf-8");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunks_equal_one_shot(seed in any::<u64>(), parts in 50usize..400, mut cuts in proptest::collection::vec(0usize..60_000, 0..200)) {
        let text = text_for_stream(seed, parts);
        cuts.sort_unstable();
        prop_assert_eq!(chunked(&text, &cuts), detector().scan(&text));
    }
}

#[test]
fn tiny_chunks_and_long_texts() {
    let text = text_for_stream(42, 3000);
    assert!(text.len() > 40_000);
    let cuts: Vec<usize> = (1..text.len()).step_by(3).collect();
    assert_eq!(chunked(&text, &cuts), detector().scan(&text));
}

#[test]
fn byte_feeding_carries_split_chars_and_reports_bad_bytes() {
    let text = "é 4111 1111 1111 1111 ü";
    let mut s = StreamScanner::new(detector());
    let mut out = Vec::new();
    for b in text.as_bytes().chunks(1) {
        s.feed_bytes(b, &mut out).expect("valid");
    }
    s.finish(&mut out).expect("complete");
    assert_eq!(out, detector().scan(text));

    let mut s = StreamScanner::new(detector());
    let err = s.feed_bytes(b"abc\xffdef", &mut out).expect_err("invalid");
    assert_eq!(err.offset, 3);
    let mut s = StreamScanner::new(detector());
    s.feed_bytes(b"abc\xc3", &mut out)
        .expect("incomplete is fine");
    assert!(s.finish(&mut out).is_err());
}

#[test]
fn memory_stays_bounded() {
    let mut s = StreamScanner::new(detector());
    let mut out = Vec::new();
    let chunk = "lorem ipsum 4111 1111 1111 1111 dolor ".repeat(100);
    for _ in 0..500 {
        s.feed(&chunk, &mut out);
        assert!(s.position() - s.settled() <= 2 * s.hold_back() + chunk.len());
    }
    s.finish(&mut out).expect("ok");
    assert_eq!(out.len(), 500 * 100);
}
