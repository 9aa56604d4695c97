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
use std::time::{Duration, Instant};

use sentinel_cache::{Key, Outage, SharedStore, StoreError};
use sentinel_policy::{ScopeExport, Vault};

/// The vault's shared level: a store (sealed: scopes hold originals), how long each
/// operation may take, and whether the store is down (after a failure it is skipped for
/// five seconds, so that requests do not each wait out the timeout).
pub struct SharedVault {
    store: Arc<dyn SharedStore>,
    timeout: Duration,
    outage: Outage,
    /// When this level was made: for the vault's TTL from then, a scope the store does
    /// not hold as a map is looked for as an older release wrote it ([`SharedVault::load`]).
    started: Instant,
    /// Answers the store did not know (`tenant\0answer`), and when it said so: not asked
    /// about again for [`UNKNOWN_FOR`] ([`SharedVault::scope_of`]).
    unknown: quick_cache::sync::Cache<String, Instant>,
}

/// How long an answer the store did not know is taken as unknown without asking again. A
/// conversation created around the gateway is named by every request of it, and no
/// replica will ever remember it: each request would cost one more round trip. An answer
/// is remembered when it is made, before anyone can name it, so a "not known" can only go
/// stale when that write failed.
const UNKNOWN_FOR: Duration = Duration::from_secs(60);

/// Unknown answers kept (the least recently used go first).
const UNKNOWN_KEPT: usize = 65_536;

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
    /// Whether the store is marked down now (after a failure, for a few seconds): scopes
    /// are then neither read from it nor written to it.
    pub fn degraded(&self) -> bool {
        self.outage.down()
    }

    /// A shared level in `store`, each operation bounded by `timeout`. The store must seal
    /// what it holds ([`sentinel_cache::SealedStore`]).
    pub fn new(store: Arc<dyn SharedStore>, timeout: Duration) -> SharedVault {
        SharedVault {
            store,
            timeout,
            outage: Outage::new(Duration::from_secs(5)),
            started: Instant::now(),
            unknown: quick_cache::sync::Cache::new(UNKNOWN_KEPT),
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
    ///
    /// Releases before the map form stored a scope whole, under another key. For the
    /// vault's TTL after this level was made (the longest such a scope can still be held),
    /// a scope the store holds no map of is looked for there too, so that a rolling
    /// upgrade does not cost the conversations in flight their pseudonyms (counted as
    /// `legacy`); the next save writes it as a map.
    pub(crate) async fn load(&self, vault: &Vault, tenant: &str, scope: &str) {
        let key = SharedVault::key("vault-fields", tenant, scope);
        match self.run("load", self.store.get_fields(&key)).await {
            Some(fields) if fields.is_empty() => {
                if self.started.elapsed() < vault.config().ttl {
                    if let Some(export) = self.load_whole(tenant, scope).await {
                        vault.import(tenant, scope, &export);
                        count("load", "legacy");
                        return;
                    }
                }
                count("load", "miss");
            }
            Some(fields) => {
                let export = ScopeExport::from_fields(&fields);
                if export.is_empty() {
                    // Sealed with the secret but no pseudonym: written by something else.
                    count("load", "error");
                } else {
                    vault.import(tenant, scope, &export);
                    count("load", "hit");
                }
            }
            None => {}
        }
    }

    /// `tenant`'s `scope` as a release before the map form wrote it: one sealed value.
    async fn load_whole(&self, tenant: &str, scope: &str) -> Option<ScopeExport> {
        let key = SharedVault::key("vault", tenant, scope);
        let bytes = self.run("load", self.store.get(&key)).await??;
        ScopeExport::from_whole(&bytes).filter(|e| !e.is_empty())
    }

    /// The scope `tenant`'s Responses API answer `answer` belongs to, as another process
    /// remembered it ([`SharedVault::remember`]).
    ///
    /// An answer the store did not know is taken as unknown for a minute without asking
    /// again (counted as `result="known_miss"`); a failed lookup is not remembered.
    pub(crate) async fn scope_of(&self, tenant: &str, answer: &str) -> Option<String> {
        let memo = format!("{tenant}\0{answer}");
        if let Some(at) = self.unknown.get(&memo) {
            if at.elapsed() < UNKNOWN_FOR {
                count("chain", "known_miss");
                return None;
            }
        }
        let key = SharedVault::key("vault-chain", tenant, answer);
        let found = self.run("chain", self.store.get(&key)).await?;
        count("chain", if found.is_some() { "hit" } else { "miss" });
        if found.is_none() {
            self.unknown.insert(memo, Instant::now());
        }
        String::from_utf8(found?).ok()
    }

    /// Remembers, for the vault's TTL, that `tenant`'s answer `answer` belongs to `scope`.
    pub(crate) async fn remember(&self, ttl: Duration, tenant: &str, answer: &str, scope: &str) {
        self.unknown.remove(&format!("{tenant}\0{answer}"));
        let key = SharedVault::key("vault-chain", tenant, answer);
        let set = self.store.set(&key, scope.as_bytes().to_vec(), ttl);
        if self.run("remember", set).await.is_some() {
            count("remember", "ok");
        }
    }

    /// Writes `tenant`'s `scope` to the store for the vault's TTL: each pseudonym as a
    /// field of the scope's map, so that replicas adding pseudonyms to one scope at once
    /// each keep theirs.
    pub(crate) async fn save(&self, vault: &Vault, tenant: &str, scope: &str) {
        let Some(export) = vault.export(tenant, scope) else {
            return;
        };
        let key = SharedVault::key("vault-fields", tenant, scope);
        let set = self
            .store
            .set_fields(&key, export.to_fields(), vault.config().ttl);
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

    /// A test store that holds nothing: down (every call fails) or up (every read finds
    /// nothing); it counts the calls, and the `get`s among them.
    #[derive(Default)]
    struct Fake {
        down: bool,
        calls: AtomicUsize,
        gets: AtomicUsize,
    }

    impl Fake {
        fn down() -> Fake {
            Fake {
                down: true,
                ..Fake::default()
            }
        }

        fn answer<'a, T: Default + Send + 'a>(
            &'a self,
            get: bool,
        ) -> BoxFuture<'a, Result<T, StoreError>> {
            // Counted when run: a store that is down is skipped unrun.
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                if get {
                    self.gets.fetch_add(1, Ordering::SeqCst);
                }
                if self.down {
                    return Err(StoreError {
                        store: "down",
                        message: "connection refused".into(),
                    });
                }
                Ok(T::default())
            })
        }
    }

    impl SharedStore for Fake {
        fn name(&self) -> &'static str {
            if self.down {
                "down"
            } else {
                "empty"
            }
        }
        fn get<'a>(&'a self, _: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
            self.answer(true)
        }
        fn set<'a>(
            &'a self,
            _: &'a Key,
            _: Vec<u8>,
            _: Duration,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            self.answer(false)
        }
        fn set_fields<'a>(
            &'a self,
            _: &'a Key,
            _: sentinel_cache::Fields,
            _: Duration,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            self.answer(false)
        }
        fn get_fields<'a>(
            &'a self,
            _: &'a Key,
        ) -> BoxFuture<'a, Result<sentinel_cache::Fields, StoreError>> {
            self.answer(false)
        }
    }

    /// Two replicas that read a conversation's scope before either wrote it, each adding a
    /// pseudonym, both keep theirs in the store: a third replica restores both. Written
    /// whole (`SET`), the later write dropped the other's.
    #[cfg(feature = "redis")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_adding_to_one_scope_at_once_each_keep_their_pseudonyms() {
        use sentinel_detect::{Detector as _, LocalDetector};
        use sentinel_policy::{DecisionContext, PolicyEngine as _, PolicySet};

        let server = sentinel_testkit::RedisServer::start();
        let redis = sentinel_cache::RedisStore::new(&server.url(), "ds:vault:").expect("url");
        let sealed = sentinel_cache::SealedStore::new(Arc::new(redis), b"the replicas' secret");
        let shared = SharedVault::new(Arc::new(sealed), Duration::from_secs(2));
        std::env::set_var("SHARED_VAULT_TEST_KEY", "shared vault test key");
        let replica = || {
            PolicySet::from_toml(
                "test",
                "version = \"1\"\npseudonym_key_env = \"SHARED_VAULT_TEST_KEY\"\n\
                 [[rule]]\nentities = [\"EMAIL_ADDRESS\", \"IP_ADDRESS\"]\n\
                 action = \"pseudonymize\"\npseudonym = \"token\"\n",
            )
            .expect("policy")
        };
        let (a, b, c) = (replica(), replica(), replica());
        let ctx = DecisionContext::request("t").with_scope("conv-1");
        let decide = |p: &PolicySet, text: &str| {
            let found = LocalDetector::new().scan(text);
            p.decide(text, &found, &ctx)
        };
        shared.load(a.vault(), "t", "conv-1").await;
        shared.load(b.vault(), "t", "conv-1").await;
        decide(&a, "mail jane@example.com");
        decide(&b, "call 10.20.30.40");
        shared.save(a.vault(), "t", "conv-1").await;
        shared.save(b.vault(), "t", "conv-1").await;
        shared.load(c.vault(), "t", "conv-1").await;
        assert_eq!(c.vault().scope_len("t", "conv-1"), 2);
    }

    /// A conversation's scope that a replica of the release before wrote whole (one
    /// sealed value under the old key) is read by a replica of this one, and written back
    /// as a map when the conversation goes on: a rolling upgrade keeps its pseudonyms.
    #[cfg(feature = "redis")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scope_an_older_release_wrote_whole_is_read_after_an_upgrade() {
        use sentinel_detect::{Detector as _, LocalDetector};
        use sentinel_policy::{DecisionContext, PolicyEngine as _, PolicySet};

        let server = sentinel_testkit::RedisServer::start();
        let redis = sentinel_cache::RedisStore::new(&server.url(), "ds:vault:").expect("url");
        let sealed = Arc::new(sentinel_cache::SealedStore::new(
            Arc::new(redis),
            b"the replicas' secret",
        ));
        let shared = SharedVault::new(sealed.clone(), Duration::from_secs(2));
        std::env::set_var("SHARED_VAULT_LEGACY_KEY", "shared vault legacy key");
        let replica = || {
            PolicySet::from_toml(
                "test",
                "version = \"1\"\npseudonym_key_env = \"SHARED_VAULT_LEGACY_KEY\"\n\
                 [[rule]]\nentities = [\"EMAIL_ADDRESS\"]\n\
                 action = \"pseudonymize\"\npseudonym = \"token\"\n",
            )
            .expect("policy")
        };
        let ctx = DecisionContext::request("t").with_scope("conv-1");
        let text = "mail jane@example.com";
        let old = replica();
        let sent = match old.decide(text, &LocalDetector::new().scan(text), &ctx) {
            sentinel_policy::Decision::Transform { text, .. } => text,
            other => panic!("{other:?}"),
        };
        // What the release before stored: the scope whole, its entries as the map's
        // values are now.
        let export = old.vault().export("t", "conv-1").expect("a scope");
        let entries: Vec<serde_json::Value> = export
            .to_fields()
            .iter()
            .map(|(_, v)| serde_json::from_slice(v).expect("json"))
            .collect();
        let whole = serde_json::to_vec(&serde_json::json!({ "entries": entries })).expect("json");
        let store_whole = |scope: &'static str, bytes: Vec<u8>| {
            let sealed = Arc::clone(&sealed);
            async move {
                let key = SharedVault::key("vault", "t", scope);
                let ttl = Duration::from_secs(60);
                sealed.set(&key, bytes, ttl).await.expect("stored");
            }
        };
        store_whole("conv-1", whole).await;

        let new = replica();
        shared.load(new.vault(), "t", "conv-1").await;
        assert_eq!(new.vault().scope_len("t", "conv-1"), 1);
        let restorer = new
            .restorer(&DecisionContext::response("t").with_scope("conv-1"))
            .expect("a restorer");
        assert_eq!(
            restorer.restore(&format!("You said: {sent}")).text,
            "You said: mail jane@example.com"
        );
        // Saved again, the scope is a map, which a third replica reads first.
        shared.save(new.vault(), "t", "conv-1").await;
        let fields = sealed
            .get_fields(&SharedVault::key("vault-fields", "t", "conv-1"))
            .await
            .expect("read");
        assert_eq!(fields.len(), 1);
        // Something else under the old key is not a scope.
        store_whole("conv-2", b"not a scope".to_vec()).await;
        let third = replica();
        shared.load(third.vault(), "t", "conv-2").await;
        assert_eq!(third.vault().scope_len("t", "conv-2"), 0);
    }

    #[tokio::test]
    async fn an_answer_the_store_did_not_know_is_not_asked_about_again_at_once() {
        // A conversation created around the gateway: every request names it, and the
        // store is asked once, not each time; per tenant; a failed lookup is not kept,
        // and remembering the answer forgets that it was unknown.
        let store = Arc::new(Fake::default());
        let shared = SharedVault::new(store.clone(), Duration::from_secs(1));
        for _ in 0..5 {
            assert_eq!(shared.scope_of("t", "conv_x").await, None);
        }
        assert_eq!(store.gets.load(Ordering::SeqCst), 1);
        assert_eq!(shared.scope_of("u", "conv_x").await, None);
        assert_eq!(store.gets.load(Ordering::SeqCst), 2);
        shared
            .remember(Duration::from_secs(60), "t", "conv_x", "scope-1")
            .await;
        assert_eq!(
            shared.scope_of("t", "conv_x").await,
            None,
            "the empty store"
        );
        assert_eq!(store.gets.load(Ordering::SeqCst), 3, "asked again");

        let down = Arc::new(Fake::down());
        let failing = SharedVault::new(down.clone(), Duration::from_secs(1));
        assert_eq!(failing.scope_of("t", "conv_x").await, None);
        assert!(failing.unknown.is_empty(), "a failure is not a miss");
    }

    #[tokio::test]
    async fn a_store_that_failed_is_skipped_instead_of_asked_for_every_request() {
        let store = Arc::new(Fake::down());
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
