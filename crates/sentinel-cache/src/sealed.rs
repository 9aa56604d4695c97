//! Sealing for a shared level (feature `redis`): values are encrypted and authenticated
//! before they leave the process, so the store (and its snapshots on disk) holds no answer
//! in the clear, and an entry written or moved by anyone without the key is refused.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::tiered::{BoxFuture, Fields, SharedStore, StoreError};
use crate::Key;

/// The format tag in front of every sealed value.
const TAG: &[u8; 2] = b"s1";
const NONCE_LEN: usize = 24;

/// A [`SharedStore`] that seals what it stores in another: XChaCha20-Poly1305 under a key
/// derived from a secret every replica shares, a random 192-bit nonce per value, and the
/// entry's cache key as associated data (an entry copied under another key does not open;
/// a map's value has the key and its field's name, so it opens only under both). A map's
/// field names are stored as they are: give them nothing to hide (the vault names them by
/// the pseudonyms, which the provider saw).
/// A value that does not open (another secret, tampering, an older format) is a miss,
/// counted in [`SealedStore::refused`] and logged once.
///
/// ```
/// # #[cfg(feature = "redis")] {
/// use std::sync::Arc;
/// use sentinel_cache::{RedisStore, SealedStore, SharedStore};
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # let _guard = rt.enter();
/// let redis = RedisStore::new("redis://127.0.0.1:6379/0", "deepsentinel:response:")?;
/// let shared: Arc<dyn SharedStore> =
///     Arc::new(SealedStore::new(Arc::new(redis), b"the replicas' secret"));
/// # }
/// # Ok::<(), sentinel_cache::StoreError>(())
/// ```
pub struct SealedStore {
    inner: Arc<dyn SharedStore>,
    cipher: XChaCha20Poly1305,
    refused: AtomicU64,
    warned: AtomicBool,
}

impl std::fmt::Debug for SealedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedStore")
            .field("refused", &self.refused.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SealedStore {
    /// Seals values for `inner` under a key derived from `secret` (any length; give every
    /// replica the same one, of at least 32 random bytes).
    pub fn new(inner: Arc<dyn SharedStore>, secret: &[u8]) -> SealedStore {
        let key = blake3::derive_key("DeepSentinel shared response cache 2026-11 v1", secret);
        SealedStore {
            inner,
            cipher: XChaCha20Poly1305::new(&key.into()),
            refused: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// Values found in the store that did not open.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn seal(&self, aad: &[u8], value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let failed = |message: &str| StoreError {
            store: "sealed",
            message: message.to_owned(),
        };
        let nonce = XNonce::try_generate().map_err(|_| failed("no random nonce"))?;
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: value, aad })
            .map_err(|_| failed("value too large to seal"))?;
        let mut out = Vec::with_capacity(TAG.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(TAG);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open(&self, aad: &[u8], stored: &[u8]) -> Option<Vec<u8>> {
        let rest = stored.strip_prefix(TAG)?;
        if rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).ok()?;
        self.cipher
            .decrypt(&nonce, Payload { msg: sealed, aad })
            .ok()
    }

    /// The associated data of a map's field: the key (16 bytes), then the field's name.
    fn field_aad(key: &Key, field: &[u8]) -> Vec<u8> {
        [key.as_bytes().as_slice(), field].concat()
    }

    fn refuse(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                store = self.inner.name(),
                "a shared cache entry did not open (another secret, or written by someone \
                 without the key); treated as a miss, further ones are counted only"
            );
        }
    }
}

impl SharedStore for SealedStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let Some(stored) = self.inner.get(key).await? else {
                return Ok(None);
            };
            match self.open(key.as_bytes(), &stored) {
                Some(value) => Ok(Some(value)),
                None => {
                    self.refuse();
                    Ok(None)
                }
            }
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a Key,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let sealed = self.seal(key.as_bytes(), &value)?;
            self.inner.set(key, sealed, ttl).await
        })
    }

    fn set_fields<'a>(
        &'a self,
        key: &'a Key,
        fields: Fields,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let sealed = fields
                .into_iter()
                .map(|(name, value)| {
                    let value = self.seal(&SealedStore::field_aad(key, &name), &value)?;
                    Ok((name, value))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            self.inner.set_fields(key, sealed, ttl).await
        })
    }

    fn get_fields<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Fields, StoreError>> {
        Box::pin(async move {
            let stored = self.inner.get_fields(key).await?;
            let mut out = Vec::with_capacity(stored.len());
            for (name, value) in stored {
                match self.open(&SealedStore::field_aad(key, &name), &value) {
                    Some(value) => out.push((name, value)),
                    None => self.refuse(),
                }
            }
            Ok(out)
        })
    }
}
