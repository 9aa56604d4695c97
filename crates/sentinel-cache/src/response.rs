//! The response cache: which requests may be answered from it, how they are keyed, and
//! what is stored (a body, or a stream's events to replay).

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::value::{Reader, Writer};
use crate::{CacheValue, Key};

/// When responses are cached.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponseCachePolicy {
    /// Off by default: a deployment opts in.
    pub enabled: bool,
    /// Routes whose responses may be cached (empty: every route).
    pub routes: Vec<String>,
    /// Models whose responses may be cached (empty: every model).
    pub models: Vec<String>,
    /// Only deterministic requests (`temperature` 0; embeddings always) unless the caller
    /// opts in with [`ResponseCachePolicy::opt_in_header`] (default true).
    pub deterministic_only: bool,
    /// The request header by which a caller opts a request in (`x-deepsentinel-cache: on`).
    pub opt_in_header: String,
    /// How long an answer is reused.
    pub ttl: Duration,
}

impl Default for ResponseCachePolicy {
    fn default() -> ResponseCachePolicy {
        ResponseCachePolicy {
            enabled: false,
            routes: Vec::new(),
            models: Vec::new(),
            deterministic_only: true,
            opt_in_header: "x-deepsentinel-cache".to_owned(),
            ttl: Duration::from_secs(300),
        }
    }
}

/// What to do with the cache for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cacheability {
    /// Look it up; store the answer on a miss.
    Use,
    /// Do not answer from the cache, but store the fresh answer (`Cache-Control: no-cache`).
    Refresh,
    /// Neither look up nor store; the reason is a fixed word for metrics.
    Bypass(&'static str),
}

impl ResponseCachePolicy {
    /// Decides for a request to `route` with JSON `body`, the request's `Cache-Control`
    /// header and whether the caller opted in.
    pub fn cacheability(
        &self,
        route: &str,
        body: &Value,
        cache_control: Option<&str>,
        opted_in: bool,
    ) -> Cacheability {
        if !self.enabled {
            return Cacheability::Bypass("disabled");
        }
        let directives = cache_control.unwrap_or_default().to_ascii_lowercase();
        let has = |d: &str| directives.split(',').any(|x| x.trim() == d);
        if has("no-store") {
            return Cacheability::Bypass("no_store");
        }
        if !self.routes.is_empty() && !self.routes.iter().any(|r| r == route) {
            return Cacheability::Bypass("route");
        }
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !self.models.is_empty() && !self.models.iter().any(|m| m == model) {
            return Cacheability::Bypass("model");
        }
        let deterministic = route.ends_with("/embeddings")
            || body
                .get("temperature")
                .and_then(Value::as_f64)
                .is_some_and(|t| t == 0.0);
        if self.deterministic_only && !deterministic && !opted_in {
            return Cacheability::Bypass("nondeterministic");
        }
        if has("no-cache") {
            return Cacheability::Refresh;
        }
        Cacheability::Use
    }
}

/// The response cache's key: tenant, the caller's own upstream credential when a gateway
/// forwards it, route and the request after policy transforms, in a canonical form where
/// object field order, whitespace and the spelling of numbers (`0`, `0.0`, `0e0`) do not
/// matter. One tenant's key never equals another's, and an answer paid for with one
/// credential is never served to a caller holding another (or none).
pub fn response_key(tenant: &str, credential: Option<&[u8]>, route: &str, body: &Value) -> Key {
    response_key_varying(tenant, credential, route, &[], body)
}

/// As [`response_key`], for a request that carries headers which can change the answer
/// (a gateway forwarding its caller's `anthropic-beta`), given as name and value in the
/// order they were sent: two requests share a key only when they send the same ones.
/// Without any, the key is [`response_key`]'s.
///
/// # Example: a beta header keeps its answers apart
///
/// ```
/// use sentinel_cache::{response_key, response_key_varying};
/// let body = serde_json::json!({"model": "claude", "messages": []});
/// let beta: &[(&[u8], &[u8])] = &[(b"anthropic-beta", b"output-128k")];
/// let plain = response_key("acme", None, "/v1/messages", &body);
/// assert_eq!(response_key_varying("acme", None, "/v1/messages", &[], &body), plain);
/// assert_ne!(response_key_varying("acme", None, "/v1/messages", beta, &body), plain);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn response_key_varying(
    tenant: &str,
    credential: Option<&[u8]>,
    route: &str,
    vary: &[(&[u8], &[u8])],
    body: &Value,
) -> Key {
    let mut canonical = Vec::with_capacity(256);
    write_canonical(body, &mut canonical);
    let mut b = Key::builder("response");
    b.field(tenant.as_bytes());
    match credential {
        None => b.field(b"configured"),
        Some(c) => b.field(b"caller").field(c),
    };
    b.field(route.as_bytes());
    if !vary.is_empty() {
        b.field(b"vary");
        for (name, value) in vary {
            b.field(name).field(value);
        }
    }
    b.field(&canonical);
    b.finish()
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        Value::Number(n) => match n.as_f64() {
            // One spelling per value: integral values as integers, others by Rust's
            // shortest round-trip form.
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                out.extend_from_slice(format!("{}", f as i64).as_bytes());
            }
            Some(f) => out.extend_from_slice(format!("{f:?}").as_bytes()),
            None => out.extend_from_slice(n.to_string().as_bytes()),
        },
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // serde_json's escaping is canonical (one spelling per string).
    out.extend_from_slice(Value::String(s.to_owned()).to_string().as_bytes());
}

/// A stored answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// The body, or the events of a streamed answer.
    pub body: CachedBody,
}

/// A stored body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CachedBody {
    /// A whole body.
    Full(Bytes),
    /// A streamed answer, one entry per event (each as it was written, with its
    /// terminating blank line), replayed as a stream.
    Events(Vec<Bytes>),
}

impl CacheValue for CachedResponse {
    fn weight(&self) -> u64 {
        let body = match &self.body {
            CachedBody::Full(b) => b.len(),
            CachedBody::Events(e) => e.iter().map(|b| b.len() + 16).sum(),
        };
        (body + self.content_type.len() + 32) as u64
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(1);
        w.u32(u32::from(self.status));
        w.bytes(self.content_type.as_bytes());
        match &self.body {
            CachedBody::Full(b) => {
                w.u32(0);
                w.bytes(b);
            }
            CachedBody::Events(events) => {
                w.u32(1);
                w.u32(u32::try_from(events.len()).unwrap_or(u32::MAX));
                for e in events {
                    w.bytes(e);
                }
            }
        }
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Option<CachedResponse> {
        let mut r = Reader::new(bytes, 1)?;
        let status = u16::try_from(r.u32()?).ok()?;
        let content_type = std::str::from_utf8(r.bytes()?).ok()?.to_owned();
        let body = match r.u32()? {
            0 => CachedBody::Full(Bytes::copy_from_slice(r.bytes()?)),
            1 => {
                let n = r.u32()?;
                let mut events = Vec::with_capacity(usize::try_from(n).ok()?.min(65_536));
                for _ in 0..n {
                    events.push(Bytes::copy_from_slice(r.bytes()?));
                }
                CachedBody::Events(events)
            }
            _ => return None,
        };
        r.end()?;
        Some(CachedResponse {
            status,
            content_type,
            body,
        })
    }
}
