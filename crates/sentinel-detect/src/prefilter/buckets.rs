//! The order in which the literal triggers are given to the Aho-Corasick automaton, chosen
//! so that its SIMD prefilter (Teddy) seldom stops on text that holds none of them.
//!
//! Teddy deals the literals into buckets (16 with AVX2 past 32 literals, else 8) and marks,
//! for each bucket, every position whose first `mask_len` bytes (the shortest literal's
//! length, at most 4) each have a low nibble and a high nibble that some member of the
//! bucket has at that offset; each mark is then checked against every member. A bucket
//! of literals unlike in their leading bytes accepts their nibbles' cross product: the
//! sorted deal this replaced put `dea`, `DEA`, `Dea`, `GOCSPX-` and `Key=` in one bucket,
//! which marks the `doc` of "document" (low nibbles from `D`, `O`, `C`, high ones from
//! `d`, `e`, `a`) and the `des` of "describe", about 240 marks with five checks each in
//! 64 KB of the benchmarks' generated prose (a replay of Teddy's masks over the text).
//! Which literals share a bucket follows from their order: aho-corasick 1.1 gives
//! literal `i` bucket `buckets - 1 - i % buckets`, except that a literal whose leading low
//! nibbles equal an earlier literal's joins that literal's bucket (so that leftmost-first
//! semantics hold within one bucket).
//!
//! [`order`] chooses the buckets against a model of text, then lays out an order that makes
//! Teddy's rule put each literal where it was chosen to go. The model is the byte pairs of
//! a sample of what prompts hold (`sample.txt`: requests and answers in English, code, SQL,
//! JSON, YAML, logs, a table, and short letters in German, French, Spanish, Italian and
//! Dutch), read as a Markov chain so that a trigram the sample lacks still has the
//! probability its pairs give it, mixed with a tenth of the bytes' own frequencies. A local
//! search moves and swaps literals (those Teddy keeps together, together) between buckets
//! while the expected checks per position fall.

use std::collections::VecDeque;

use foldhash::HashMap;

/// What prompts hold, for the pair counts (written for this purpose).
const SAMPLE: &[u8] = include_bytes!("sample.txt");

/// Share of the pair model given to independent bytes, for pairs the sample lacks.
const INDEPENDENT: f64 = 0.1;

/// Sweeps of the local search at most (it settles in three on the built-in set).
const MAX_SWEEPS: usize = 8;

/// A change that lowers the cost by less than this share of the whole is not made, so
/// that swaps that could gain only crumbs are not worked out.
const MIN_GAIN: f64 = 0.002;

/// A sweep that lowers the cost by less than this share ends the search.
const SETTLED: f64 = 0.01;

/// Marks cost this much besides their checks (leaving the SIMD loop, finding the bucket).
const MARK_COST: f64 = 1.0;

/// Returns the indices of `lits` in the order to build the automaton from.
pub(crate) fn order(lits: &[Vec<u8>]) -> Vec<usize> {
    let dealt = dealt(lits);
    let Some(shape) = Shape::of(lits) else {
        return dealt;
    };
    let model = Model::sample();
    let mut search = Search::new(lits, shape, &model, &dealt);
    if search.layout().is_none() {
        return dealt;
    }
    search.improve();
    search.layout().unwrap_or(dealt)
}

/// The Teddy searcher aho-corasick builds for this many literals: buckets and mask length.
#[derive(Clone, Copy, Debug)]
struct Shape {
    buckets: usize,
    mask_len: usize,
}

impl Shape {
    /// `None` where aho-corasick builds no Teddy (over 64 literals, or one-byte masks for
    /// over 16), so the order does not matter.
    fn of(lits: &[Vec<u8>]) -> Option<Shape> {
        let n = lits.len();
        let mask_len = lits.iter().map(Vec::len).min()?.min(4);
        if n > 64 || mask_len == 0 || (mask_len == 1 && n > 16) {
            return None;
        }
        let buckets = if n > 32 && wide() { 16 } else { 8 };
        Some(Shape { buckets, mask_len })
    }

    /// The bucket aho-corasick gives the literal at `position` when it opens a bucket.
    fn bucket_at(self, position: usize) -> usize {
        self.buckets - 1 - position % self.buckets
    }
}

/// Whether Teddy runs on 256-bit vectors here, where it has 16 buckets past 32 literals.
fn wide() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The order before any model: sorted, then dealt so that each run of neighbours in sorted
/// order lands in one bucket. Also the start of the search, and what is used where it
/// cannot lay out its result.
fn dealt(lits: &[Vec<u8>]) -> Vec<usize> {
    let mut sorted: Vec<usize> = (0..lits.len()).collect();
    sorted.sort_by(|&a, &b| lits[a].cmp(&lits[b]));
    let n = lits.len();
    let buckets = if n > 32 { 16 } else { 8 };
    // Runs as even as they go: the first `n % buckets` buckets take one more.
    let (base, extra) = (n / buckets, n % buckets);
    let mut order = vec![0; n];
    let mut k = 0;
    for b in 0..buckets {
        for row in 0..base + usize::from(b < extra) {
            order[row * buckets + b] = sorted[k];
            k += 1;
        }
    }
    order
}

/// Nibble masks of a bucket: bit `x` of `lo[j]` is set when some member's byte at offset
/// `j` has low nibble `x`; likewise `hi`. This is what Teddy keeps of a bucket.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Hash)]
struct Masks {
    lo: [u16; 4],
    hi: [u16; 4],
}

impl Masks {
    fn of(lit: &[u8], mask_len: usize) -> Masks {
        let mut m = Masks::default();
        for (j, &b) in lit.iter().take(mask_len).enumerate() {
            m.lo[j] = 1 << (b & 15);
            m.hi[j] = 1 << (b >> 4);
        }
        m
    }

    fn union(self, other: Masks) -> Masks {
        let mut m = self;
        for j in 0..4 {
            m.lo[j] |= other.lo[j];
            m.hi[j] |= other.hi[j];
        }
        m
    }
}

/// The set bits of `mask`, lowest first.
fn bits(mut mask: u16) -> impl Iterator<Item = u8> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let b = mask.trailing_zeros() as u8;
            mask &= mask - 1;
            b
        })
    })
}

/// The sample as a Markov chain over the bytes it holds: how often each starts a position,
/// and how likely each is to follow each other. A byte the sample lacks has chance 0.
struct Model {
    /// Each byte's place among those the sample holds, or [`ABSENT`].
    index: [u8; 256],
    /// How often the byte at each place occurs.
    start: Vec<f32>,
    /// `step[a * len + b]`: the chance that the byte at place `b` follows the one at `a`.
    step: Vec<f32>,
}

/// The place of a byte the sample lacks.
const ABSENT: u8 = u8::MAX;

impl Model {
    fn sample() -> Model {
        let mut index = [ABSENT; 256];
        let mut start: Vec<f32> = Vec::new();
        for &b in SAMPLE {
            let i = &mut index[usize::from(b)];
            if *i == ABSENT {
                // The sample holds far fewer than 255 distinct bytes (a test checks).
                *i = start.len() as u8;
                start.push(0.0);
            }
            start[usize::from(*i)] += 1.0;
        }
        let len = start.len();
        let mut pairs = vec![0u32; len * len];
        for w in SAMPLE.windows(2) {
            let (a, b) = (index[usize::from(w[0])], index[usize::from(w[1])]);
            pairs[usize::from(a) * len + usize::from(b)] += 1;
        }
        let total = SAMPLE.len() as f64;
        let mut step = vec![0f32; len * len];
        for a in 0..len {
            let ca = f64::from(start[a]);
            for b in 0..len {
                let mixed = (1.0 - INDEPENDENT) * f64::from(pairs[a * len + b])
                    + INDEPENDENT * ca * f64::from(start[b]) / total;
                step[a * len + b] = (mixed / ca) as f32;
            }
        }
        Model { index, start, step }
    }

    /// The places of the bytes the bucket accepts at offset `j` that the sample holds.
    fn accepted(&self, masks: &Masks, j: usize, out: &mut Vec<u8>) {
        out.clear();
        for hi in bits(masks.hi[j]) {
            for lo in bits(masks.lo[j]) {
                let i = self.index[usize::from(hi << 4 | lo)];
                if i != ABSENT {
                    out.push(i);
                }
            }
        }
    }

    /// Expected marks per sample length for a bucket with `masks`: the chain's
    /// probability of the accepted bytes at each offset, summed.
    fn marks(&self, masks: &Masks, mask_len: usize, scratch: &mut Scratch) -> f64 {
        let len = self.start.len();
        self.accepted(masks, 0, &mut scratch.accepted);
        scratch.weights.clear();
        scratch.weights.extend(
            scratch
                .accepted
                .iter()
                .map(|&c| (c, self.start[usize::from(c)])),
        );
        for j in 1..mask_len {
            self.accepted(masks, j, &mut scratch.accepted);
            scratch.next.clear();
            for &c in &scratch.accepted {
                let w: f32 = scratch
                    .weights
                    .iter()
                    .map(|&(p, w)| w * self.step[usize::from(p) * len + usize::from(c)])
                    .sum();
                scratch.next.push((c, w));
            }
            std::mem::swap(&mut scratch.weights, &mut scratch.next);
        }
        scratch.weights.iter().map(|&(_, w)| f64::from(w)).sum()
    }
}

#[derive(Default)]
struct Scratch {
    accepted: Vec<u8>,
    weights: Vec<(u8, f32)>,
    next: Vec<(u8, f32)>,
    /// Costs already worked out, by the bucket's masks and member count.
    known: HashMap<(Masks, usize), f64>,
}

/// Literals Teddy keeps in one bucket: equal low nibbles over the mask's length.
struct Unit {
    /// Indices into the literals; the first opens the bucket.
    members: Vec<usize>,
    masks: Masks,
}

/// A move of a unit to bucket `b`, or a swap with unit `v` there, and what it does.
struct Change {
    gain: f64,
    b: usize,
    v: Option<usize>,
    /// The two buckets' costs after it.
    ca: f64,
    cb: f64,
}

/// A bucket index that holds no unit, for the cost of a unit alone.
const NO_BUCKET: usize = usize::MAX;

struct Search<'m> {
    shape: Shape,
    model: &'m Model,
    units: Vec<Unit>,
    /// Bucket of each unit.
    bucket: Vec<usize>,
    /// Units of each bucket.
    inside: Vec<Vec<usize>>,
    /// Cost of each bucket as it stands.
    cost: Vec<f64>,
    /// Cost of each unit alone in a bucket.
    solo: Vec<f64>,
    scratch: Scratch,
    n: usize,
}

impl<'m> Search<'m> {
    /// Groups `lits` into units and starts from the buckets `start` gives them.
    fn new(lits: &[Vec<u8>], shape: Shape, model: &'m Model, start: &[usize]) -> Search<'m> {
        let key = |l: &[u8]| -> Vec<u8> { l.iter().take(shape.mask_len).map(|b| b & 15).collect() };
        let mut units: Vec<Unit> = Vec::new();
        let mut bucket = Vec::new();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for (position, &i) in start.iter().enumerate() {
            let k = key(&lits[i]);
            let masks = Masks::of(&lits[i], shape.mask_len);
            match keys.iter().position(|x| *x == k) {
                Some(u) => {
                    units[u].members.push(i);
                    units[u].masks = units[u].masks.union(masks);
                }
                None => {
                    keys.push(k);
                    units.push(Unit {
                        members: vec![i],
                        masks,
                    });
                    bucket.push(shape.bucket_at(position));
                }
            }
        }
        let mut inside = vec![Vec::new(); shape.buckets];
        for (u, &b) in bucket.iter().enumerate() {
            inside[b].push(u);
        }
        let mut search = Search {
            shape,
            model,
            units,
            bucket,
            inside,
            cost: Vec::new(),
            solo: Vec::new(),
            scratch: Scratch::default(),
            n: lits.len(),
        };
        search.solo = (0..search.units.len())
            .map(|u| search.cost_of(NO_BUCKET, None, Some(u)))
            .collect();
        search.cost = (0..shape.buckets)
            .map(|b| search.cost_of(b, None, None))
            .collect();
        search
    }

    /// Cost of bucket `b` (or of none, [`NO_BUCKET`]) without unit `out` and with unit
    /// `inn`: expected marks times the checks each makes.
    fn cost_of(&mut self, b: usize, out: Option<usize>, inn: Option<usize>) -> f64 {
        let mut masks = Masks::default();
        let mut members = 0;
        let inside = self
            .inside
            .get(b)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&u| Some(u) != out);
        for u in inside.chain(inn) {
            masks = masks.union(self.units[u].masks);
            members += self.units[u].members.len();
        }
        if members == 0 {
            return 0.0;
        }
        if let Some(&cost) = self.scratch.known.get(&(masks, members)) {
            return cost;
        }
        let marks = self
            .model
            .marks(&masks, self.shape.mask_len, &mut self.scratch);
        let cost = marks * (MARK_COST + members as f64);
        self.scratch.known.insert((masks, members), cost);
        cost
    }

    /// Moves or swaps units while that lowers the cost, as long as the result can be laid
    /// out.
    fn improve(&mut self) {
        for _ in 0..MAX_SWEEPS {
            let before: f64 = self.cost.iter().sum();
            for u in 0..self.units.len() {
                self.improve_unit(u);
            }
            let after: f64 = self.cost.iter().sum();
            if after >= before * (1.0 - SETTLED) {
                break;
            }
        }
    }

    /// Applies the best move or swap of unit `u` that lowers the cost enough, if any. A swap
    /// whose bound on its gain cannot beat the best found is not worked out: a bucket
    /// costs at least what any part of it costs, so after swapping `u` for `v`, `a`
    /// costs at least `a` without `u` and at least `v` alone, and `b` at least `b` without
    /// `v` and at least `u` alone.
    fn improve_unit(&mut self, u: usize) {
        let a = self.bucket[u];
        let without_u = self.cost_of(a, Some(u), None);
        let mut best: Option<Change> = None;
        let floor = MIN_GAIN * self.cost.iter().sum::<f64>();
        for b in (0..self.shape.buckets).filter(|&b| b != a) {
            let before = self.cost[a] + self.cost[b];
            let with_u = self.cost_of(b, None, Some(u));
            let change = Change {
                gain: before - without_u - with_u,
                b,
                v: None,
                ca: without_u,
                cb: with_u,
            };
            self.consider(u, a, change, &mut best);
            for i in 0..self.inside[b].len() {
                let v = self.inside[b][i];
                let needed = best.as_ref().map_or(floor, |x| x.gain);
                if before - without_u.max(self.solo[v]) - self.solo[u] <= needed {
                    continue;
                }
                let b_without_v = self.cost_of(b, Some(v), None);
                if before - without_u - b_without_v <= needed {
                    continue;
                }
                let ca = self.cost_of(a, Some(u), Some(v));
                if before - ca - self.solo[u] <= needed {
                    continue;
                }
                let cb = self.cost_of(b, Some(v), Some(u));
                let change = Change {
                    gain: before - ca - cb,
                    b,
                    v: Some(v),
                    ca,
                    cb,
                };
                self.consider(u, a, change, &mut best);
            }
        }
        let Some(Change { b, v, ca, cb, .. }) = best else {
            return;
        };
        self.assign(u, v, a, b);
        self.cost[a] = ca;
        self.cost[b] = cb;
    }

    /// Keeps `change` of unit `u` (in bucket `a`) as the best if it gains more than the
    /// best so far and can be laid out.
    fn consider(&mut self, u: usize, a: usize, change: Change, best: &mut Option<Change>) {
        let floor = MIN_GAIN * self.cost.iter().sum::<f64>();
        if change.gain <= floor || best.as_ref().is_some_and(|x| change.gain <= x.gain) {
            return;
        }
        self.assign(u, change.v, a, change.b);
        let fits = self.layout().is_some();
        self.assign(u, change.v, change.b, a);
        if fits {
            *best = Some(change);
        }
    }

    /// Puts unit `u` (from `a`) in bucket `b`, and `v` (from `b`), if any, in `a`.
    fn assign(&mut self, u: usize, v: Option<usize>, a: usize, b: usize) {
        self.bucket[u] = b;
        self.inside[a].retain(|&x| x != u);
        self.inside[b].push(u);
        if let Some(v) = v {
            self.bucket[v] = a;
            self.inside[b].retain(|&x| x != v);
            self.inside[a].push(v);
        }
    }

    /// An order under which Teddy's rule gives every unit its bucket: position by
    /// position, a unit still to place in the position's bucket opens it (those with more
    /// members first, so that they are free to fill later positions), else a member of a
    /// placed unit goes there, which joins its unit wherever it stands. `None` when a
    /// position has neither.
    fn layout(&self) -> Option<Vec<usize>> {
        let mut pending = self.inside.clone();
        for p in &mut pending {
            // Popped from the back: most members last in the list.
            p.sort_by_key(|&u| (self.units[u].members.len(), std::cmp::Reverse(u)));
        }
        let mut free = VecDeque::new();
        let mut order = Vec::with_capacity(self.n);
        for position in 0..self.n {
            if let Some(u) = pending[self.shape.bucket_at(position)].pop() {
                order.push(self.units[u].members[0]);
                free.extend(self.units[u].members[1..].iter().copied());
            } else {
                order.push(free.pop_front()?);
            }
        }
        Some(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// aho-corasick 1.1's assignment (`packed/teddy/generic.rs`, `Teddy::new`): the
    /// bucket of each literal, for `lits` given in `order`.
    fn teddy_buckets(lits: &[Vec<u8>], order: &[usize], shape: Shape) -> Vec<usize> {
        let mut opened: Vec<(Vec<u8>, usize)> = Vec::new();
        let mut bucket = vec![0; lits.len()];
        for (position, &i) in order.iter().enumerate() {
            let key: Vec<u8> = lits[i]
                .iter()
                .take(shape.mask_len)
                .map(|b| b & 15)
                .collect();
            bucket[i] = match opened.iter().find(|(k, _)| *k == key) {
                Some(&(_, b)) => b,
                None => {
                    opened.push((key, shape.bucket_at(position)));
                    shape.bucket_at(position)
                }
            };
        }
        bucket
    }

    /// Checks Teddy would make on `text`: each position its buckets mark, times members.
    fn checks(lits: &[Vec<u8>], order: &[usize], text: &[u8]) -> usize {
        let shape = Shape::of(lits).expect("a Teddy set");
        let bucket = teddy_buckets(lits, order, shape);
        let mut masks = vec![Masks::default(); shape.buckets];
        let mut members = vec![0; shape.buckets];
        for (i, l) in lits.iter().enumerate() {
            masks[bucket[i]] = masks[bucket[i]].union(Masks::of(l, shape.mask_len));
            members[bucket[i]] += 1;
        }
        let accepts = |m: &Masks, w: &[u8]| {
            w.iter()
                .enumerate()
                .all(|(j, &b)| m.lo[j] >> (b & 15) & 1 == 1 && m.hi[j] >> (b >> 4) & 1 == 1)
        };
        text.windows(shape.mask_len)
            .map(|w| {
                (0..shape.buckets)
                    .filter(|&b| members[b] > 0 && accepts(&masks[b], w))
                    .map(|b| members[b])
                    .sum::<usize>()
            })
            .sum()
    }

    fn lits(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    /// Key prefixes and context words of the kind the catalogue holds, with case variants
    /// that Teddy must keep together.
    fn catalogue_like() -> Vec<Vec<u8>> {
        lits(&[
            "-----BEGIN",
            "ACCA",
            "AIza",
            "APKA",
            "ATATT3",
            "Dea",
            "MEDICARE",
            "Passport",
            "_v1_",
            "gho_",
            "ghu_",
            "hooks.slack.com",
            "login",
            "mysql",
            "secret",
            "sshpass",
            "--pass",
            "AGPA",
            "AKIA",
            "AROA",
            "AWS",
            "GOCSPX-",
            "Mbi",
            "SECRET",
            "aws",
            "ghp_",
            "github_pat_",
            "k_live_",
            "mbi",
            "npm_",
            "sk-",
            "www.",
            "://",
            "AIDA",
            "ANPA",
            "ASCA",
            "Aws",
            "Key=",
            "Medicare",
            "SG.",
            "dea",
            "ghr_",
            "glpat-",
            "k_test_",
            "medicare",
            "passport",
            "sk-ant-",
            "xox",
            "ABIA",
            "AIPA",
            "ANVA",
            "ASIA",
            "DEA",
            "MBI",
            "PASSPORT",
            "Secret",
            "eyJ",
            "ghs_",
            "hf_",
            "ldap",
            "mongo",
            "pypi-AgEIcHlwaS5vcmc",
        ])
    }

    #[test]
    fn layout_puts_every_literal_where_the_search_chose() {
        for set in [
            catalogue_like(),
            lits(&["alpha", "beta", "gamma", "delta"]),
            lits(&["ab", "Ab", "aB", "cd"]),
        ] {
            let shape = Shape::of(&set).expect("a Teddy set");
            let model = Model::sample();
            let mut search = Search::new(&set, shape, &model, &dealt(&set));
            search.improve();
            let order = search.layout().expect("laid out");
            let mut seen = order.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..set.len()).collect::<Vec<_>>(), "a permutation");
            let got = teddy_buckets(&set, &order, shape);
            for (u, unit) in search.units.iter().enumerate() {
                for &i in &unit.members {
                    assert_eq!(
                        got[i],
                        search.bucket[u],
                        "{:?}",
                        String::from_utf8_lossy(&set[i])
                    );
                }
            }
        }
    }

    #[test]
    fn chosen_buckets_mark_less_of_text_the_model_never_saw() {
        // Not from the sample: prose of another kind, and a JSON tool result.
        let text = "Across the valley the river bends twice before it reaches the old mill, \
            where a narrow bridge carries the road over the water. Walkers who arrive early \
            can follow the towpath north and return by the ridge, which offers a wide view \
            of the surrounding farmland and, on clear days, the distant hills. {\"results\": \
            [{\"title\": \"Quarterly planning\", \"attendees\": 12, \"location\": \"Room B\", \
            \"recurring\": true}, {\"title\": \"Architecture review\", \"attendees\": 7}]}";
        let set = catalogue_like();
        let before = checks(&set, &dealt(&set), text.as_bytes());
        let after = checks(&set, &order(&set), text.as_bytes());
        assert!(after * 2 < before, "checks {before} -> {after}");
    }

    #[test]
    fn the_model_places_every_byte_of_the_sample() {
        let model = Model::sample();
        assert!(model.start.len() < usize::from(ABSENT));
        assert!(SAMPLE
            .iter()
            .all(|&b| model.index[usize::from(b)] != ABSENT));
    }

    #[test]
    fn sets_teddy_does_not_take_keep_the_dealt_order() {
        let many: Vec<Vec<u8>> = (0..65).map(|i| format!("lit{i:02}").into_bytes()).collect();
        assert_eq!(order(&many), dealt(&many));
        let short = lits(&["a", "b"]);
        assert!(Shape::of(&short).is_some());
        let seventeen: Vec<Vec<u8>> = (b'a'..=b'q').map(|c| vec![c]).collect();
        assert_eq!(order(&seventeen), dealt(&seventeen));
    }
}
