//! Decisions: what the policy says about one text.

/// Which way the text travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A prompt, on its way to the provider.
    Request,
    /// An answer, on its way back.
    Response,
}

/// Who is asking, and where the text goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionContext {
    /// The tenant; its policy applies, or the base policy when it has none.
    pub tenant: String,
    /// The direction.
    pub direction: Direction,
    /// The route (`/v1/chat/completions`, ...).
    pub route: String,
    /// The model.
    pub model: String,
    /// Where pseudonyms are kept for restoring: a conversation id or a request id. `None`
    /// shares one scope per tenant (kept for the vault's TTL).
    pub scope: Option<String>,
}

impl DecisionContext {
    /// A request for `tenant` with no route or model.
    pub fn request(tenant: &str) -> DecisionContext {
        DecisionContext {
            tenant: tenant.to_owned(),
            direction: Direction::Request,
            route: String::new(),
            model: String::new(),
            scope: None,
        }
    }

    /// The same context with pseudonyms kept in `scope` (a conversation or request id).
    #[must_use]
    pub fn with_scope(mut self, scope: &str) -> DecisionContext {
        self.scope = Some(scope.to_owned());
        self
    }

    /// A response for `tenant` with no route or model.
    pub fn response(tenant: &str) -> DecisionContext {
        DecisionContext {
            direction: Direction::Response,
            ..DecisionContext::request(tenant)
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
