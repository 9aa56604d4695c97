//! Decisions: what the policy says about one text.

use std::borrow::Cow;

/// Which way the text travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A prompt, on its way to the provider.
    Request,
    /// An answer, on its way back.
    Response,
}

/// Who is asking, and where the text goes.
///
/// Its strings are usually borrowed from the request being decided, so a decision copies
/// none of them; [`into_owned`](DecisionContext::into_owned) gives one that outlives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionContext<'a> {
    /// The tenant; its policy applies, or the base policy when it has none.
    pub tenant: Cow<'a, str>,
    /// The direction.
    pub direction: Direction,
    /// The route (`/v1/chat/completions`, ...).
    pub route: Cow<'a, str>,
    /// The model.
    pub model: Cow<'a, str>,
    /// Where pseudonyms are kept for restoring: a conversation id or a request id. `None`
    /// shares one scope per tenant (kept for the vault's TTL).
    pub scope: Option<Cow<'a, str>>,
}

impl<'a> DecisionContext<'a> {
    /// A request for `tenant` with no route or model.
    pub fn request(tenant: &'a str) -> DecisionContext<'a> {
        DecisionContext {
            tenant: Cow::Borrowed(tenant),
            direction: Direction::Request,
            route: Cow::Borrowed(""),
            model: Cow::Borrowed(""),
            scope: None,
        }
    }

    /// The same context with pseudonyms kept in `scope` (a conversation or request id).
    #[must_use]
    pub fn with_scope(mut self, scope: &'a str) -> DecisionContext<'a> {
        self.scope = Some(Cow::Borrowed(scope));
        self
    }

    /// A response for `tenant` with no route or model.
    pub fn response(tenant: &'a str) -> DecisionContext<'a> {
        DecisionContext {
            direction: Direction::Response,
            ..DecisionContext::request(tenant)
        }
    }

    /// The same context, owning its strings.
    pub fn into_owned(self) -> DecisionContext<'static> {
        DecisionContext {
            tenant: Cow::Owned(self.tenant.into_owned()),
            direction: self.direction,
            route: Cow::Owned(self.route.into_owned()),
            model: Cow::Owned(self.model.into_owned()),
            scope: self.scope.map(|s| Cow::Owned(s.into_owned())),
        }
    }
}

/// A rule applied to one finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The entity type.
    pub entity: sentinel_detect::EntityType,
    /// The action taken.
    pub action: crate::Action,
    /// The rule that decided (`default` when none matched). Shared with the policy: a
    /// decision copies no names.
    pub rule: std::sync::Arc<str>,
    /// Byte span in the original text.
    pub start: usize,
    /// End of the byte span in the original text.
    pub end: usize,
}

/// Why a text was blocked: the entity type and the rule, never the value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reason {
    /// The entity type.
    pub entity: String,
    /// The rule.
    pub rule: String,
}

/// `CREDIT_CARD (rule block-cards)`; a rule without a name of its own reads by its number,
/// `CREDIT_CARD (rule 2)`.
impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unnamed = self
            .rule
            .strip_prefix("rule ")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match unnamed {
            true => write!(f, "{} ({})", self.entity, self.rule),
            false => write!(f, "{} (rule {})", self.entity, self.rule),
        }
    }
}

/// One decision per text. A block anywhere wins.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Pass the text unchanged; `alerts` are findings to count and audit.
    Allow {
        /// Findings under `alert` or `allow` rules.
        applied: Vec<Applied>,
    },
    /// Pass this text instead.
    Transform {
        /// The transformed text.
        text: String,
        /// What was applied where.
        applied: Vec<Applied>,
    },
    /// Refuse.
    Block {
        /// Entity types and rules, sorted, without repeats.
        reasons: Vec<Reason>,
    },
}
