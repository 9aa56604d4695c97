//! Spreading requests over the endpoints of one upstream.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::breaker::CircuitBreaker;
use crate::counted::{Open, Origins};
use crate::{BreakerConfig, Endpoint, Strategy, Upstream};

/// An endpoint with its breaker and load figures.
#[derive(Debug)]
pub struct EndpointState {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its circuit.
    pub breaker: CircuitBreaker,
    /// The `Host` header of its requests, built once: the client otherwise formats
    /// `host:port` into a new string for every HTTP/1.1 request.
    pub(crate) host: Option<http::HeaderValue>,
    /// The open connections to its origin (shared with endpoints at the same one).
    open: Option<Arc<Open>>,
    outstanding: AtomicUsize,
    /// Latency EWMA in nanoseconds (0: no sample yet).
    ewma_ns: AtomicU64,
}

impl EndpointState {
    /// Upstream connections open to its scheme, host and port (in use and idle; endpoints
    /// there share them).
    pub fn connections(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.count())
    }

    /// Requests in flight.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// The latency EWMA.
    pub fn latency_ewma(&self) -> Duration {
        Duration::from_nanos(self.ewma_ns.load(Ordering::Relaxed))
    }

    /// Folds a latency sample into the EWMA (weight 0.2 for the new sample).
    pub fn observe(&self, latency: Duration) {
        let sample = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .ewma_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    sample
                } else {
                    (old / 5) * 4 + sample / 5
                })
            });
    }
}

/// Marks a request in flight on an endpoint until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<EndpointState>);

impl InFlight {
    /// The endpoint.
    pub fn state(&self) -> &Arc<EndpointState> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One upstream's endpoints and its strategy.
#[derive(Debug)]
pub struct Pool {
    /// The upstream's name.
    pub name: String,
    endpoints: Vec<Arc<EndpointState>>,
    strategy: Strategy,
    next: AtomicUsize,
    /// Smooth weighted round robin's current weights.
    current: Mutex<Vec<i64>>,
}

impl Pool {
    /// A pool for `upstream`, each endpoint with its own breaker.
    pub fn new(upstream: &Upstream, breaker: &BreakerConfig) -> Pool {
        Pool::counted(upstream, breaker, &Origins::default())
    }

    /// A pool whose endpoints read their open connections from `origins`.
    pub(crate) fn counted(upstream: &Upstream, breaker: &BreakerConfig, origins: &Origins) -> Pool {
        Pool {
            name: upstream.name.clone(),
            endpoints: upstream
                .endpoints
                .iter()
                .map(|e| {
                    Arc::new(EndpointState {
                        breaker: CircuitBreaker::new(&e.name, breaker.clone()),
                        host: host_header(&e.base),
                        open: origins.of(&e.base),
                        endpoint: e.clone(),
                        outstanding: AtomicUsize::new(0),
                        ewma_ns: AtomicU64::new(0),
                    })
                })
                .collect(),
            strategy: upstream.strategy,
            next: AtomicUsize::new(0),
            current: Mutex::new(vec![0; upstream.endpoints.len()]),
        }
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &[Arc<EndpointState>] {
        &self.endpoints
    }

    /// Picks an endpoint whose circuit admits a request, not in `exclude` (endpoints
    /// already tried for this request) unless nothing else is available; `None` when every
    /// circuit is open.
    pub fn pick(&self, exclude: &[usize]) -> Option<usize> {
        let available: Vec<usize> = (0..self.endpoints.len())
            .filter(|i| self.endpoints[*i].breaker.is_available())
            .collect();
        let fresh: Vec<usize> = available
            .iter()
            .copied()
            .filter(|i| !exclude.contains(i))
            .collect();
        let candidates = if fresh.is_empty() { available } else { fresh };
        if candidates.is_empty() {
            return None;
        }
        let n = candidates.len();
        Some(match self.strategy {
            Strategy::RoundRobin => candidates[self.next.fetch_add(1, Ordering::Relaxed) % n],
            Strategy::WeightedRoundRobin => {
                let mut current = self
                    .current
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let total: i64 = candidates
                    .iter()
                    .map(|&i| i64::from(self.endpoints[i].endpoint.weight))
                    .sum();
                let mut best = candidates[0];
                for &i in &candidates {
                    current[i] += i64::from(self.endpoints[i].endpoint.weight);
                    if current[i] > current[best] {
                        best = i;
                    }
                }
                current[best] -= total;
                best
            }
            Strategy::LeastOutstanding => {
                // Ties go round robin, so equal endpoints share the load.
                let start = self.next.fetch_add(1, Ordering::Relaxed);
                (0..n)
                    .map(|k| candidates[(start + k) % n])
                    .min_by_key(|&i| self.endpoints[i].outstanding())
                    .unwrap_or(candidates[0])
            }
            Strategy::PowerOfTwoChoices => {
                if n == 1 {
                    candidates[0]
                } else {
                    let a = fastrand::usize(0..n);
                    let b = (a + 1 + fastrand::usize(0..n - 1)) % n;
                    let cost = |i: usize| {
                        let e = &self.endpoints[i];
                        // Unmeasured endpoints look cheap, so each gets tried.
                        let ewma = e.ewma_ns.load(Ordering::Relaxed).max(1) as f64;
                        ewma * (e.outstanding() as f64 + 1.0)
                    };
                    let (ia, ib) = (candidates[a], candidates[b]);
                    if cost(ia) <= cost(ib) {
                        ia
                    } else {
                        ib
                    }
                }
            }
        })
    }

    /// Marks a request in flight on endpoint `i`.
    pub fn start(&self, i: usize) -> InFlight {
        let e = Arc::clone(&self.endpoints[i]);
        e.outstanding.fetch_add(1, Ordering::Relaxed);
        InFlight(e)
    }
}

/// The `Host` header hyper-util's client would write for `base`: the host, with the port
/// when it is not the scheme's default.
fn host_header(base: &http::Uri) -> Option<http::HeaderValue> {
    let host = base.host()?;
    let default = match base.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    match base.port_u16() {
        Some(port) if port != default => {
            http::HeaderValue::from_str(&format!("{host}:{port}")).ok()
        }
        _ => http::HeaderValue::from_str(host).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::host_header;

    #[test]
    fn the_host_header_is_the_one_the_client_would_write() {
        for (base, want) in [
            ("http://127.0.0.1:8000/v1", "127.0.0.1:8000"),
            ("https://api.openai.com/v1", "api.openai.com"),
            ("https://api.example:443", "api.example"),
            ("http://api.example:80/", "api.example"),
            ("http://api.example:443/", "api.example:443"),
            ("http://[::1]:9000/v1", "[::1]:9000"),
        ] {
            let host = host_header(&base.parse().expect("uri")).expect("a host");
            assert_eq!(host.to_str().expect("ascii"), want, "{base}");
        }
    }
}
