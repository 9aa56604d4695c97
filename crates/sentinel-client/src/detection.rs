//! Detection modes: local, hybrid (local first, a remote detector for low-confidence
//! findings and types only it knows) and remote first (local as fallback). The remote speaks
//! Presidio Analyzer's REST API, so an existing Presidio deployment (or another DeepSentinel
//! gateway's `/analyze`) serves.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sentinel_cache::{Cache, CacheConfig, CachedDetector, Key, MemoryCache};
use sentinel_detect::{CharOffsets, EntityType, Finding, LocalDetector, RecognizerId};
use sentinel_transport::{OutboundRequest, Transport};
use serde::{Deserialize, Serialize};

use crate::json_text;

/// Where findings come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionMode {
    /// The local detector only.
    #[default]
    Local,
    /// Local first; the remote is asked when a local finding scores below the threshold,
    /// or always when remote-only entity types are wanted; its answer is merged in.
    Hybrid,
    /// The remote first; the local detector when the remote fails.
    RemoteFirst,
}

/// The recognizer id findings of the remote detector carry.
pub const REMOTE_RECOGNIZER: u16 = u16::MAX;

/// The recognizer id of the findings that stand for content no detector read (an image,
/// audio, a file that is not text; `sentinel_policy::EntityGroup::Unread`).
pub const UNREAD_RECOGNIZER: u16 = u16::MAX - 1;

/// The remote detector's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteSettings {
    /// Hybrid: ask the remote when a local finding scores below this.
    pub threshold: f32,
    /// Entity types only the remote knows (asked for in hybrid mode every time).
    pub remote_entities: Vec<String>,
    /// Presidio's `language`.
    pub language: String,
    /// How long to wait for the remote.
    pub timeout: Duration,
    /// How long remote answers are reused.
    pub cache_ttl: Duration,
    /// A streamed answer's text goes to the remote in windows of at least this many bytes,
    /// each ending at a line or sentence end where one is near (see `docs/sdk.md`).
    pub stream_window: usize,
}

impl Default for RemoteSettings {
    /// 0.6, PERSON and LOCATION, `en`, 2 s, 10 minutes, windows of 512 bytes.
    fn default() -> RemoteSettings {
        RemoteSettings {
            threshold: 0.6,
            remote_entities: vec!["PERSON".to_owned(), "LOCATION".to_owned()],
            language: "en".to_owned(),
            timeout: Duration::from_secs(2),
            cache_ttl: Duration::from_secs(600),
            stream_window: 512,
        }
    }
}

/// How a streamed answer's text waits for the remote detector
/// ([`Detection::stream_window`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StreamWindow {
    /// The remote is never asked: text goes out as soon as the local scan settles it.
    Off,
    /// The remote is asked about everything (remote-first, or hybrid with remote-only
    /// entity types): text goes out a window of at least this many bytes at a time.
    Always(usize),
    /// The remote is asked only about a local finding scoring below `threshold` (hybrid
    /// without remote-only types): text goes out as the local scan settles it until such
    /// a finding is held; from there it waits for a window of `bytes`.
    Doubtful {
        /// The least text the remote is asked about.
        bytes: usize,
        /// The hybrid threshold.
        threshold: f32,
    },
}

/// A Presidio Analyzer `POST /analyze` client over a [`Transport`].
pub struct RemoteDetector {
    transport: Arc<dyn Transport>,
    settings: RemoteSettings,
    cache: MemoryCache<Arc<[Finding]>>,
}

impl std::fmt::Debug for RemoteDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteDetector")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct AnalyzeRequest<'a> {
    text: &'a str,
    language: &'a str,
}

#[derive(Deserialize)]
struct AnalyzeResult {
    entity_type: String,
    start: usize,
    end: usize,
    score: f32,
}

/// The remote failed; the message holds no text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("remote detector: {0}")]
pub struct RemoteError(pub String);

impl RemoteDetector {
    /// A client sending to `transport` (whose upstream is the Presidio base URL).
    pub fn new(transport: Arc<dyn Transport>, settings: RemoteSettings) -> RemoteDetector {
        RemoteDetector {
            transport,
            cache: MemoryCache::new(CacheConfig {
                max_bytes: 16 << 20,
                default_ttl: settings.cache_ttl,
                estimated_entries: 4096,
            }),
            settings,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &RemoteSettings {
        &self.settings
    }

    /// The cache of the remote's answers: counters and sizes.
    pub fn cache_stats(&self) -> sentinel_cache::CacheStats {
        self.cache.stats()
    }

    /// The remote's findings for `text` (byte offsets), cached for the TTL.
    ///
    /// # Errors
    ///
    /// The remote is unreachable, slow, answers an error status or unexpected JSON.
    pub async fn analyze(&self, text: &str) -> Result<Arc<[Finding]>, RemoteError> {
        let key = {
            let mut b = Key::builder("remote-analyze");
            b.field(self.settings.language.as_bytes())
                .field(text.as_bytes());
            b.finish()
        };
        if let Some(found) = self.cache.get(&key) {
            return Ok(found);
        }
        let body = serde_json::to_vec(&AnalyzeRequest {
            text,
            language: &self.settings.language,
        })
        .map_err(|e| RemoteError(e.to_string()))?;
        let send = self
            .transport
            .send(OutboundRequest::post_json("/analyze", Bytes::from(body)));
        let response = tokio::time::timeout(self.settings.timeout, async {
            let r = send.await.map_err(|e| RemoteError(e.to_string()))?;
            if !r.status.is_success() {
                return Err(RemoteError(format!("status {}", r.status.as_u16())));
            }
            r.json::<Vec<AnalyzeResult>>()
                .await
                .map_err(|e| RemoteError(e.to_string()))
        })
        .await
        .map_err(|_| RemoteError(format!("no answer within {:?}", self.settings.timeout)))??;
        // Presidio counts characters; spans inside Rust are bytes.
        let starts: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let found: Arc<[Finding]> = response
            .into_iter()
            .filter_map(|r| {
                let (start, end) = (*starts.get(r.start)?, *starts.get(r.end)?);
                (start < end).then(|| Finding {
                    entity: EntityType::new(&r.entity_type),
                    start,
                    end,
                    score: r.score.clamp(0.0, 1.0),
                    recognizer: RecognizerId::from_index(REMOTE_RECOGNIZER),
                    escaped: false,
                    folded: false,
                })
            })
            .collect();
        self.cache.insert(key, Arc::clone(&found), None);
        Ok(found)
    }
}

/// The detection stage: a cached local detector, and a remote per the mode.
pub struct Detection {
    local: CachedDetector<Arc<LocalDetector>>,
    remote: Option<RemoteDetector>,
    mode: DetectionMode,
}

impl std::fmt::Debug for Detection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detection")
            .field("mode", &self.mode)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

/// One segment's findings and how they were found.
#[derive(Clone, Debug, Default)]
pub struct Detected {
    /// The findings, sorted by start.
    pub findings: Arc<[Finding]>,
    /// Whether the local result came from the detection cache.
    pub cache_hit: bool,
    /// Whether `findings` is the detection cache's entry for the text: while it stays
    /// cached, the same text gets this same allocation back, so what is derived from it
    /// can be kept beside it (the pipeline keeps the audit fingerprints so).
    pub shared: bool,
    /// Whether the remote was asked and failed (the local result stands in).
    pub remote_failed: bool,
}

impl Detection {
    /// Detection with `local` behind `cache`, and `remote` for the hybrid and remote-first
    /// modes.
    pub fn new(
        local: Arc<LocalDetector>,
        cache: Arc<dyn Cache<sentinel_cache::Scanned>>,
        mode: DetectionMode,
        remote: Option<RemoteDetector>,
    ) -> Detection {
        Detection {
            local: CachedDetector::new(local, cache),
            remote,
            mode,
        }
    }

    /// The local detector.
    pub fn local(&self) -> &LocalDetector {
        self.local.inner()
    }

    /// The remote detector, when one is configured (whatever the mode).
    pub fn remote(&self) -> Option<&RemoteDetector> {
        self.remote.as_ref()
    }

    /// The local detector, shared (streamed answers scan with it).
    pub fn local_arc(&self) -> Arc<LocalDetector> {
        Arc::clone(self.local.inner())
    }

    /// The detection cache's counters and sizes, and the remote's answers' cache's if there
    /// is a remote.
    pub fn cache_stats(
        &self,
    ) -> (
        sentinel_cache::CacheStats,
        Option<sentinel_cache::CacheStats>,
    ) {
        (
            self.local.cache().stats(),
            self.remote.as_ref().map(RemoteDetector::cache_stats),
        )
    }

    /// Whether `text` goes through the detection cache (it is long enough).
    pub(crate) fn caches(&self, text: &str) -> bool {
        self.local.caches(text)
    }

    /// The mode.
    pub fn mode(&self) -> DetectionMode {
        self.mode
    }

    /// The local detector's findings, through the cache.
    fn local_result(&self, text: &str) -> Detected {
        let (findings, cache_hit) = self.local.scan_cached(text);
        Detected {
            findings,
            cache_hit,
            shared: self.caches(text),
            remote_failed: false,
        }
    }

    /// The name of the recognizer that made a finding: the local detector's, `remote`
    /// for the remote detector's findings, `unread` for content no detector read.
    pub fn recognizer_name(&self, id: RecognizerId) -> &str {
        match id.index() {
            REMOTE_RECOGNIZER => "remote",
            UNREAD_RECOGNIZER => "unread",
            _ => sentinel_detect::Detector::recognizer_name(self.local(), id),
        }
    }

    /// How a streamed text waits for the remote detector: as [`Detection::detect`] would
    /// ask it, always, only about doubtful findings, or never.
    pub fn stream_window(&self) -> StreamWindow {
        let Some(r) = &self.remote else {
            return StreamWindow::Off;
        };
        let bytes = r.settings.stream_window;
        match self.mode {
            DetectionMode::Local => StreamWindow::Off,
            DetectionMode::Hybrid if r.settings.remote_entities.is_empty() => {
                StreamWindow::Doubtful {
                    bytes,
                    threshold: r.settings.threshold,
                }
            }
            DetectionMode::Hybrid | DetectionMode::RemoteFirst => StreamWindow::Always(bytes),
        }
    }

    /// Finds the sensitive values in `text`. A JSON document with escapes in it (a tool
    /// call's arguments), or the start of one (arguments cut short), is read unescaped,
    /// and its findings cover whole escapes and are marked
    /// [`escaped`](Finding::escaped) where they hold one, so a value right after `\n` or
    /// written with escapes (`jane\u0040example.com`) is found, and replacing it leaves
    /// the JSON valid.
    pub async fn detect(&self, text: &str) -> Detected {
        match sentinel_detect::Unescaper::document(text) {
            Some((read, back)) => json_text::read_back(text, &back, self.detect_read(&read).await),
            None => self.detect_read(text).await,
        }
    }

    /// Finds the sensitive values in `text` as it reads.
    async fn detect_read(&self, text: &str) -> Detected {
        if self.mode == DetectionMode::RemoteFirst && self.remote.is_some() {
            return match self.ask_remote(text, &[]).await {
                RemoteAnswer::Found(found) => Detected {
                    findings: found.into(),
                    ..Detected::default()
                },
                RemoteAnswer::NotAsked | RemoteAnswer::Failed => Detected {
                    remote_failed: true,
                    ..self.local_result(text)
                },
            };
        }
        let mut d = self.local_result(text);
        match self.ask_remote(text, &d.findings).await {
            RemoteAnswer::NotAsked => {}
            RemoteAnswer::Found(found) => {
                d.findings = found.into();
                d.shared = false;
            }
            RemoteAnswer::Failed => d.remote_failed = true,
        }
        d
    }

    /// The findings of `text` per the mode, given the local detector's (`local`, found
    /// elsewhere: a streamed text's scanner): as they are in local mode, with the remote's
    /// merged in hybrid mode, the remote's in remote-first mode. The flag says the remote
    /// was asked and failed (`local` then stands).
    pub async fn refine(&self, text: &str, local: Vec<Finding>) -> (Vec<Finding>, bool) {
        match self.ask_remote(text, &local).await {
            RemoteAnswer::NotAsked => (local, false),
            RemoteAnswer::Found(found) => (found, false),
            RemoteAnswer::Failed => (local, true),
        }
    }

    /// Asks the remote about `text` if the mode says to, given the local findings (unused
    /// in remote-first mode).
    async fn ask_remote(&self, text: &str, local: &[Finding]) -> RemoteAnswer {
        let Some(remote) = &self.remote else {
            return RemoteAnswer::NotAsked;
        };
        let ask = match self.mode {
            DetectionMode::Local => false,
            DetectionMode::RemoteFirst => true,
            DetectionMode::Hybrid => {
                (!remote.settings.remote_entities.is_empty()
                    || local.iter().any(|f| f.score < remote.settings.threshold))
                    && !text.trim().is_empty()
            }
        };
        if !ask {
            return RemoteAnswer::NotAsked;
        }
        match remote.analyze(text).await {
            Ok(found) if self.mode == DetectionMode::RemoteFirst => {
                RemoteAnswer::Found(sorted(found.to_vec()))
            }
            Ok(extra) => RemoteAnswer::Found(merge(local.to_vec(), &extra, &remote.settings)),
            Err(e) => {
                tracing::warn!(error = %e, "remote detector failed; using the local result");
                RemoteAnswer::Failed
            }
        }
    }
}

/// What asking the remote gave.
enum RemoteAnswer {
    /// The mode did not call for it.
    NotAsked,
    /// The findings to use.
    Found(Vec<Finding>),
    /// It failed.
    Failed,
}

fn sorted(mut v: Vec<Finding>) -> Vec<Finding> {
    v.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    v
}

/// Local findings, confirmed or raised by remote ones on the same span, plus the remote's
/// findings of remote-only types and of spans the local detector did not see.
fn merge(local: Vec<Finding>, remote: &[Finding], settings: &RemoteSettings) -> Vec<Finding> {
    let mut out = local;
    for r in remote {
        if let Some(l) = out
            .iter_mut()
            .find(|l| l.start == r.start && l.end == r.end && l.entity == r.entity)
        {
            l.score = l.score.max(r.score);
            continue;
        }
        let overlaps = out.iter().any(|l| l.start < r.end && r.start < l.end);
        let remote_only = settings
            .remote_entities
            .iter()
            .any(|e| e == r.entity.as_str());
        if remote_only || !overlaps {
            out.push(r.clone());
        }
    }
    sorted(out)
}

/// Character offsets of a text, for callers that report Presidio-style spans.
pub fn char_span(text: &str, f: &Finding) -> (usize, usize) {
    let mut o = CharOffsets::new(text);
    (o.char_offset(f.start), o.char_offset(f.end))
}
