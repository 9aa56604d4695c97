//! Cache keys: 128-bit BLAKE3 digests of length-prefixed fields, and the detection
//! cache's fast lookup key.

/// A 128-bit digest that names a cache entry.
///
/// Keys from [`Key::builder`] are BLAKE3 (a cryptographic hash) truncated to 128 bits over
/// length-prefixed fields, so two different inputs do not share a key by accident, and
/// nobody can craft one text whose key equals another's to poison a shared cache
/// (collisions need about 2^64 work). [`Key::for_text`] is a fast lookup key whose hits
/// are checked against the entry itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 16]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.to_hex())
    }
}

impl Key {
    /// A key from its 16 bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Key {
        Key(bytes)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Lowercase hex, 32 characters (how shared stores name the entry).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A builder for keys of one kind: `domain` separates kinds (detection results,
    /// responses) so equal inputs of different kinds never share a key.
    pub fn builder(domain: &str) -> KeyBuilder {
        let mut b = KeyBuilder(blake3::Hasher::new_derive_key("deepsentinel cache key v1"));
        b.field(domain.as_bytes());
        b
    }

    /// The detection cache's lookup key for `text` under a detector's configuration
    /// `fingerprint`: XXH3-128 with a seed drawn once per process.
    ///
    /// Unlike [`Key::builder`]'s, this key is not collision-resistant against someone
    /// choosing texts, and needs not be: the detection cache keeps each entry's text and
    /// fingerprint and compares them on every hit ([`crate::CachedDetector`]), so a key
    /// two texts share costs a scan, never a wrong result. For a 4 KB prompt, hashed once
    /// per request, bench `cache/detection_key_4kb_message` reads 0.12 us (2 vCPU AMD
    /// EPYC), where the padded BLAKE3 key read 1.6 us (docs/cache.md). The seed makes keys
    /// differ between processes: share detection results through [`Key::builder`] keys
    /// only.
    pub fn for_text(fingerprint: &[u8; 16], text: &str) -> Key {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let seed = *SEED.get_or_init(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one("deepsentinel detect")
        });
        let (a, b) = fingerprint.split_at(8);
        let fp = u64::from_le_bytes(a.try_into().unwrap_or_default())
            ^ u64::from_le_bytes(b.try_into().unwrap_or_default()).rotate_left(29);
        let h = xxhash_rust::xxh3::xxh3_128_with_seed(text.as_bytes(), seed ^ fp);
        Key(h.to_le_bytes())
    }
}

/// Builds a [`Key`] from fields. Each field is length-prefixed, so `("ab", "c")` and
/// `("a", "bc")` give different keys.
#[derive(Clone)]
pub struct KeyBuilder(blake3::Hasher);

impl std::fmt::Debug for KeyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyBuilder(..)")
    }
}

impl KeyBuilder {
    /// Adds a field.
    pub fn field(&mut self, bytes: &[u8]) -> &mut KeyBuilder {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The key.
    pub fn finish(&self) -> Key {
        let mut out = [0u8; 16];
        out.copy_from_slice(&self.0.finalize().as_bytes()[..16]);
        Key(out)
    }
}
