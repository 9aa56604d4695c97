//! Errors raised while building a detector or loading its configuration.

use std::fmt;

/// An error raised while building a detector: a pattern that does not compile, an unknown
/// validator, a configuration file that does not parse.
///
/// Errors never carry text that was scanned, only names from the configuration.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// What went wrong, with the name of the recognizer or file at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A recognizer's pattern failed to compile.
    Pattern {
        /// The recognizer whose pattern is at fault.
        recognizer: String,
        /// The compiler's explanation.
        message: String,
    },
    /// A recognizer names a validator that does not exist.
    UnknownValidator {
        /// The recognizer at fault.
        recognizer: String,
        /// The unknown name.
        validator: String,
    },
    /// A recognizer's definition is inconsistent (empty name, score outside 0..=1, ...).
    InvalidRecognizer {
        /// The recognizer at fault.
        recognizer: String,
        /// Why it was refused.
        message: String,
    },
    /// Two recognizers share a name.
    DuplicateRecognizer {
        /// The repeated name.
        recognizer: String,
    },
    /// A configuration file did not parse.
    Config {
        /// Where it came from (a path, or `<string>`).
        origin: String,
        /// The parser's message, with line and column where it gives them.
        message: String,
    },
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Pattern {
                recognizer,
                message,
            } => {
                write!(f, "recognizer '{recognizer}': invalid pattern: {message}")
            }
            ErrorKind::UnknownValidator {
                recognizer,
                validator,
            } => write!(
                f,
                "recognizer '{recognizer}': unknown validator '{validator}' (known: {})",
                crate::validate::Validator::NAMES.join(", ")
            ),
            ErrorKind::InvalidRecognizer {
                recognizer,
                message,
            } => {
                write!(f, "recognizer '{recognizer}': {message}")
            }
            ErrorKind::DuplicateRecognizer { recognizer } => {
                write!(f, "recognizer '{recognizer}' is defined twice")
            }
            ErrorKind::Config { origin, message } => write!(f, "{origin}: {message}"),
        }
    }
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The recognizer at fault, where there is one.
    pub fn recognizer(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Pattern { recognizer, .. }
            | ErrorKind::UnknownValidator { recognizer, .. }
            | ErrorKind::InvalidRecognizer { recognizer, .. }
            | ErrorKind::DuplicateRecognizer { recognizer } => Some(recognizer),
            ErrorKind::Config { .. } => None,
        }
    }

    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error { kind, source: None }
    }

    pub(crate) fn pattern(
        recognizer: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        // The pattern compiler's Display already quotes the offending part of the pattern,
        // which is configuration, never scanned text. Its first line alone can be terse
        // ("error building NFA"): the causes beneath it say why (a size limit).
        let mut message = source.to_string();
        let mut cause = source.source();
        while let Some(c) = cause {
            let more = c.to_string();
            if !message.contains(&more) {
                message = format!("{message}: {more}");
            }
            cause = c.source();
        }
        Error {
            kind: ErrorKind::Pattern {
                recognizer: recognizer.to_owned(),
                message,
            },
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn invalid(recognizer: &str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidRecognizer {
            recognizer: recognizer.to_owned(),
            message: message.into(),
        })
    }
}
