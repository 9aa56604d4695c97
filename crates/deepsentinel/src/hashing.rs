//! Keyed fingerprints of matched values, so reports can tell values apart without holding
//! them.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::hash::{BuildHasher, Hasher};

/// The environment variable that holds the fingerprint key.
pub(crate) const KEY_VAR: &str = "DEEPSENTINEL_HASH_KEY";

/// Computes `text_hash` values: HMAC-SHA256 under a key, truncated to 128 bits, in hex.
///
/// An unkeyed hash of a nine-digit SSN is reversed by trying all billion of them, so the
/// key is never optional: it comes from `DEEPSENTINEL_HASH_KEY`, or, when that is unset,
/// from the operating system's randomness for this run only (hashes then correlate within
/// one run, not across runs).
#[derive(Clone)]
pub(crate) struct Fingerprinter {
    mac: Hmac<Sha256>,
    pub(crate) ephemeral: bool,
}

impl Fingerprinter {
    pub(crate) fn from_env() -> Fingerprinter {
        let (key, ephemeral) = match std::env::var(KEY_VAR) {
            Ok(k) if !k.is_empty() => (k.into_bytes(), false),
            _ => {
                let mut key = Vec::with_capacity(32);
                for _ in 0..4 {
                    // RandomState is seeded from the OS's randomness.
                    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                    h.write_u8(0);
                    key.extend_from_slice(&h.finish().to_le_bytes());
                }
                (key, true)
            }
        };
        #[allow(clippy::expect_used)] // reason: HMAC takes keys of any length
        let mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac accepts any key length");
        Fingerprinter { mac, ephemeral }
    }

    pub(crate) fn hash(&self, value: &str) -> String {
        let mut m = self.mac.clone();
        m.update(value.as_bytes());
        hex::encode(&m.finalize().into_bytes()[..16])
    }
}
