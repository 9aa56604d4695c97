//! The Redis level (feature `redis`): a [`SharedStore`] over the `redis` crate's
//! connection manager, which reconnects by itself.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::tiered::{BoxFuture, Fields, SharedStore, StoreError};
use crate::Key;

/// Redis as a shared cache level. Entries are `PREFIX` + the key in hex, set with a TTL on
/// the server (`SET ... PX`), so they expire even when no replica is running; maps are
/// hashes (`HSET` and `PEXPIRE` in one transaction, `HGETALL`).
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A TTL in whole milliseconds for `PX` and `PEXPIRE`, at least 1.
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn error(e: &redis::RedisError) -> StoreError {
    StoreError {
        store: "redis",
        message: format!("{:?}: {}", e.kind(), e.category()),
    }
}

impl RedisStore {
    /// A store for `url` (`redis://127.0.0.1:6379/0`), naming entries `prefix` + key. The
    /// connection is made on first use and remade after failures; call within a Tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// An unparsable URL.
    pub fn new(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(|e| error(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(200)))
            .set_response_timeout(Some(Duration::from_millis(200)))
            .set_number_of_retries(1);
        let conn =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|e| error(&e))?;
        Ok(RedisStore {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// A store naming its entries `prefix` + key over this store's connection: two
    /// prefixes (the response cache's and the pseudonym vault's) share one connection.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sentinel_cache::RedisStore;
    ///
    /// // No connection is made until a first use.
    /// let responses = RedisStore::new("redis://127.0.0.1:6379/0", "app:response:")?;
    /// let vault = responses.with_prefix("app:vault:");
    /// assert!(format!("{vault:?}").contains("app:vault:"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_prefix(&self, prefix: &str) -> RedisStore {
        RedisStore {
            conn: self.conn.clone(),
            prefix: prefix.to_owned(),
        }
    }

    /// Whether `url` is a URL [`RedisStore::new`] accepts, without connecting or needing a
    /// runtime. The error names the kind of problem, never the URL (it may hold a password).
    ///
    /// # Errors
    ///
    /// An unparsable URL.
    pub fn check_url(url: &str) -> Result<(), StoreError> {
        redis::Client::open(url).map(|_| ()).map_err(|e| error(&e))
    }

    fn name_of(&self, key: &Key) -> String {
        format!("{}{}", self.prefix, key.to_hex())
    }
}

impl SharedStore for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            redis::cmd("GET")
                .arg(self.name_of(key))
                .query_async::<Option<Vec<u8>>>(&mut conn)
                .await
                .map_err(|e| error(&e))
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a Key,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let ms = millis(ttl);
            redis::cmd("SET")
                .arg(self.name_of(key))
                .arg(value)
                .arg("PX")
                .arg(ms)
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| error(&e))
        })
    }

    fn set_fields<'a>(
        &'a self,
        key: &'a Key,
        fields: Fields,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if fields.is_empty() {
                return Ok(());
            }
            let mut conn = self.conn.clone();
            let name = self.name_of(key);
            let ms = millis(ttl);
            let mut hset = redis::cmd("HSET");
            hset.arg(&name);
            for (field, value) in fields {
                hset.arg(field).arg(value);
            }
            redis::pipe()
                .atomic()
                .add_command(hset)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&name)
                .arg(ms)
                .ignore()
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| error(&e))
        })
    }

    fn get_fields<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Fields, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            redis::cmd("HGETALL")
                .arg(self.name_of(key))
                .query_async::<HashMap<Vec<u8>, Vec<u8>>>(&mut conn)
                .await
                .map(|map| map.into_iter().collect())
                .map_err(|e| error(&e))
        })
    }
}
