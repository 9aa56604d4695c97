//! The audit event: who, what kinds of values, which action, never the values.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
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
    /// The route (`/v1/chat/completions`, `scan`, ...): usually a constant, so borrowed.
    #[serde(default)]
    pub route: Cow<'static, str>,
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
    pub decision: Cow<'static, str>,
    /// Time spent on the decision, in microseconds.
    #[serde(default)]
    pub latency_us: u64,
    /// Hash of the policy version that decided, shared with the policy that holds it.
    #[serde(default)]
    pub policy_version: Arc<str>,
    /// Keyed fingerprints of the values (HMAC under the deployment's key), never values.
    #[serde(default)]
    pub fingerprints: Vec<Fingerprint>,
    /// Pseudonyms put back into the answer for the caller (response events).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restored: u32,
    /// Token-shaped text in the answer that no pseudonym in scope resolved, by entity type
    /// (response events): left in place and recorded, never silently dropped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unresolved: BTreeMap<String, u32>,
    /// The shadow policy's decision (`allow`, `transform`, `block`), when the tenant has one:
    /// decided and recorded next to the enforced decision, never applied.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub shadow_decision: Cow<'static, str>,
    /// How an exchange ended when the answer did not reach the caller whole (response
    /// events; absent when it did): the error kind of the failure (`upstream_status`,
    /// `upstream_timeout`, `upstream_protocol`, `detector`, `timeout` for the request's own
    /// deadline, ...) or `abandoned` (the caller left or the gateway was stopped). A
    /// streamed answer cut short counts what it had already passed on.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub outcome: Cow<'static, str>,
    /// The upstream's status when it answered with an error (response events).
    #[serde(default, skip_serializing_if = "is_zero_status")]
    pub upstream_status: u16,
}

/// A keyed fingerprint of one value: the first 64 bits of its HMAC-SHA256 under the
/// deployment's key, written `hmac:` and 16 hex digits.
///
/// Equal values under one key give equal fingerprints, so records can be correlated without
/// holding a value. It is eight bytes, not a string: an event with dozens of findings is
/// built on the request path without an allocation per finding, and the text is written
/// only when the record is.
///
/// ```
/// use sentinel_audit::Fingerprint;
/// let f = Fingerprint::from_digest(&[0x6a, 0x1f, 0, 0, 0, 0, 0, 0x01, 0xff]);
/// assert_eq!(f.to_string(), "hmac:6a1f000000000001");
/// assert_eq!("hmac:6a1f000000000001".parse::<Fingerprint>(), Ok(f));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// The fingerprint of a MAC `digest`: its first eight bytes (big-endian). Shorter
    /// digests are padded with zeros.
    pub fn from_digest(digest: &[u8]) -> Fingerprint {
        let mut b = [0u8; 8];
        let n = digest.len().min(8);
        b[..n].copy_from_slice(&digest[..n]);
        Fingerprint(u64::from_be_bytes(b))
    }

    /// The 64 bits.
    pub fn bits(self) -> u64 {
        self.0
    }
}

impl From<u64> for Fingerprint {
    fn from(bits: u64) -> Fingerprint {
        Fingerprint(bits)
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "hmac:{:016x}", self.0)
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a [`Fingerprint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FingerprintParseError;

impl std::fmt::Display for FingerprintParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a fingerprint is `hmac:` followed by 16 hex digits")
    }
}

impl std::error::Error for FingerprintParseError {}

impl std::str::FromStr for Fingerprint {
    type Err = FingerprintParseError;

    fn from_str(s: &str) -> Result<Fingerprint, FingerprintParseError> {
        let digits = s.strip_prefix("hmac:").ok_or(FingerprintParseError)?;
        // Exactly 16 hex digits: `decode_to_slice` refuses any other length.
        let mut bytes = [0u8; 8];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| FingerprintParseError)?;
        Ok(Fingerprint(u64::from_be_bytes(bytes)))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // `hmac:` and 16 digits, formatted on the stack (8 bytes always fit 16 digits).
        let mut out = *b"hmac:0000000000000000";
        let _ = hex::encode_to_slice(self.0.to_be_bytes(), &mut out[5..]);
        s.serialize_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fingerprint, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An empty `Arc<str>`, shared, so a new event allocates nothing for it.
fn empty() -> Arc<str> {
    static EMPTY: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));
    Arc::clone(&EMPTY)
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_status(n: &u16) -> bool {
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
            route: Cow::Borrowed(""),
            model: String::new(),
            direction,
            entities: BTreeMap::new(),
            actions: BTreeMap::new(),
            decision: Cow::Borrowed(""),
            latency_us: 0,
            policy_version: empty(),
            fingerprints: Vec::new(),
            restored: 0,
            unresolved: BTreeMap::new(),
            shadow_decision: Cow::Borrowed(""),
            outcome: Cow::Borrowed(""),
            upstream_status: 0,
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
/// The writer serializes it borrowed (`Record<&str, &AuditEvent>`); readers take it
/// owned, with the event as any JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Record<P, E> {
    pub(crate) seq: u64,
    pub(crate) prev: P,
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

    #[test]
    fn a_fingerprint_is_written_and_read_as_hmac_and_16_hex_digits() {
        for bits in [0, 1, 0x0123_4567_89ab_cdef, u64::MAX] {
            let f = Fingerprint::from(bits);
            let json = serde_json::to_string(&f).expect("serialize");
            assert_eq!(json, format!("\"hmac:{bits:016x}\""));
            assert_eq!(json, format!("\"{f}\""));
            assert_eq!(
                serde_json::from_str::<Fingerprint>(&json).expect("parse"),
                f
            );
        }
        for bad in [
            "",
            "hmac:",
            "hmac:123",
            "sha:0123456789abcdef",
            "hmac:0123456789abcdeg",
            "hmac:0123456789abcdef0",
            "hmac:+123456789abcdef",
        ] {
            assert_eq!(
                bad.parse::<Fingerprint>(),
                Err(FingerprintParseError),
                "{bad}"
            );
        }
        assert_eq!(
            Fingerprint::from_digest(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).bits(),
            0x0102_0304_0506_0708
        );
        assert_eq!(
            Fingerprint::from_digest(&[0xab]).bits(),
            0xab00_0000_0000_0000
        );
    }
}
