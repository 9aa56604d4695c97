//! A recognizer: the definition of one kind of value (pattern, validator, context, score).
//! Recognizers are data; [`PatternSet`](crate::PatternSet) compiles many into one program.

use crate::validate::Validator;

/// What must occur in the text for a recognizer's pattern to be worth running there.
///
/// The scanner looks for triggers first (at memchr-like speed) and runs patterns only in
/// windows around them. A trigger is a promise about every match: a match that contains no
/// trigger is never reported. Built-in recognizers declare theirs; for custom ones
/// [`Trigger::Auto`] derives one from the pattern's literal prefixes, or scans everything
/// when there is none.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trigger {
    /// Derive from the pattern: its literal prefixes if it has a small set, else scan all.
    Auto,
    /// Every match contains at least one of these bytes (for example an ASCII digit, `@`).
    Bytes(Vec<u8>),
    /// Every match contains one of these literals (case-sensitive).
    Literals(Vec<String>),
    /// The recognizer requires context: run it only near one of its context words.
    Context,
    /// Every position may start a match: scan the whole text.
    Always,
}

/// Which bytes may stand right before and after a match for it to count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Boundary {
    /// No check beyond what the pattern says.
    #[default]
    None,
    /// Not a letter, digit or `_`; and not a `.` or `-` that continues into a digit (so a
    /// number inside a longer number, version or IP is not taken for a value).
    Token,
    /// Not a character of a key alphabet: letters, digits, `_`, `-`, `+`, `/` (and `=`
    /// after the key, where base64 padding would continue it).
    Key,
    /// Like `Token`, and not a `:` either (an IPv6 or MAC address inside a longer one).
    Address,
}

/// How a recognizer's definition is written: a name, the entity it reports, a pattern, and
/// the knobs that turn a pattern match into a scored finding.
///
/// # Example: a custom recognizer
///
/// ```
/// use sentinel_detect::{Detector, LocalDetector, Recognizer, Validator};
/// let employee = Recognizer::new("employee_id", "EMPLOYEE_ID", r"\bEMP-[0-9]{6}\b")
///     .with_score(0.6)
///     .with_context(["employee", "staff"]);
/// let detector = LocalDetector::builder().recognizer(employee).build()?;
/// let found = detector.scan("staff record EMP-004211");
/// assert_eq!(found[0].entity.as_str(), "EMPLOYEE_ID");
/// assert!(found[0].score > 0.9); // context raised it
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Recognizer {
    /// Unique name, reported with each finding (`credit_card`, `aws_access_key`, ...).
    pub name: String,
    /// The entity type it reports (`CREDIT_CARD`).
    pub entity: String,
    /// The pattern, in regex-automata's syntax (the `regex` crate's). Matching is always
    /// linear in the input: there are no backreferences or look-around beyond `\b`, `^`, `$`.
    pub pattern: String,
    /// A check run on each candidate; `None` accepts every match.
    pub validator: Option<Validator>,
    /// Words that, found near a candidate, raise its score (ASCII case-insensitive).
    pub context: Vec<String>,
    /// Score of a validated candidate without context, in `0.0..=1.0`.
    pub score: f32,
    /// Drop candidates with none of the context words nearby.
    pub context_required: bool,
    /// Where the pattern is worth running.
    pub trigger: Trigger,
    /// What may stand beside a match.
    pub boundary: Boundary,
    /// Report only this capture group of the match (for `password=VALUE`, the value), or,
    /// when it did not take part, the first later group that did (a value written in one
    /// of several ways: `"in quotes, with spaces"` or bare). A group in quotes, after a
    /// byte that is no letter or digit, holding no such quote nor line end, may hold words
    /// of prose and the catalogue still be
    /// [word-bounded](crate::Detector::word_bounded): a stream scanner holds an open
    /// quote's text ([`QUOTE_LIMIT`](crate::QUOTE_LIMIT)).
    pub value_group: Option<usize>,
    /// Characters trimmed from the end of a match (a URL's closing punctuation).
    pub trim_end: String,
    /// The most bytes a match extends before and after a trigger byte it contains, when
    /// tighter than the pattern's longest match (`password=` values: a short keyword
    /// before the `=`, a long value after). Windows are clipped to it.
    pub trigger_reach: Option<(usize, usize)>,
}

impl Recognizer {
    /// A recognizer with score 0.5, no validator, no context, an automatic trigger.
    pub fn new(name: &str, entity: &str, pattern: &str) -> Recognizer {
        Recognizer {
            name: name.to_owned(),
            entity: entity.to_owned(),
            pattern: pattern.to_owned(),
            validator: None,
            context: Vec::new(),
            score: 0.5,
            context_required: false,
            trigger: Trigger::Auto,
            boundary: Boundary::None,
            value_group: None,
            trim_end: String::new(),
            trigger_reach: None,
        }
    }

    /// Sets the base score.
    pub fn with_score(mut self, score: f32) -> Recognizer {
        self.score = score;
        self
    }

    /// Sets the validator.
    pub fn with_validator(mut self, v: Validator) -> Recognizer {
        self.validator = Some(v);
        self
    }

    /// Sets the context words.
    pub fn with_context<I, S>(mut self, words: I) -> Recognizer
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.context = words.into_iter().map(Into::into).collect();
        self
    }

    /// Requires a context word near every finding.
    pub fn require_context(mut self) -> Recognizer {
        self.context_required = true;
        self
    }

    /// Sets the trigger.
    pub fn with_trigger(mut self, t: Trigger) -> Recognizer {
        self.trigger = t;
        self
    }

    /// Sets the boundary rule.
    pub fn with_boundary(mut self, b: Boundary) -> Recognizer {
        self.boundary = b;
        self
    }

    /// Reports only capture group `g`, or the first later one that took part (see
    /// [`value_group`](Recognizer::value_group)).
    pub fn with_value_group(mut self, g: usize) -> Recognizer {
        self.value_group = Some(g);
        self
    }

    /// Declares how far a match reaches before and after its trigger.
    pub fn with_trigger_reach(mut self, before: usize, after: usize) -> Recognizer {
        self.trigger_reach = Some((before, after));
        self
    }

    /// Trims these characters from the end of matches.
    pub fn with_trim_end(mut self, chars: &str) -> Recognizer {
        self.trim_end = chars.to_owned();
        self
    }
}
