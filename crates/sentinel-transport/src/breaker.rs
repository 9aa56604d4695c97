//! The circuit breaker of one endpoint.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::BreakerConfig;

/// A circuit's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    /// Requests flow.
    Closed,
    /// Cooling down: no requests until `open_for` has passed.
    Open,
    /// A few probes are let through; their successes close the circuit, a failure opens it.
    HalfOpen,
}

impl CircuitState {
    /// The metric value (0 closed, 1 half-open, 2 open) and label.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }

    fn gauge(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::HalfOpen => 1.0,
            CircuitState::Open => 2.0,
        }
    }
}

struct Inner {
    state: CircuitState,
    outcomes: VecDeque<(Instant, bool)>,
    failures: u32,
    opened_at: Instant,
    probes_in_flight: u32,
    probe_successes: u32,
}

/// Failure rate over a sliding window with a minimum request count; open for a
/// cool-down; half-open probes; closed again on their success. Transitions are logged and
/// counted (`deepsentinel_upstream_circuit_*`).
pub struct CircuitBreaker {
    name: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("state", &self.state())
            .finish()
    }
}

/// Permission to send one request; report its outcome with [`CircuitBreaker::record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    probe: bool,
}

impl CircuitBreaker {
    /// A closed breaker for the endpoint `name`.
    pub fn new(name: &str, config: BreakerConfig) -> CircuitBreaker {
        let b = CircuitBreaker {
            name: name.to_owned(),
            config,
            inner: Mutex::new(Inner {
                state: CircuitState::Closed,
                outcomes: VecDeque::new(),
                failures: 0,
                opened_at: Instant::now(),
                probes_in_flight: 0,
                probe_successes: 0,
            }),
        };
        metrics::gauge!(sentinel_metrics::names::CIRCUIT_STATE,
            sentinel_metrics::names::label::UPSTREAM => b.name.clone())
        .set(0.0);
        b
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The state now (an open circuit whose cool-down has passed reads as half-open).
    pub fn state(&self) -> CircuitState {
        let mut inner = self.lock();
        self.advance(&mut inner);
        inner.state
    }

    fn transition(&self, inner: &mut Inner, to: CircuitState, now: Instant) {
        if inner.state == to {
            return;
        }
        use sentinel_metrics::names::{label, CIRCUIT_STATE, CIRCUIT_TRANSITIONS_TOTAL};
        tracing::warn!(upstream = %self.name, from = inner.state.as_str(), to = to.as_str(), "circuit state change");
        metrics::counter!(CIRCUIT_TRANSITIONS_TOTAL, label::UPSTREAM => self.name.clone(), label::TO => to.as_str())
            .increment(1);
        metrics::gauge!(CIRCUIT_STATE, label::UPSTREAM => self.name.clone()).set(to.gauge());
        inner.state = to;
        match to {
            CircuitState::Open => inner.opened_at = now,
            CircuitState::HalfOpen => {
                inner.probes_in_flight = 0;
                inner.probe_successes = 0;
            }
            CircuitState::Closed => {
                inner.outcomes.clear();
                inner.failures = 0;
            }
        }
    }

    /// Opens to half-open once the cool-down has passed. The clock is read only while
    /// open: a closed circuit, the usual case, costs no clock read per request.
    fn advance(&self, inner: &mut Inner) {
        if inner.state != CircuitState::Open {
            return;
        }
        let now = Instant::now();
        if now.duration_since(inner.opened_at) >= self.config.open_for {
            self.transition(inner, CircuitState::HalfOpen, now);
        }
    }

    /// Asks to send a request: `None` while the circuit is open, or half-open with every
    /// probe slot taken.
    pub fn try_acquire(&self) -> Option<Admission> {
        let mut inner = self.lock();
        self.advance(&mut inner);
        match inner.state {
            CircuitState::Closed => Some(Admission { probe: false }),
            CircuitState::Open => None,
            CircuitState::HalfOpen => {
                if inner.probes_in_flight < self.config.half_open_probes {
                    inner.probes_in_flight += 1;
                    Some(Admission { probe: true })
                } else {
                    None
                }
            }
        }
    }

    /// Whether a request would be admitted now, without taking a probe slot.
    pub fn is_available(&self) -> bool {
        let mut inner = self.lock();
        self.advance(&mut inner);
        match inner.state {
            CircuitState::Closed => true,
            CircuitState::Open => false,
            CircuitState::HalfOpen => inner.probes_in_flight < self.config.half_open_probes,
        }
    }

    /// Whether `status` counts as a failure.
    pub fn is_failure_status(&self, status: u16) -> bool {
        self.config.failure_statuses.contains(&status)
    }

    /// Reports the outcome of an admitted request.
    pub fn record(&self, admission: Admission, success: bool) {
        let now = Instant::now();
        let mut inner = self.lock();
        if admission.probe {
            inner.probes_in_flight = inner.probes_in_flight.saturating_sub(1);
            if inner.state != CircuitState::HalfOpen {
                return;
            }
            if success {
                inner.probe_successes += 1;
                if inner.probe_successes >= self.config.half_open_probes {
                    self.transition(&mut inner, CircuitState::Closed, now);
                }
            } else {
                self.transition(&mut inner, CircuitState::Open, now);
            }
            return;
        }
        if inner.state != CircuitState::Closed {
            return;
        }
        inner.outcomes.push_back((now, success));
        if !success {
            inner.failures += 1;
        }
        while let Some(&(t, ok)) = inner.outcomes.front() {
            if now.duration_since(t) <= self.config.window {
                break;
            }
            inner.outcomes.pop_front();
            if !ok {
                inner.failures -= 1;
            }
        }
        let total = inner.outcomes.len() as u32;
        if total >= self.config.min_requests
            && f64::from(inner.failures) / f64::from(total) >= self.config.failure_rate
        {
            self.transition(&mut inner, CircuitState::Open, now);
        }
    }
}
