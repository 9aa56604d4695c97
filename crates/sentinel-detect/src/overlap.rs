//! Overlap resolution: when candidates overlap, which one is kept.
//!
//! The rule, applied greedily: the higher score wins; on equal scores the longer span; then
//! the earlier start; then the recognizer listed first in the catalogue. A candidate that
//! overlaps a kept one is dropped, so the result never overlaps and does not depend on the
//! order in which candidates were found.

use std::cmp::Ordering;

use crate::finding::Finding;

fn priority(a: &Finding, b: &Finding) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then((b.end - b.start).cmp(&(a.end - a.start)))
        .then(a.start.cmp(&b.start))
        .then(a.recognizer.cmp(&b.recognizer))
}

/// Keeps the winners of `candidates` and appends them to `out`, sorted by start.
///
/// Candidates are sorted by start and split into clusters of transitively overlapping
/// spans; the greedy rule runs inside each cluster only, so the cost is `n log n` for the
/// sort plus the square of the largest cluster, which stays small in real text.
pub(crate) fn resolve(candidates: &mut [Finding], out: &mut Vec<Finding>) {
    candidates.sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
    let mut i = 0;
    while i < candidates.len() {
        let mut j = i + 1;
        let mut reach = candidates[i].end;
        while j < candidates.len() && candidates[j].start < reach {
            reach = reach.max(candidates[j].end);
            j += 1;
        }
        let cluster = &mut candidates[i..j];
        if cluster.len() == 1 {
            out.push(cluster[0].clone());
        } else {
            resolve_cluster(cluster, out);
        }
        i = j;
    }
}

fn resolve_cluster(cluster: &mut [Finding], out: &mut Vec<Finding>) {
    cluster.sort_by(priority);
    let base = out.len();
    for c in cluster.iter() {
        let kept = &out[base..];
        let i = kept.partition_point(|k| k.start < c.start);
        let clash_before = i > 0 && kept[i - 1].end > c.start;
        let clash_after = i < kept.len() && kept[i].start < c.end;
        if !clash_before && !clash_after {
            out.insert(base + i, c.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{EntityType, RecognizerId};

    fn f(start: usize, end: usize, score: f32, r: u16) -> Finding {
        Finding {
            entity: EntityType::new("X"),
            start,
            end,
            score,
            recognizer: RecognizerId(r),
            escaped: false,
            folded: false,
        }
    }

    #[test]
    fn score_then_length_then_start() {
        let mut c = vec![
            f(0, 10, 0.5, 0),
            f(5, 8, 0.9, 1),
            f(9, 20, 0.5, 2),
            f(30, 40, 0.1, 3),
        ];
        let mut out = Vec::new();
        resolve(&mut c, &mut out);
        let spans: Vec<_> = out.iter().map(|f| (f.start, f.end)).collect();
        assert_eq!(spans, [(5, 8), (9, 20), (30, 40)]);
    }
}
