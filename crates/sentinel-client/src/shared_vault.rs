//! Conversation scopes of the pseudonym vault kept in a store that replicas share
//! (`[cache] share_vault`, the same sealed Redis level as the response cache).
//!
//! The vault lives in a process. A conversation whose turns land on different replicas,
//! or continue after a restart, would find its earlier pseudonyms unknown: a stateful
//! API (the Responses API's `previous_response_id`) sends the model's earlier turns from
//! the provider's side, pseudonyms and all, and an answer quoting one could not be
//! restored. With a shared vault, a pipeline takes in what the store holds of a
//! conversation's scope before deciding each of its requests (another replica may have
//! served the turn before), and writes the scope back when the request issued new
//! pseudonyms. Only conversation scopes (a request's
//! `conversation`) are shared; a request's own scope ends with it.

use std::sync::Arc;
use std::time::Duration;

use sentinel_cache::{Key, SharedStore};
use sentinel_policy::{ScopeExport, Vault};

/// The vault's shared level: a store (sealed: scopes hold originals) and how long each
/// operation may take.
pub struct SharedVault {
    store: Arc<dyn SharedStore>,
    timeout: Duration,
}

impl std::fmt::Debug for SharedVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedVault")
            .field("store", &self.store.name())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// How a shared scope operation went, for `deepsentinel_vault_shared_total`.
fn count(op: &'static str, result: &'static str) {
    use sentinel_metrics::names::{label, VAULT_SHARED_TOTAL};
    metrics::counter!(VAULT_SHARED_TOTAL, label::OP => op, label::RESULT => result).increment(1);
}

impl SharedVault {
    /// A shared level in `store`, each operation bounded by `timeout`. The store must seal
    /// what it holds ([`sentinel_cache::SealedStore`]).
    pub fn new(store: Arc<dyn SharedStore>, timeout: Duration) -> SharedVault {
        SharedVault { store, timeout }
    }

    fn key(tenant: &str, scope: &str) -> Key {
        let mut b = Key::builder("vault");
        b.field(tenant.as_bytes()).field(scope.as_bytes());
        b.finish()
    }

    /// Takes in what the store holds of `tenant`'s `scope` that `vault` lacks: also when
    /// the vault holds the scope already, since another replica may have served the turn
    /// before this one. A store that fails or is slow leaves the vault as it was (the
    /// answer's pseudonyms from other replicas then stay unresolved, and are counted so).
    pub(crate) async fn load(&self, vault: &Vault, tenant: &str, scope: &str) {
        let key = SharedVault::key(tenant, scope);
        match tokio::time::timeout(self.timeout, self.store.get(&key)).await {
            Ok(Ok(Some(bytes))) => match ScopeExport::from_bytes(&bytes) {
                Some(export) => {
                    vault.import(tenant, scope, &export);
                    count("load", "hit");
                }
                None => count("load", "error"),
            },
            Ok(Ok(None)) => count("load", "miss"),
            Ok(Err(e)) => {
                count("load", "error");
                tracing::warn!(error = %e, "shared vault: a scope could not be read");
            }
            Err(_) => {
                count("load", "error");
                tracing::warn!(timeout = ?self.timeout, "shared vault: reading a scope timed out");
            }
        }
    }

    fn chain_key(tenant: &str, answer: &str) -> Key {
        let mut b = Key::builder("vault-chain");
        b.field(tenant.as_bytes()).field(answer.as_bytes());
        b.finish()
    }

    /// The scope `tenant`'s Responses API answer `answer` belongs to, as another process
    /// remembered it ([`SharedVault::remember`]).
    pub(crate) async fn scope_of(&self, tenant: &str, answer: &str) -> Option<String> {
        let key = SharedVault::chain_key(tenant, answer);
        match tokio::time::timeout(self.timeout, self.store.get(&key)).await {
            Ok(Ok(Some(bytes))) => {
                count("chain", "hit");
                String::from_utf8(bytes).ok()
            }
            Ok(Ok(None)) => {
                count("chain", "miss");
                None
            }
            Ok(Err(_)) | Err(_) => {
                count("chain", "error");
                None
            }
        }
    }

    /// Remembers, for the vault's TTL, that `tenant`'s answer `answer` belongs to `scope`.
    pub(crate) async fn remember(&self, ttl: Duration, tenant: &str, answer: &str, scope: &str) {
        let key = SharedVault::chain_key(tenant, answer);
        let set = self.store.set(&key, scope.as_bytes().to_vec(), ttl);
        match tokio::time::timeout(self.timeout, set).await {
            Ok(Ok(())) => count("remember", "ok"),
            Ok(Err(_)) | Err(_) => count("remember", "error"),
        }
    }

    /// Writes `tenant`'s `scope` to the store for the vault's TTL.
    pub(crate) async fn save(&self, vault: &Vault, tenant: &str, scope: &str) {
        let Some(export) = vault.export(tenant, scope) else {
            return;
        };
        let key = SharedVault::key(tenant, scope);
        let ttl = vault.config().ttl;
        match tokio::time::timeout(self.timeout, self.store.set(&key, export.to_bytes(), ttl)).await
        {
            Ok(Ok(())) => count("save", "ok"),
            Ok(Err(e)) => {
                count("save", "error");
                tracing::warn!(error = %e, "shared vault: a scope could not be written");
            }
            Err(_) => {
                count("save", "error");
                tracing::warn!(timeout = ?self.timeout, "shared vault: writing a scope timed out");
            }
        }
    }
}
