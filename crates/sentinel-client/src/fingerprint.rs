//! Keyed fingerprints of values, as the audit log holds them instead of the values.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sentinel_audit::Fingerprint;
use sha2::Sha256;

/// Keyed fingerprints of values: the first 64 bits of HMAC-SHA256 over the entity type, a
/// NUL and the value, under the deployment's key (`[audit] fingerprint_key_env` or
/// `fingerprint_key_file`). One value of one type has one fingerprint under one key, so
/// records correlate without holding a value, and whoever holds the key can tell whether a
/// given value is in a log (`deepsentinel audit fingerprint`).
///
/// ```
/// use sentinel_client::Fingerprinter;
///
/// let f = Fingerprinter::new(b"a key of at least sixteen bytes");
/// let a = f.print("EMAIL_ADDRESS", "jane@example.com");
/// assert_eq!(a, f.print("EMAIL_ADDRESS", "jane@example.com"));
/// assert_ne!(a, f.print("PERSON", "jane@example.com"));
/// assert!(a.to_string().starts_with("hmac:"));
/// ```
#[derive(Clone)]
pub struct Fingerprinter {
    /// The keyed state: the key's two blocks are hashed once, not per value.
    mac: Hmac<Sha256>,
}

impl Fingerprinter {
    /// Fingerprints under `key`.
    pub fn new(key: &[u8]) -> Fingerprinter {
        #[allow(clippy::expect_used)] // reason: HMAC takes keys of any length
        let mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        Fingerprinter { mac }
    }

    /// The fingerprint of `value`, of type `entity`.
    pub fn print(&self, entity: &str, value: &str) -> Fingerprint {
        let mut mac = self.mac.clone();
        mac.update(entity.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        Fingerprint::from_digest(&mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.write_str("Fingerprinter(..)")
    }
}

/// The shortest fingerprint key taken, in bytes.
pub const MIN_FINGERPRINT_KEY: usize = 16;

/// This process's fingerprint key when none is configured: 32 bytes from the operating
/// system's random source, drawn once, so that every pipeline the process builds (a
/// reload's too) prints a value alike. Another process prints it otherwise.
pub fn process_key() -> &'static [u8] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No random source at all: a key no other process shares is still better than
            // none, and fingerprints stay keyed.
            for b in &mut key {
                *b = fastrand::u8(..);
            }
        }
        key
    })
}
