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

/// A page of a listing (files, batches, message batches): OpenAI's and Anthropic's share
/// the shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: serde::de::DeserializeOwned"))]
pub struct List<T> {
    /// The items of this page.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Whether there are more after it (ask again with `after` = [`List::last_id`]).
    #[serde(default)]
    pub has_more: bool,
    /// The first item's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_id: Option<String>,
    /// The last item's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<String>,
    /// Everything else (`object`).
    #[serde(flatten)]
    pub extra: Extra,
}
