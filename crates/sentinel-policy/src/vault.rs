//! The pseudonym vault: which pseudonyms were issued in a scope, and the way back where a
//! key alone cannot find it.
//!
//! A scope is a tenant plus a request id or a conversation id. It lives for a TTL that
//! every use renews; the vault holds at most `max_scopes` scopes (the least recently used
//! goes first) and `max_entries_per_scope` pseudonyms in each (beyond that a value is
//! still replaced, the replacement cannot be restored, and the refusal is counted).
//! Derived surrogates are recorded without their original: the tenant key deciphers them
//! (unless the value was written otherwise than it reads, a percent escape or full-width
//! digits: then the form it was written in is kept to give back, [`Entry::written`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::model::PseudonymStyle as Style;
use crate::pseudonym::{Format, Pseudonym, TenantKey};
use crate::restore::{Matcher, TokenShapes};

/// Limits of the vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VaultConfig {
    /// How long a scope lives after its last use.
    pub ttl: Duration,
    /// Scopes held at once.
    pub max_scopes: usize,
    /// Pseudonyms held per scope.
    pub max_entries_per_scope: usize,
}

impl Default for VaultConfig {
    /// One hour, 100 000 scopes, 10 000 pseudonyms per scope.
    fn default() -> VaultConfig {
        VaultConfig {
            ttl: Duration::from_secs(3600),
            max_scopes: 100_000,
            max_entries_per_scope: 10_000,
        }
    }
}

/// Counters of the vault, for metrics and health pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VaultStats {
    /// Scopes held now.
    pub scopes: usize,
    /// Pseudonyms held now.
    pub entries: usize,
    /// Scopes dropped because the vault was full.
    pub evicted_scopes: u64,
    /// Scopes dropped because their TTL passed.
    pub expired_scopes: u64,
    /// Values replaced without a way back because their scope was full.
    pub refused_entries: u64,
}

/// How to get the original back.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Original {
    /// Decipher with the tenant key.
    Derived(Format),
    /// The value itself, held in memory only.
    Stored(String),
}

impl Original {
    /// A pseudonym's text, and how `value` comes back from it.
    fn of(pseudonym: Pseudonym, value: &str) -> (String, Original) {
        match pseudonym {
            Pseudonym::Derived(format, text) => (text, Original::Derived(format)),
            Pseudonym::Stored(text) => (text, Original::Stored(value.to_owned())),
        }
    }
}

/// One issued pseudonym.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) entity: String,
    pub(crate) pseudonym: String,
    pub(crate) original: Original,
    /// The value as the caller wrote it, when that differs from how it reads (a percent
    /// escape, an HTML reference, a full-width digit: [`Finding::folded`]): the restore
    /// gives this back, so the caller gets the characters they sent. The pseudonym is the
    /// reading's, so one value written two ways is one entry, given back as first written.
    ///
    /// [`Finding::folded`]: sentinel_detect::Finding::folded
    pub(crate) written: Option<String>,
    /// Whether the rule lets it be restored for the caller.
    pub(crate) restore: bool,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the original.
        f.debug_struct("Entry")
            .field("entity", &self.entity)
            .field("pseudonym", &self.pseudonym)
            .field("restore", &self.restore)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Scope {
    entries: Vec<Arc<Entry>>,
    by_pseudonym: HashMap<String, usize>,
    last_used_ms: u64,
    matcher: Option<Arc<Matcher>>,
    /// The matcher before the last additions, whose pieces the next one reuses.
    before: Option<Arc<Matcher>>,
}

/// Where a value's pseudonym stands in a scope ([`Scope::slot`]).
enum Slot {
    /// An entry holds it, at this index.
    Held(usize),
    /// Not there: this id is free, and the value would be kept so (a retried id is
    /// stored, whatever the first was).
    Free(String, Original),
    /// Every id tried belongs to another value.
    Taken(String),
}

/// How many other ids a pseudonym is retried with when its own is another value's.
const RETRIES: u8 = 8;

impl Scope {
    /// Walks the ids `value`'s pseudonym may have in this scope, from `first` (its own)
    /// through the retries a collision with another value's led to: 40-bit ids collide
    /// rarely, a derived surrogate never (the cipher is a bijection); a retried id is a
    /// token or an e-mail surrogate, stored.
    fn slot(
        &self,
        first: Pseudonym,
        key: &TenantKey,
        entity: &str,
        value: &str,
        style: Style,
    ) -> Slot {
        let (mut text, original) = Original::of(first, value);
        for attempt in 0..=RETRIES {
            let Some(&i) = self.by_pseudonym.get(&text) else {
                return match attempt {
                    0 => Slot::Free(text, original),
                    _ => Slot::Free(text, Original::Stored(value.to_owned())),
                };
            };
            let held = &self.entries[i].original;
            if *held == original
                || (attempt > 0 && matches!(held, Original::Stored(v) if v == value))
            {
                return Slot::Held(i);
            }
            if attempt == RETRIES {
                break;
            }
            text = key.retry(entity, value, style, attempt + 1);
        }
        Slot::Taken(text)
    }

    /// Adds `entry` unless the scope holds `limit` already; whether it did. The matcher is
    /// built again at its next use, from the pieces of this one that still hold.
    fn add(&mut self, entry: Entry, limit: usize) -> bool {
        if self.entries.len() >= limit {
            return false;
        }
        self.by_pseudonym
            .insert(entry.pseudonym.clone(), self.entries.len());
        self.entries.push(Arc::new(entry));
        if let Some(m) = self.matcher.take() {
            self.before = Some(m);
        }
        true
    }
}

/// A TTL in the vault clock's milliseconds.
fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
}

/// The scopes by tenant and scope id, and the limits they are held to: one lock for
/// both, so that a reconfiguration and a use see the same limits.
struct Scopes {
    config: VaultConfig,
    map: HashMap<(String, String), Scope>,
}

/// A scope's issued pseudonyms in a form another process can take in ([`Vault::export`],
/// [`Vault::import`]): to share a conversation's scope between gateway replicas, or keep
/// it across a restart. It holds the originals of stored pseudonyms (tokens, e-mail
/// surrogates) and of values written otherwise than they read, so keep its field values
/// only sealed; its `Debug` shows the count.
///
/// # Example: a scope carried from one vault to another
///
/// ```
/// use sentinel_policy::{ScopeExport, Vault, VaultConfig};
/// let here = Vault::new(VaultConfig::default());
/// assert!(here.export("acme", "conv-1").is_none(), "nothing issued yet");
/// let there = Vault::new(VaultConfig::default());
/// // What another writer stored that is not a pseudonym's way back is skipped.
/// let odd = ScopeExport::from_fields(&[(b"x".to_vec(), b"not one".to_vec())]);
/// assert!(odd.is_empty());
/// assert_eq!(there.import("acme", "conv-1", &odd), 0);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ScopeExport {
    entries: Vec<ExportedEntry>,
}

#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ExportedEntry {
    entity: String,
    pseudonym: String,
    /// The derived surrogate's format, deciphered with the tenant key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    derived: Option<Format>,
    /// The stored original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stored: Option<String>,
    /// The original as written, when it reads otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    written: Option<String>,
    restore: bool,
}

impl std::fmt::Debug for ScopeExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never an original.
        f.debug_struct("ScopeExport")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl ScopeExport {
    /// Pseudonyms held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The pseudonyms as the fields of a map to store: each pseudonym (the text the
    /// provider saw) to its way back (JSON, holding a stored original: to be sealed).
    /// Maps written by several writers merge field by field, so two processes adding
    /// pseudonyms to one scope at once both keep theirs.
    pub fn to_fields(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.entries
            .iter()
            .filter_map(|e| {
                let value = serde_json::to_vec(e).ok()?;
                Some((e.pseudonym.as_bytes().to_vec(), value))
            })
            .collect()
    }

    /// Reads a scope as releases before the map form stored it: one JSON value,
    /// `{"entries": [...]}`, each entry what one field of [`ScopeExport::to_fields`] holds
    /// now. `None` for anything else. For a rolling upgrade: a replica of this release
    /// reads what one of the release before wrote.
    ///
    /// # Example
    ///
    /// ```
    /// use sentinel_policy::ScopeExport;
    /// let empty = ScopeExport::from_whole(b"{\"entries\":[]}").expect("a scope");
    /// assert!(empty.is_empty());
    /// assert!(ScopeExport::from_whole(b"not one").is_none());
    /// ```
    pub fn from_whole(bytes: &[u8]) -> Option<ScopeExport> {
        #[derive(serde::Deserialize)]
        struct Whole {
            entries: Vec<ExportedEntry>,
        }
        let whole: Whole = serde_json::from_slice(bytes).ok()?;
        Some(ScopeExport {
            entries: whole.entries,
        })
    }

    /// Reads fields [`ScopeExport::to_fields`] wrote, in any order; fields that are not
    /// one of its pseudonyms are skipped.
    pub fn from_fields(fields: &[(Vec<u8>, Vec<u8>)]) -> ScopeExport {
        ScopeExport {
            entries: fields
                .iter()
                .filter_map(|(name, value)| {
                    let e: ExportedEntry = serde_json::from_slice(value).ok()?;
                    (e.pseudonym.as_bytes() == name.as_slice()).then_some(e)
                })
                .collect(),
        }
    }
}

/// Issued pseudonyms per scope, with a TTL.
pub struct Vault {
    epoch: Instant,
    skew_ms: AtomicU64,
    scopes: Mutex<Scopes>,
    evicted: AtomicU64,
    expired: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("config", &self.config())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Vault {
    /// An empty vault.
    pub fn new(config: VaultConfig) -> Vault {
        Vault {
            epoch: Instant::now(),
            skew_ms: AtomicU64::new(0),
            scopes: Mutex::new(Scopes {
                config,
                map: HashMap::new(),
            }),
            evicted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// The limits.
    pub fn config(&self) -> VaultConfig {
        self.lock().config
    }

    /// Changes the limits of a vault in use (a policy reloaded with other `[vault]`
    /// settings). A shorter TTL expires scopes at their next use or purge; fewer scopes
    /// evicts the least recently used at once, down to the new limit; fewer entries per
    /// scope keeps what is recorded and refuses new ones above it.
    pub fn reconfigure(&self, config: VaultConfig) {
        let mut guard = self.lock();
        guard.config = config;
        let scopes = &mut guard.map;
        if scopes.len() > config.max_scopes {
            self.purge(scopes, self.now_ms(), config.ttl);
        }
        while scopes.len() > config.max_scopes {
            self.evict_oldest(scopes);
        }
    }

    /// Counters and sizes.
    pub fn stats(&self) -> VaultStats {
        let scopes = &self.lock().map;
        VaultStats {
            scopes: scopes.len(),
            entries: scopes.values().map(|s| s.entries.len()).sum(),
            evicted_scopes: self.evicted.load(Ordering::Relaxed),
            expired_scopes: self.expired.load(Ordering::Relaxed),
            refused_entries: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Drops a scope now (a conversation ended), so its values leave memory before the TTL.
    pub fn forget(&self, tenant: &str, scope: &str) {
        self.lock()
            .map
            .remove(&(tenant.to_owned(), scope.to_owned()));
    }

    /// Whether the scope is held now (used within its TTL).
    pub fn holds(&self, tenant: &str, scope: &str) -> bool {
        let now = self.now_ms();
        let guard = self.lock();
        let ttl = ttl_ms(guard.config.ttl);
        guard
            .map
            .get(&(tenant.to_owned(), scope.to_owned()))
            .is_some_and(|s| now.saturating_sub(s.last_used_ms) < ttl)
    }

    /// Pseudonyms held in the scope (0 when it is not held): a decision that issued new
    /// ones raises it.
    pub fn scope_len(&self, tenant: &str, scope: &str) -> usize {
        self.lock()
            .map
            .get(&(tenant.to_owned(), scope.to_owned()))
            .map_or(0, |s| s.entries.len())
    }

    /// The scope's pseudonyms, to hand to another process; `None` when the scope holds
    /// none.
    pub fn export(&self, tenant: &str, scope: &str) -> Option<ScopeExport> {
        let guard = self.lock();
        let s = guard.map.get(&(tenant.to_owned(), scope.to_owned()))?;
        if s.entries.is_empty() {
            return None;
        }
        Some(ScopeExport {
            entries: s
                .entries
                .iter()
                .map(|e| ExportedEntry {
                    entity: e.entity.clone(),
                    pseudonym: e.pseudonym.clone(),
                    derived: match &e.original {
                        Original::Derived(f) => Some(*f),
                        Original::Stored(_) => None,
                    },
                    stored: match &e.original {
                        Original::Stored(v) => Some(v.clone()),
                        Original::Derived(_) => None,
                    },
                    written: e.written.clone(),
                    restore: e.restore,
                })
                .collect(),
        })
    }

    /// Takes in the pseudonyms `export` holds that the scope lacks, within the vault's
    /// limits (a full vault evicts its least recently used scope; a full scope refuses
    /// and counts the rest); the scope counts as used now. A pseudonym the scope already
    /// holds keeps its own way back. Returns how many were added.
    pub fn import(&self, tenant: &str, scope: &str, export: &ScopeExport) -> usize {
        self.in_scope(tenant, scope, |s, config| {
            let mut added = 0;
            for e in &export.entries {
                if s.by_pseudonym.contains_key(&e.pseudonym) {
                    continue;
                }
                let original = match (&e.stored, e.derived) {
                    (Some(v), _) => Original::Stored(v.clone()),
                    (None, Some(f)) => Original::Derived(f),
                    (None, None) => continue,
                };
                let entry = Entry {
                    entity: e.entity.clone(),
                    pseudonym: e.pseudonym.clone(),
                    original,
                    written: e.written.clone(),
                    restore: e.restore,
                };
                if s.add(entry, config.max_entries_per_scope) {
                    added += 1;
                } else {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            added
        })
    }

    /// Moves the vault's clock forward, for tests of expiry.
    #[doc(hidden)]
    pub fn advance_clock(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skew_ms.fetch_add(ms, Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(self.skew_ms.load(Ordering::Relaxed))
    }

    fn lock(&self) -> MutexGuard<'_, Scopes> {
        // A panic while holding the lock leaves the map consistent (every update is one
        // insert or remove), so a poisoned lock is still usable.
        self.scopes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Removes the least recently used scope.
    fn evict_oldest(&self, scopes: &mut HashMap<(String, String), Scope>) {
        let oldest = scopes
            .iter()
            .min_by_key(|(_, s)| s.last_used_ms)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            scopes.remove(&k);
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes scopes unused for `ttl`.
    fn purge(&self, scopes: &mut HashMap<(String, String), Scope>, now: u64, ttl: Duration) {
        let ttl = ttl_ms(ttl);
        let before = scopes.len();
        scopes.retain(|_, s| now.saturating_sub(s.last_used_ms) < ttl);
        let gone = before - scopes.len();
        self.expired.fetch_add(gone as u64, Ordering::Relaxed);
    }

    /// Runs `f` under the lock on `tenant`'s `scope`, used now (a scope past its TTL is
    /// dropped first and counted; a new one makes room by purging expired scopes, then
    /// evicting the least recently used), with the vault's limits.
    fn in_scope<R>(
        &self,
        tenant: &str,
        scope: &str,
        f: impl FnOnce(&mut Scope, &VaultConfig) -> R,
    ) -> R {
        let now = self.now_ms();
        let mut guard = self.lock();
        let Scopes { config, map } = &mut *guard;
        let id = (tenant.to_owned(), scope.to_owned());
        let s = self.use_scope(map, config, id, now);
        f(s, config)
    }

    fn use_scope<'m>(
        &self,
        scopes: &'m mut HashMap<(String, String), Scope>,
        config: &VaultConfig,
        id: (String, String),
        now: u64,
    ) -> &'m mut Scope {
        if scopes
            .get(&id)
            .is_some_and(|s| now.saturating_sub(s.last_used_ms) >= ttl_ms(config.ttl))
        {
            scopes.remove(&id);
            self.expired.fetch_add(1, Ordering::Relaxed);
        }
        if !scopes.contains_key(&id) {
            if scopes.len() >= config.max_scopes {
                self.purge(scopes, now, config.ttl);
            }
            if scopes.len() >= config.max_scopes {
                self.evict_oldest(scopes);
            }
        }
        let s = scopes.entry(id).or_default();
        s.last_used_ms = now;
        s
    }

    /// Records `value`'s pseudonym in the scope and returns the text that replaces the
    /// value (another id when the first collides with a different value's). `written` is
    /// the value as it stood in the text when that reads otherwise ([`Entry::written`]).
    #[allow(clippy::too_many_arguments)] // reason: one call site, each argument distinct
    pub(crate) fn record(
        &self,
        tenant: &str,
        scope: &str,
        key: &TenantKey,
        entity: &str,
        value: &str,
        written: Option<&str>,
        style: Style,
        restore: bool,
    ) -> String {
        let pseudonym = key.pseudonymize(entity, value, style);
        self.in_scope(tenant, scope, |s, config| {
            let (text, original) = match s.slot(pseudonym, key, entity, value, style) {
                Slot::Held(i) => return s.entries[i].pseudonym.clone(),
                Slot::Taken(text) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return text;
                }
                Slot::Free(text, original) => (text, original),
            };
            let entry = Entry {
                entity: entity.to_owned(),
                pseudonym: text.clone(),
                original,
                written: written.filter(|w| *w != value).map(str::to_owned),
                restore,
            };
            if !s.add(entry, config.max_entries_per_scope) {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
            text
        })
    }

    /// Whether the scope holds a pseudonym of `value` that restores: the value came from
    /// the caller (its request was pseudonymized in this scope), so an answer that holds
    /// it, restored or quoted, gives the caller back their own value. Looks only; an
    /// absent or expired scope holds nothing (and is not made).
    pub(crate) fn restores(
        &self,
        tenant: &str,
        scope: &str,
        key: &TenantKey,
        entity: &str,
        value: &str,
        style: Style,
    ) -> bool {
        let now = self.now_ms();
        let guard = self.lock();
        let id = (tenant.to_owned(), scope.to_owned());
        let Some(s) = guard
            .map
            .get(&id)
            .filter(|s| now.saturating_sub(s.last_used_ms) < ttl_ms(guard.config.ttl))
        else {
            return false;
        };
        match s.slot(
            key.pseudonymize(entity, value, style),
            key,
            entity,
            value,
            style,
        ) {
            Slot::Held(i) => s.entries[i].restore,
            Slot::Free(..) | Slot::Taken(_) => false,
        }
    }

    /// The matcher of a scope's pseudonyms (built once per change of the scope, tokens
    /// found by `shapes`), or `None` when the scope holds none (expired, forgotten or
    /// never used).
    pub(crate) fn matcher(
        &self,
        tenant: &str,
        scope: &str,
        shapes: &Arc<TokenShapes>,
    ) -> Option<Arc<Matcher>> {
        let now = self.now_ms();
        let id = (tenant.to_owned(), scope.to_owned());
        let entries = {
            let mut guard = self.lock();
            let Scopes {
                config,
                map: scopes,
            } = &mut *guard;
            let expired = scopes
                .get(&id)
                .is_some_and(|s| now.saturating_sub(s.last_used_ms) >= ttl_ms(config.ttl));
            if expired {
                scopes.remove(&id);
                self.expired.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            let s = scopes.get_mut(&id)?;
            s.last_used_ms = now;
            if let Some(m) = &s.matcher {
                return Some(Arc::clone(m));
            }
            (s.entries.clone(), s.before.clone())
        };
        let (entries, before) = entries;
        // Compiled outside the lock, so other scopes are not held up.
        let count = entries.len();
        let matcher = Arc::new(Matcher::grown(before.as_deref(), entries, shapes));
        if let Some(s) = self.lock().map.get_mut(&id) {
            if s.entries.len() == count {
                s.matcher = Some(Arc::clone(&matcher));
                s.before = None;
            }
        }
        Some(matcher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pseudonym: &str, value: &str) -> Entry {
        Entry {
            entity: "EMAIL_ADDRESS".to_owned(),
            pseudonym: pseudonym.to_owned(),
            original: Original::Stored(value.to_owned()),
            written: None,
            restore: true,
        }
    }

    /// The walk `record` and `restores` share: a value's own id, past another value's
    /// id to a retried one (kept stored), and none left after every retry is taken.
    #[test]
    fn a_colliding_id_is_retried_and_found_again() {
        let key = TenantKey::derive(b"0123456789abcdef0123456789abcdef", "t");
        let (e, v, style) = ("EMAIL_ADDRESS", "jane@example.com", Style::Token);
        let first = || key.pseudonymize(e, v, style);
        let own = Original::of(first(), v).0;
        let mut s = Scope::default();
        assert!(matches!(s.slot(first(), &key, e, v, style), Slot::Free(t, _) if t == own));

        // Another value holds the first id: the value takes the first retry, stored.
        s.add(entry(&own, "other@example.com"), 100);
        let retried = key.retry(e, v, style, 1);
        match s.slot(first(), &key, e, v, style) {
            Slot::Free(t, Original::Stored(o)) => assert_eq!((t, o.as_str()), (retried.clone(), v)),
            _ => panic!("the first retry is free"),
        }
        s.add(entry(&retried, v), 100);
        assert!(matches!(s.slot(first(), &key, e, v, style), Slot::Held(1)));

        // Every id taken by other values: nothing to hold it.
        let mut full = Scope::default();
        full.add(entry(&own, "a@example.com"), 100);
        for attempt in 1..=RETRIES {
            full.add(
                entry(&key.retry(e, v, style, attempt), "b@example.com"),
                100,
            );
        }
        assert!(matches!(
            full.slot(first(), &key, e, v, style),
            Slot::Taken(_)
        ));
    }
}
