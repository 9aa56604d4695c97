//! Policy errors.

/// A policy that cannot be loaded: it does not parse (with file, line and column), names an
/// unknown preset, or needs a key that is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TOML does not parse or has unknown keys.
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        /// The file (or `<preset NAME>`).
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// `extends` names no preset and no tenant.
    #[error("{origin}: unknown preset or policy '{name}' (presets: {known})")]
    UnknownBase {
        /// The file.
        origin: String,
        /// The unknown name.
        name: String,
        /// The presets that exist.
        known: String,
    },
    /// A rule uses `hash` or `pseudonymize` but the key's environment variable is unset or
    /// empty.
    #[error(
        "{origin}: the {action} action needs a key in the environment variable {var}, which is not set"
    )]
    MissingKey {
        /// The file.
        origin: String,
        /// The action that needs the key.
        action: &'static str,
        /// The variable.
        var: String,
    },
    /// A rule is inconsistent (no entity and no group, score outside 0..=1).
    #[error("{origin}: rule {rule}: {message}")]
    InvalidRule {
        /// The file.
        origin: String,
        /// The rule's name or position.
        rule: String,
        /// What is wrong.
        message: String,
    },
}
