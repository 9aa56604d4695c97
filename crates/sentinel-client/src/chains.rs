//! Which pseudonym scope a Responses API request continues.
//!
//! The Responses API keeps a conversation on the provider's side: a request names the
//! answer it follows (`previous_response_id`) or a stored conversation (`conversation`),
//! and carries only the new turn. The model can then quote pseudonyms issued in earlier
//! turns, which only the scope of those turns can restore. Without a conversation id from
//! the caller, the pipeline therefore takes the scope from the request itself: the
//! stored conversation's id, or the scope of the answer named as previous (each answer's
//! id is remembered with its scope, here and, with a shared vault, in the shared store),
//! or for a first turn its own request id, under which its answer's id is then
//! remembered.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::segments::Route;
use crate::shared_vault::SharedVault;

/// Answers remembered per process (the least recently used go first).
const REMEMBERED: usize = 65_536;

/// What a Responses API request says it continues.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Continues {
    #[serde(default)]
    conversation: Option<ConversationRef>,
    #[serde(default)]
    pub(crate) previous_response_id: Option<String>,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum ConversationRef {
    Id(String),
    Object { id: String },
}

impl Continues {
    /// What `body` continues; the default when it names nothing (read only when the
    /// body holds either key's name, so a first turn is not parsed twice).
    pub(crate) fn of(body: &[u8]) -> Continues {
        let names = |key: &[u8]| memchr::memmem::find(body, key).is_some();
        if !names(b"\"previous_response_id\"") && !names(b"\"conversation\"") {
            return Continues::default();
        }
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// The stored conversation's id, if the request names one.
    pub(crate) fn conversation(&self) -> Option<&str> {
        match self.conversation.as_ref()? {
            ConversationRef::Id(id) | ConversationRef::Object { id } => Some(id),
        }
    }
}

/// The scope of each remembered answer, by tenant and answer id; and the uploads whose
/// files were read as text.
pub(crate) struct Chains {
    scopes: quick_cache::sync::Cache<(String, String), Arc<str>>,
    read: quick_cache::sync::Cache<(String, String), ()>,
}

impl Chains {
    pub(crate) fn new() -> Chains {
        Chains {
            scopes: quick_cache::sync::Cache::new(REMEMBERED),
            read: quick_cache::sync::Cache::new(REMEMBERED),
        }
    }

    /// Remembers that `tenant`'s uploaded file `id` was read as text (and decided) on its
    /// way up, so a request naming it later is not counted as carrying an unread file.
    pub(crate) fn read_upload(&self, tenant: &str, id: &str) {
        self.read.insert((tenant.to_owned(), id.to_owned()), ());
    }

    /// Whether `tenant`'s file `id` was read on its way up through this process.
    pub(crate) fn was_read(&self, tenant: &str, id: &str) -> bool {
        self.read.get(&(tenant.to_owned(), id.to_owned())).is_some()
    }

    /// The scope of `tenant`'s answer `id`, if remembered here.
    pub(crate) fn scope_of(&self, tenant: &str, id: &str) -> Option<Arc<str>> {
        self.scopes.get(&(tenant.to_owned(), id.to_owned()))
    }

    /// Remembers that `tenant`'s answer `id` belongs to `scope`.
    pub(crate) fn remember(&self, tenant: &str, id: &str, scope: &str) {
        self.scopes
            .insert((tenant.to_owned(), id.to_owned()), Arc::from(scope));
    }
}

/// Where one Responses API answer's id is remembered with its scope, once the answer
/// names it (a whole answer's `id`, a stream's `response.created`).
pub(crate) struct ChainLink {
    pub(crate) chains: Arc<Chains>,
    pub(crate) shared: Option<Arc<SharedVault>>,
    /// The vault's TTL, for the shared store.
    pub(crate) ttl: Duration,
    pub(crate) tenant: String,
    pub(crate) scope: String,
}

impl ChainLink {
    /// Remembers that answer `id` belongs to the scope: here, and in the shared store
    /// (awaited within its timeout), so that a next turn sent the moment the answer ends
    /// finds it on any replica.
    pub(crate) async fn remember(&self, id: &str) {
        self.remember_in(id, &self.scope).await;
    }

    /// Remembers that answer `id` belongs to `scope` (another request's: a listed batch's
    /// files continue the scope of that batch), here and in the shared store.
    pub(crate) async fn remember_in(&self, id: &str, scope: &str) {
        self.chains.remember(&self.tenant, id, scope);
        if let Some(shared) = &self.shared {
            shared.remember(self.ttl, &self.tenant, id, scope).await;
        }
    }
}

/// Which ids of an answer on a route later requests name, to continue its scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Remembered {
    /// The answer's own `id`: a Responses API answer, a conversation, an upload, a batch
    /// (OpenAI's or Anthropic's) created.
    Id,
    /// A batch's output and error files (the batch read or cancelled).
    OutputFiles,
    /// Each listed batch's output and error files, with the scope of that batch (a
    /// listing is no batch's request: its own scope is nobody's).
    ListedOutputFiles,
}

/// An id an answer names ([`answer_ids`]), and whose scope it continues.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Chained {
    /// The id a later request names.
    pub(crate) id: String,
    /// The answer (a batch) whose scope it continues; `None` for the request's own.
    pub(crate) owner: Option<String>,
}

/// What of `route`'s answers is remembered with a scope (the request's, or a listed
/// batch's), if anything.
pub(crate) fn remembered(route: Route) -> Option<Remembered> {
    match route {
        Route::Responses
        | Route::Conversations
        | Route::Files
        | Route::Batches
        | Route::MessagesBatches => Some(Remembered::Id),
        Route::BatchesRetrieve | Route::BatchesCancel => Some(Remembered::OutputFiles),
        Route::BatchesList => Some(Remembered::ListedOutputFiles),
        _ => None,
    }
}

/// The ids a whole answer on `route` names that later requests continue from
/// ([`remembered`]).
pub(crate) fn answer_ids(route: Route, body: &[u8]) -> Vec<Chained> {
    #[derive(Deserialize)]
    struct Ids {
        id: Option<String>,
        output_file_id: Option<String>,
        error_file_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct Listed {
        data: Vec<Ids>,
    }
    let own = |id| Chained { id, owner: None };
    let files = |b: Ids| [b.output_file_id, b.error_file_id].into_iter().flatten();
    match remembered(route) {
        Some(Remembered::ListedOutputFiles) => {
            let Ok(listed) = serde_json::from_slice::<Listed>(body) else {
                return Vec::new();
            };
            listed
                .data
                .into_iter()
                .filter_map(|b| Some((b.id.clone()?, b)))
                .flat_map(|(batch, b)| {
                    files(b).map(move |id| Chained {
                        id,
                        owner: Some(batch.clone()),
                    })
                })
                .collect()
        }
        Some(Remembered::Id) => serde_json::from_slice::<Ids>(body)
            .ok()
            .and_then(|ids| ids.id)
            .map(own)
            .into_iter()
            .collect(),
        Some(Remembered::OutputFiles) => serde_json::from_slice::<Ids>(body)
            .ok()
            .into_iter()
            .flat_map(files)
            .map(own)
            .collect(),
        None => Vec::new(),
    }
}

/// The `input_file_id` a batch is created from, if the body names one.
pub(crate) fn input_file_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Batch {
        input_file_id: Option<String>,
    }
    serde_json::from_slice::<Batch>(body).ok()?.input_file_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_what_it_continues_in_either_form() {
        assert_eq!(
            Continues::of(br#"{"model":"m","input":"hi"}"#),
            Continues::default()
        );
        let c = Continues::of(br#"{"model":"m","previous_response_id":"resp_1","input":"x"}"#);
        assert_eq!(c.previous_response_id.as_deref(), Some("resp_1"));
        assert_eq!(c.conversation(), None);
        assert_eq!(
            Continues::of(br#"{"conversation":"conv_7","input":"x"}"#).conversation(),
            Some("conv_7")
        );
        assert_eq!(
            Continues::of(br#"{"conversation":{"id":"conv_8"},"input":"x"}"#).conversation(),
            Some("conv_8")
        );
        // A key's name inside a text is not a key.
        assert_eq!(
            Continues::of(br#"{"input":"what is \"conversation\"?"}"#),
            Continues::default()
        );
        let own = |id: &str| Chained {
            id: id.to_owned(),
            owner: None,
        };
        assert_eq!(
            answer_ids(Route::Responses, br#"{"object":"response","id":"resp_9"}"#),
            [own("resp_9")]
        );
        assert!(answer_ids(Route::Responses, b"not json").is_empty());
        let batch = br#"{"id":"batch_1","output_file_id":"file-o","error_file_id":null}"#;
        assert_eq!(answer_ids(Route::Batches, batch), [own("batch_1")]);
        assert_eq!(answer_ids(Route::BatchesRetrieve, batch), [own("file-o")]);
        // A listing's files, each with its batch; a batch without an id names nobody's.
        let listed = br#"{"object":"list","data":[
            {"id":"batch_1","output_file_id":"file-o","error_file_id":"file-e"},
            {"id":"batch_2","output_file_id":null},
            {"output_file_id":"file-x"}]}"#;
        let of = |id: &str, batch: &str| Chained {
            id: id.to_owned(),
            owner: Some(batch.to_owned()),
        };
        assert_eq!(
            answer_ids(Route::BatchesList, listed),
            [of("file-o", "batch_1"), of("file-e", "batch_1")]
        );
        assert!(answer_ids(Route::BatchesList, batch).is_empty());
        assert_eq!(
            input_file_id(br#"{"input_file_id":"file-i","endpoint":"/v1/chat/completions"}"#)
                .as_deref(),
            Some("file-i")
        );
    }
}
