//! The transforms: mask, redact, hash. Each writes a replacement for one value.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Masks letters and digits with `mask`, keeping the last `keep` of them and every
/// separator: `4111 1111 1111 1111` -> `**** **** **** 1111`.
pub(crate) fn mask(value: &str, mask: char, keep: usize, out: &mut String) {
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    let mut seen = 0;
    for c in value.chars() {
        if c.is_alphanumeric() {
            seen += 1;
            out.push(if seen > total.saturating_sub(keep) {
                c
            } else {
                mask
            });
        } else {
            out.push(c);
        }
    }
}

/// `<ENTITY>` or `<ENTITY_N>`.
pub(crate) fn redact(entity: &str, number: Option<usize>, out: &mut String) {
    out.push('<');
    out.push_str(entity);
    if let Some(n) = number {
        // itoa, not `write!`: a PII-dense text writes dozens of these per decision.
        out.push('_');
        out.push_str(itoa::Buffer::new().format(n));
    }
    out.push('>');
}

/// HMAC-SHA256 keyed with `key`, ready to be cloned per value (the key's blocks are hashed
/// once, when the policy is loaded).
pub(crate) fn hash_key(key: &[u8]) -> Hmac<Sha256> {
    #[allow(clippy::expect_used)] // reason: HMAC takes keys of any length
    Hmac::<Sha256>::new_from_slice(key).expect("any key length")
}

/// `<ENTITY:hex>`: HMAC-SHA256 under the policy's key (`keyed`, from [`hash_key`]) of the
/// tenant and the value, truncated to 64 bits. The same value gives the same fingerprint
/// within a tenant and a different one in another tenant; without the key it cannot be
/// reversed by trying values.
pub(crate) fn hash(
    keyed: &Hmac<Sha256>,
    tenant: &str,
    entity: &str,
    value: &str,
    out: &mut String,
) {
    let mut mac = keyed.clone();
    mac.update(tenant.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    out.push('<');
    out.push_str(entity);
    out.push(':');
    let mut digits = [0u8; 16];
    // 8 bytes always fit 16 hex digits.
    let _ = hex::encode_to_slice(&digest[..8], &mut digits);
    out.extend(digits.iter().map(|&d| char::from(d)));
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_separators_and_the_tail() {
        let mut s = String::new();
        mask("4111 1111 1111 1234", '*', 4, &mut s);
        assert_eq!(s, "**** **** **** 1234");
        s.clear();
        mask("jane@example.com", '#', 0, &mut s);
        assert_eq!(s, "####@#######.###");
    }

    #[test]
    fn hashes_are_keyed_and_per_tenant() {
        let (mut a, mut b, mut c) = (String::new(), String::new(), String::new());
        let k = hash_key(b"k");
        hash(&k, "acme", "US_SSN", "536-22-1234", &mut a);
        hash(&k, "acme", "US_SSN", "536-22-1234", &mut b);
        hash(&k, "globex", "US_SSN", "536-22-1234", &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(
            a.starts_with("<US_SSN:") && a.len() == "<US_SSN:>".len() + 16 && !a.contains("536")
        );
    }
}
