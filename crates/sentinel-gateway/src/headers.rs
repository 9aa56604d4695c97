//! Which headers pass between a caller and the upstream (`[server]
//! forward_request_headers` and `forward_response_headers`).
//!
//! A provider's SDK sends headers that change what the provider does (`anthropic-beta`
//! turns on features, `openai-project` picks the project billed) and reads headers of the
//! answer (`retry-after` on a 429, rate limits, the provider's request id for support).
//! A gateway that dropped them would not be a drop-in base URL. Only named headers pass,
//! so cookies, the provider's internal headers and anything unexpected stay behind;
//! credentials, framing and hop-by-hop headers never pass, whatever a pattern says.

use http::{HeaderMap, HeaderName};

use crate::GatewayError;

/// The headers a caller's request may carry to the upstream by default: those that ask
/// for an API version or features. Not `openai-organization` or `openai-project`: under
/// the gateway's own key they would let a caller pick whom the provider bills.
pub(crate) const DEFAULT_REQUEST_HEADERS: [&str; 3] =
    ["openai-beta", "anthropic-version", "anthropic-beta"];

/// The headers of the upstream's answer passed on to the caller by default (`*` at the
/// end: every name that starts so).
pub(crate) const DEFAULT_RESPONSE_HEADERS: [&str; 7] = [
    "x-request-id",
    "request-id",
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-*",
    "openai-*",
    "anthropic-*",
];

/// Never passed, either way: credentials, cookies, the body's framing and encoding
/// (the gateway reads and writes bodies itself), hop-by-hop headers, and the gateway's own.
const NEVER: [&str; 17] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "accept-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
];

/// The prefix of the gateway's own headers (`x-deepsentinel-key`, `-conversation`, ...).
const OWN_PREFIX: &str = "x-deepsentinel-";

fn never(name: &str) -> bool {
    NEVER.contains(&name) || name.starts_with(OWN_PREFIX)
}

/// One entry of a list: a name, or a prefix (`x-ratelimit-*`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Name(HeaderName),
    Prefix(String),
}

impl Pattern {
    fn matches(&self, name: &HeaderName) -> bool {
        match self {
            Pattern::Name(n) => n == name,
            Pattern::Prefix(p) => name.as_str().starts_with(p.as_str()) && !never(name.as_str()),
        }
    }
}

/// The patterns of one direction, checked when the configuration is read.
fn patterns(
    key: &str,
    given: Option<&[String]>,
    default: &[&str],
) -> Result<Vec<Pattern>, GatewayError> {
    let entries: Vec<&str> = match given {
        Some(g) => g.iter().map(String::as_str).collect(),
        None => default.to_vec(),
    };
    entries
        .into_iter()
        .map(|entry| {
            let bad = |why: &str| GatewayError::Config(format!("[server] {key}: {entry:?} {why}"));
            let lower = entry.trim().to_ascii_lowercase();
            let (stem, prefix) = match lower.strip_suffix('*') {
                Some(stem) => (stem.to_owned(), true),
                None => (lower, false),
            };
            if stem.is_empty() {
                return Err(bad("matches every header; name them"));
            }
            if stem.contains('*') {
                return Err(bad("may end with `*` but hold no other"));
            }
            // A prefix need not be a whole name (`x-ratelimit-`), but its characters must
            // be those of one.
            let probe = if prefix {
                format!("{stem}x")
            } else {
                stem.clone()
            };
            let name = HeaderName::from_bytes(probe.as_bytes())
                .map_err(|_| bad("is not a header name"))?;
            if prefix {
                // A wider prefix (`x-*`) skips them when it matches.
                if stem.starts_with(OWN_PREFIX) {
                    return Err(bad(
                        "would match only the gateway's own x-deepsentinel- headers",
                    ));
                }
                Ok(Pattern::Prefix(stem))
            } else if never(name.as_str()) {
                Err(bad(
                    "never passes through the gateway (a credential, framing or the gateway's own)",
                ))
            } else {
                Ok(Pattern::Name(name))
            }
        })
        .collect()
}

/// The headers that pass, each way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeaderRules {
    request: Vec<Pattern>,
    response: Vec<Pattern>,
}

impl HeaderRules {
    /// The rules `[server]` gives, or the defaults.
    ///
    /// # Errors
    ///
    /// An entry that is not a header name or a prefix of one, `*` alone, or a header that
    /// never passes (`authorization`, `set-cookie`, `content-length`, ...).
    pub(crate) fn of(server: &sentinel_client::ServerSection) -> Result<HeaderRules, GatewayError> {
        Ok(HeaderRules {
            request: patterns(
                "forward_request_headers",
                server.forward_request_headers.as_deref(),
                &DEFAULT_REQUEST_HEADERS,
            )?,
            response: patterns(
                "forward_response_headers",
                server.forward_response_headers.as_deref(),
                &DEFAULT_RESPONSE_HEADERS,
            )?,
        })
    }

    /// The caller's headers that go upstream with its request.
    pub(crate) fn outbound(&self, caller: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::new();
        pass(&self.request, caller, &mut out);
        out
    }

    /// Adds the upstream's headers that the caller gets to `to`, after what the gateway
    /// set itself (which they never replace).
    pub(crate) fn inbound(&self, upstream: &HeaderMap, to: &mut HeaderMap) {
        pass(&self.response, upstream, to);
    }
}

/// Adds to `to` every header of `from` that a pattern names and `to` does not hold yet,
/// with all its values.
fn pass(patterns: &[Pattern], from: &HeaderMap, to: &mut HeaderMap) {
    if patterns.is_empty() {
        return;
    }
    for name in from.keys() {
        if !to.contains_key(name) && patterns.iter().any(|p| p.matches(name)) {
            for value in from.get_all(name) {
                to.append(name.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use sentinel_client::ServerSection;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        m
    }

    fn names(m: &HeaderMap) -> Vec<&str> {
        let mut n: Vec<&str> = m.keys().map(HeaderName::as_str).collect();
        n.sort_unstable();
        n
    }

    #[test]
    fn the_defaults_pass_provider_headers_and_nothing_else() {
        let rules = HeaderRules::of(&ServerSection::default()).expect("defaults");
        let caller = map(&[
            ("authorization", "Bearer sk-gateway"),
            ("x-api-key", "sk-ant-caller"),
            ("cookie", "session=1"),
            ("anthropic-beta", "a"),
            ("anthropic-beta", "b"),
            ("openai-project", "proj_1"),
            ("x-stainless-os", "Linux"),
            ("x-deepsentinel-conversation", "c1"),
            ("content-type", "application/json"),
        ]);
        let out = rules.outbound(&caller);
        assert_eq!(
            names(&out),
            ["anthropic-beta"],
            "a project is not the caller's to pick"
        );
        assert_eq!(out.get_all("anthropic-beta").iter().count(), 2);

        let upstream = map(&[
            ("x-request-id", "req_up"),
            ("openai-processing-ms", "7"),
            ("x-ratelimit-remaining-requests", "99"),
            ("anthropic-ratelimit-tokens-remaining", "5"),
            ("retry-after", "3"),
            ("set-cookie", "__cf_bm=secret"),
            ("content-length", "12"),
            ("content-encoding", "gzip"),
            ("server", "cloudflare"),
            ("x-deepsentinel-request-id", "spoofed"),
        ]);
        let mut to = map(&[("x-deepsentinel-request-id", "req-own")]);
        rules.inbound(&upstream, &mut to);
        assert_eq!(
            names(&to),
            [
                "anthropic-ratelimit-tokens-remaining",
                "openai-processing-ms",
                "retry-after",
                "x-deepsentinel-request-id",
                "x-ratelimit-remaining-requests",
                "x-request-id",
            ]
        );
        assert_eq!(to["x-deepsentinel-request-id"], "req-own");
    }

    #[test]
    fn configured_lists_replace_the_defaults_and_bad_entries_are_refused() {
        let server = |req: &[&str], resp: &[&str]| ServerSection {
            forward_request_headers: Some(req.iter().map(|s| (*s).to_owned()).collect()),
            forward_response_headers: Some(resp.iter().map(|s| (*s).to_owned()).collect()),
            ..ServerSection::default()
        };
        let rules = HeaderRules::of(&server(&["X-Tenant-Region"], &[])).expect("rules");
        let out = rules.outbound(&map(&[("x-tenant-region", "eu"), ("openai-project", "p")]));
        assert_eq!(names(&out), ["x-tenant-region"]);
        let mut to = HeaderMap::new();
        rules.inbound(&map(&[("x-request-id", "r")]), &mut to);
        assert!(to.is_empty());

        // A prefix never reaches what never passes.
        let rules = HeaderRules::of(&server(&["x-*"], &["x-*"])).expect("rules");
        let out = rules.outbound(&map(&[("x-api-key", "k"), ("x-trace", "t")]));
        assert_eq!(names(&out), ["x-trace"]);

        for (entry, why) in [
            ("*", "every header"),
            ("authorization", "never passes"),
            ("Set-Cookie", "never passes"),
            ("content-length", "never passes"),
            ("x-deepsentinel-key", "never passes"),
            ("X-DeepSentinel-Trace*", "gateway's own"),
            ("x-deepsentinel-*", "gateway's own"),
            ("bad header", "not a header name"),
            ("a*b", "no other"),
        ] {
            let e = HeaderRules::of(&server(&[entry], &[]))
                .expect_err(entry)
                .to_string();
            assert!(
                e.contains(why) && e.contains("forward_request_headers"),
                "{entry}: {e}"
            );
            let e = HeaderRules::of(&server(&[], &[entry]))
                .expect_err(entry)
                .to_string();
            assert!(e.contains("forward_response_headers"), "{entry}: {e}");
        }
    }
}
