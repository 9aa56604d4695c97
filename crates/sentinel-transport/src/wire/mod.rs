//! Provider wire formats. Every type keeps the fields it does not name in `extra`, so a
//! request or response parsed and written back loses nothing a provider added.

pub mod anthropic;
pub mod openai;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A message content that may be a string, a list of parts, `null`, or absent; each is
/// written back as it came.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content<P> {
    /// A plain string.
    Text(String),
    /// A list of typed parts (text, images, tool results...).
    Parts(Vec<P>),
    /// JSON `null`.
    Null(()),
    /// The field was absent.
    #[default]
    #[serde(skip)]
    Absent,
}

impl<P> Content<P> {
    /// Whether the field was absent (so it is not written).
    pub fn is_absent(&self) -> bool {
        matches!(self, Content::Absent)
    }
}

/// Fields a type does not name, kept for the round trip.
pub type Extra = serde_json::Map<String, Value>;
