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

use sentinel_cache::{Key, Outage, SharedStore, StoreError};
use sentinel_policy::{ScopeExport, Vault};

/// The vault's shared level: a store (sealed: scopes hold originals), how long each
/// operation may take, and whether the store is down (after a failure it is skipped for
/// five seconds, so that requests do not each wait out the timeout).
pub struct SharedVault {
    store: Arc<dyn SharedStore>,
    timeout: Duration,
    outage: Outage,
}

impl std::fmt::Debug for SharedVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedVault")
            .field("store", &self.store.name())
            .field("timeout", &self.timeout)
            .field("down", &self.outage.down())
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
        SharedVault {
            store,
            timeout,
            outage: Outage::new(Duration::from_secs(5)),
        }
    }

    fn key(domain: &str, tenant: &str, name: &str) -> Key {
        let mut b = Key::builder(domain);
        b.field(tenant.as_bytes()).field(name.as_bytes());
        b.finish()
    }

    /// Runs one store operation within the timeout, unless the store is down: `None` when
    /// it was skipped or failed (counted as `skipped` or `error`; a failure marks the
    /// store down and is logged once per outage).
    async fn run<T>(
        &self,
        op: &'static str,
        operation: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Option<T> {
        if !self.outage.up() {
            count(op, "skipped");
            return None;
        }
        let failed = |message: &str| {
            count(op, "error");
            self.outage.failed(
                self.store.name(),
                message,
                "conversation scopes stay in this process",
            );
        };
        match tokio::time::timeout(self.timeout, operation).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                failed(&e.message);
                None
            }
            Err(_) => {
                failed("timed out");
                None
            }
        }
    }

    /// Takes in what the store holds of `tenant`'s `scope` that `vault` lacks: also when
    /// the vault holds the scope already, since another replica may have served the turn
    /// before this one. A store that fails or is slow leaves the vault as it was (the
    /// answer's pseudonyms from other replicas then stay unresolved, and are counted so).
    pub(crate) async fn load(&self, vault: &Vault, tenant: &str, scope: &str) {
        let key = SharedVault::key("vault", tenant, scope);
        match self.run("load", self.store.get(&key)).await {
            Some(Some(bytes)) => match ScopeExport::from_bytes(&bytes) {
                Some(export) => {
                    vault.import(tenant, scope, &export);
                    count("load", "hit");
                }
                // Sealed with the secret but not a scope: written by something else.
                None => count("load", "error"),
            },
            Some(None) => count("load", "miss"),
            None => {}
        }
    }

    /// The scope `tenant`'s Responses API answer `answer` belongs to, as another process
    /// remembered it ([`SharedVault::remember`]).
    pub(crate) async fn scope_of(&self, tenant: &str, answer: &str) -> Option<String> {
        let key = SharedVault::key("vault-chain", tenant, answer);
        let found = self.run("chain", self.store.get(&key)).await?;
        count("chain", if found.is_some() { "hit" } else { "miss" });
        String::from_utf8(found?).ok()
    }

    /// Remembers, for the vault's TTL, that `tenant`'s answer `answer` belongs to `scope`.
    pub(crate) async fn remember(&self, ttl: Duration, tenant: &str, answer: &str, scope: &str) {
        let key = SharedVault::key("vault-chain", tenant, answer);
        let set = self.store.set(&key, scope.as_bytes().to_vec(), ttl);
        if self.run("remember", set).await.is_some() {
            count("remember", "ok");
        }
    }

    /// Writes `tenant`'s `scope` to the store for the vault's TTL.
    pub(crate) async fn save(&self, vault: &Vault, tenant: &str, scope: &str) {
        let Some(export) = vault.export(tenant, scope) else {
            return;
        };
        let key = SharedVault::key("vault", tenant, scope);
        let set = self.store.set(&key, export.to_bytes(), vault.config().ttl);
        if self.run("save", set).await.is_some() {
            count("save", "ok");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sentinel_cache::BoxFuture;
    use sentinel_policy::VaultConfig;

    use super::*;

    /// A store that is down: every call fails, and is counted.
    #[derive(Default)]
    struct Down {
        calls: AtomicUsize,
    }

    impl Down {
        fn refuse<T>(&self) -> Result<T, StoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Err(StoreError {
                store: "down",
                message: "connection refused".into(),
            })
        }
    }

    impl SharedStore for Down {
        fn name(&self) -> &'static str {
            "down"
        }
        fn get<'a>(&'a self, _: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
            Box::pin(async move { self.refuse() })
        }
        fn set<'a>(
            &'a self,
            _: &'a Key,
            _: Vec<u8>,
            _: Duration,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async move { self.refuse() })
        }
    }

    #[tokio::test]
    async fn a_store_that_failed_is_skipped_instead_of_asked_for_every_request() {
        let store = Arc::new(Down::default());
        let shared = SharedVault::new(store.clone(), Duration::from_millis(50));
        let vault = Vault::new(VaultConfig::default());
        shared.load(&vault, "t", "conv-1").await;
        assert_eq!(store.calls.load(Ordering::SeqCst), 1);
        for _ in 0..10 {
            shared.load(&vault, "t", "conv-1").await;
            shared.save(&vault, "t", "conv-1").await;
            assert_eq!(shared.scope_of("t", "resp_1").await, None);
            shared
                .remember(Duration::from_secs(60), "t", "resp_1", "conv-1")
                .await;
        }
        assert_eq!(
            store.calls.load(Ordering::SeqCst),
            1,
            "marked down after one"
        );
        assert!(format!("{shared:?}").contains("down: true"));
    }
}
