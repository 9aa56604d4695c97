//! The audit event: who, what kinds of values, which action, never the values.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Which way the text was travelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the caller to the provider.
    Request,
    /// From the provider back to the caller.
    Response,
}

/// One recorded decision.
///
/// It holds entity types with counts, actions and keyed fingerprints of values (computed by
/// the caller with a secret key), never a value itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The request's id.
    pub request_id: String,
    /// The tenant.
    pub tenant: String,
    /// The route (`/v1/chat/completions`, `scan`, ...).
    #[serde(default)]
    pub route: String,
    /// The model, where there is one.
    #[serde(default)]
    pub model: String,
    /// Request or response.
    pub direction: Direction,
    /// Entity type -> how many values of it were found.
    #[serde(default)]
    pub entities: BTreeMap<String, u32>,
    /// Action -> how many times it was applied (`redact`, `mask`, `block`...).
    #[serde(default)]
    pub actions: BTreeMap<String, u32>,
    /// The decision: `allow`, `transform` or `block`.
    #[serde(default)]
    pub decision: String,
    /// Time spent on the decision, in microseconds.
    #[serde(default)]
    pub latency_us: u64,
    /// Hash of the policy version that decided.
    #[serde(default)]
    pub policy_version: String,
    /// Keyed fingerprints of the values (HMAC under the deployment's key), never values.
    #[serde(default)]
    pub fingerprints: Vec<String>,
    /// Pseudonyms put back into the answer for the caller (response events).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restored: u32,
    /// Token-shaped text in the answer that no pseudonym in scope resolved, by entity type
    /// (response events): left in place and recorded, never silently dropped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unresolved: BTreeMap<String, u32>,
    /// The shadow policy's decision (`allow`, `transform`, `block`), when the tenant has one:
    /// decided and recorded next to the enforced decision, never applied.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shadow_decision: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl AuditEvent {
    /// An event stamped now, with everything else empty.
    pub fn new(request_id: &str, tenant: &str, direction: Direction) -> AuditEvent {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        AuditEvent {
            time_ms,
            request_id: request_id.to_owned(),
            tenant: tenant.to_owned(),
            route: String::new(),
            model: String::new(),
            direction,
            entities: BTreeMap::new(),
            actions: BTreeMap::new(),
            decision: String::new(),
            latency_us: 0,
            policy_version: String::new(),
            fingerprints: Vec::new(),
            restored: 0,
            unresolved: BTreeMap::new(),
            shadow_decision: String::new(),
        }
    }

    /// Counts `n` findings of `entity` (a name is copied only the first time it is seen).
    pub fn count_entity(&mut self, entity: &str, n: u32) {
        bump(&mut self.entities, entity, n);
    }

    /// Counts `n` applications of `action`.
    pub fn count_action(&mut self, action: &str, n: u32) {
        bump(&mut self.actions, action, n);
    }
}

fn bump(counts: &mut BTreeMap<String, u32>, key: &str, n: u32) {
    match counts.get_mut(key) {
        Some(c) => *c = c.saturating_add(n),
        None => {
            counts.insert(key.to_owned(), n);
        }
    }
}

/// One line of the log: the event, its sequence number and the previous line's hash.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Record<E> {
    pub(crate) seq: u64,
    pub(crate) prev: String,
    pub(crate) event: E,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_name() {
        let mut e = AuditEvent::new("r", "t", Direction::Request);
        e.count_entity("EMAIL_ADDRESS", 1);
        e.count_entity("PHONE_NUMBER", 1);
        e.count_entity("EMAIL_ADDRESS", 2);
        e.count_action("redact", 3);
        e.count_action("redact", u32::MAX);
        assert_eq!(e.entities["EMAIL_ADDRESS"], 3);
        assert_eq!(e.entities["PHONE_NUMBER"], 1);
        assert_eq!(e.actions["redact"], u32::MAX);
    }
}
