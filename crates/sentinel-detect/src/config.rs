//! Detection configuration in TOML: custom recognizers, allow and deny lists, options.
//!
//! ```toml
//! [detection]
//! min_score = 0.4
//! disable = ["URL"]              # recognizer names or entity types
//!
//! [[recognizer]]
//! name = "employee_id"
//! entity = "EMPLOYEE_ID"
//! pattern = '\bEMP-[0-9]{6}\b'
//! validator = "luhn"             # optional, see Validator::NAMES
//! context = ["employee", "staff"]
//! score = 0.6
//! context_required = false
//!
//! [allow]
//! values = ["support@example.com"]
//!
//! [[deny]]
//! entity = "PROJECT_CODENAME"
//! values = ["Nightjar", "Falcon"]
//! case_insensitive = true
//! ```

use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::local::{DenyList, LocalDetectorBuilder};
use crate::recognizer::Recognizer;
use crate::validate::Validator;

/// The detection section of a configuration file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DetectionConfig {
    /// Options.
    #[serde(default)]
    pub detection: Options,
    /// Custom recognizers, added after the built-in ones.
    #[serde(default, rename = "recognizer")]
    pub recognizers: Vec<RecognizerConfig>,
    /// Values never reported.
    #[serde(default)]
    pub allow: AllowConfig,
    /// Values always reported.
    #[serde(default)]
    pub deny: Vec<DenyConfig>,
}

/// Detection options.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Findings below this score are dropped.
    #[serde(default)]
    pub min_score: Option<f32>,
    /// Built-in recognizers to switch off, by name or entity type.
    #[serde(default)]
    pub disable: Vec<String>,
}

/// A custom recognizer as written in TOML.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecognizerConfig {
    /// Unique name.
    pub name: String,
    /// Entity type reported.
    pub entity: String,
    /// The pattern.
    pub pattern: String,
    /// A validator's name.
    #[serde(default)]
    pub validator: Option<String>,
    /// Context words.
    #[serde(default)]
    pub context: Vec<String>,
    /// Base score (default 0.5).
    #[serde(default)]
    pub score: Option<f32>,
    /// Require a context word nearby.
    #[serde(default)]
    pub context_required: bool,
}

/// The allow list.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AllowConfig {
    /// Values never reported.
    #[serde(default)]
    pub values: Vec<String>,
}

/// A deny list.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DenyConfig {
    /// Entity type reported.
    pub entity: String,
    /// Values.
    pub values: Vec<String>,
    /// Match regardless of ASCII case.
    #[serde(default)]
    pub case_insensitive: bool,
    /// Score reported (default 1.0).
    #[serde(default)]
    pub score: Option<f32>,
    /// Context words that raise a value's score by 0.35 when near it (default none).
    #[serde(default)]
    pub context: Vec<String>,
}

impl DetectionConfig {
    /// Parses TOML; `origin` (a path) names the source in errors.
    ///
    /// # Errors
    ///
    /// Invalid TOML or unknown keys, with line and column.
    ///
    /// # Example: parse and build
    ///
    /// ```
    /// use sentinel_detect::{DetectionConfig, Detector, LocalDetector};
    /// let cfg = DetectionConfig::from_toml("inline", r#"
    ///     [[recognizer]]
    ///     name = "ticket"
    ///     entity = "TICKET_ID"
    ///     pattern = 'TCK-[0-9]{5}'
    ///     score = 0.9
    /// "#)?;
    /// let d = cfg.apply(LocalDetector::builder())?.build()?;
    /// assert_eq!(d.scan("see TCK-12345")[0].entity.as_str(), "TICKET_ID");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_toml(origin: &str, text: &str) -> Result<DetectionConfig, Error> {
        toml::from_str(text).map_err(|e| {
            let message = match e.span() {
                Some(span) => {
                    let (line, col) = crate::line_column(text, span.start);
                    format!("line {line}, column {col}: {}", e.message())
                }
                None => e.message().to_owned(),
            };
            Error::new(ErrorKind::Config {
                origin: origin.to_owned(),
                message,
            })
        })
    }

    /// Applies this configuration to a builder.
    ///
    /// # Errors
    ///
    /// An unknown validator name.
    pub fn apply(&self, mut b: LocalDetectorBuilder) -> Result<LocalDetectorBuilder, Error> {
        b = b.disable(self.detection.disable.iter().cloned());
        if let Some(s) = self.detection.min_score {
            b = b.min_score(s);
        }
        for r in &self.recognizers {
            let mut rec = Recognizer::new(&r.name, &r.entity, &r.pattern)
                .with_context(r.context.iter().cloned())
                .with_score(r.score.unwrap_or(0.5));
            if r.context_required {
                rec = rec.require_context();
            }
            if let Some(v) = &r.validator {
                let validator = Validator::from_name(v).ok_or_else(|| {
                    Error::new(ErrorKind::UnknownValidator {
                        recognizer: r.name.clone(),
                        validator: v.clone(),
                    })
                })?;
                rec = rec.with_validator(validator);
            }
            b = b.recognizer(rec);
        }
        b = b.allow(self.allow.values.iter().cloned());
        for d in &self.deny {
            b = b.deny_list(DenyList {
                entity: d.entity.clone(),
                values: d.values.clone(),
                case_insensitive: d.case_insensitive,
                score: d.score.unwrap_or(1.0),
                context: d.context.clone(),
            });
        }
        Ok(b)
    }
}
