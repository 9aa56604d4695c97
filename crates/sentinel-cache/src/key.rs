//! Cache keys: 128-bit BLAKE3 digests of length-prefixed fields.

/// Texts up to this size are zero-padded to a power of two before hashing.
const MAX_PADDED: usize = 64 << 10;

thread_local! {
    static PADDED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A 128-bit digest that names a cache entry.
///
/// Keys are BLAKE3 (a cryptographic hash) truncated to 128 bits over length-prefixed fields,
/// so two different inputs do not share a key by accident, and nobody can craft one text
/// whose key equals another's to poison a shared cache (collisions need about 2^64 work).
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

    /// The detection cache's key: a detector's configuration fingerprint and the text, so
    /// a changed recognizer set never serves stale findings.
    ///
    /// The text is hashed first, so it starts on a BLAKE3 chunk boundary and its chunks are
    /// hashed in parallel (SIMD); the fixed-size trailer (fingerprint, text length) keeps
    /// the encoding unambiguous.
    pub fn for_text(fingerprint: &[u8; 16], text: &str) -> Key {
        static DETECT: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
        let key =
            DETECT.get_or_init(|| blake3::derive_key("deepsentinel cache key v1 detect", b""));
        let mut h = blake3::Hasher::new_keyed(key);
        let bytes = text.as_bytes();
        if bytes.len() <= MAX_PADDED && !bytes.len().is_power_of_two() {
            // BLAKE3 hashes a power-of-two run of chunks in parallel and the rest chunk by
            // chunk: padding more than halves the time for a 4 KB message (bench
            // `cache/detection_key_4kb_message`: 3.6 us -> 1.6 us). The length in the
            // trailer keeps padded texts distinct.
            PADDED.with(|buf| {
                let mut buf = buf.borrow_mut();
                buf.clear();
                buf.extend_from_slice(bytes);
                buf.resize(bytes.len().next_power_of_two().max(1024), 0);
                h.update(&buf);
            });
        } else {
            h.update(bytes);
        }
        h.update(fingerprint);
        h.update(&(text.len() as u64).to_le_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize().as_bytes()[..16]);
        Key(out)
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
