use sentinel_detect::{Detector, LocalDetector};
use std::sync::OnceLock;

pub(crate) fn detector() -> &'static LocalDetector {
    static D: OnceLock<LocalDetector> = OnceLock::new();
    D.get_or_init(LocalDetector::new)
}

/// (entity, value) pairs found in `text` by the default detector.
pub(crate) fn found(text: &str) -> Vec<(String, String)> {
    detector()
        .scan(text)
        .into_iter()
        .map(|f| (f.entity.as_str().to_owned(), text[f.span()].to_owned()))
        .collect()
}

/// Asserts that `value`, placed in `template` at `{}`, is found as `entity` exactly.
#[track_caller]
pub(crate) fn assert_finds(entity: &str, template: &str, value: &str) {
    let text = template.replace("{}", value);
    let got = found(&text);
    assert!(
        got.iter().any(|(e, v)| e == entity && v == value),
        "expected {entity} {value:?} in {text:?}, got {got:?}"
    );
}

/// The score of the first `entity` found in `text`, as an answer prints it (`"0.65"`).
pub(crate) fn score_of(entity: &str, text: &str) -> Option<String> {
    detector()
        .scan(text)
        .iter()
        .find(|f| f.entity.as_str() == entity)
        .map(|f| f.score.to_string())
}

/// Asserts that nothing of `entity` is found in `text`.
#[track_caller]
pub(crate) fn assert_not(entity: &str, text: &str) {
    let got = found(text);
    assert!(
        !got.iter().any(|(e, _)| e == entity),
        "unexpected {entity} in {text:?}: {got:?}"
    );
}
