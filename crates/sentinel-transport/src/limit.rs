//! A concurrency limit with priorities: requests past the limit wait in a bounded queue,
//! higher priorities first, for at most a queue timeout.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::TransportError;

/// A request's priority; higher ones are admitted first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Batch work.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Interactive users.
    High,
    /// Health checks, operators.
    Critical,
}

impl Priority {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

/// Limits of a [`PriorityLimiter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitConfig {
    /// Requests running at once.
    pub max_concurrent: usize,
    /// Requests waiting at once (all priorities).
    pub max_queued: usize,
    /// The longest wait in the queue.
    pub queue_timeout: Duration,
}

impl Default for LimitConfig {
    /// 256 running, 1024 waiting, 5 s.
    fn default() -> LimitConfig {
        LimitConfig {
            max_concurrent: 256,
            max_queued: 1024,
            queue_timeout: Duration::from_secs(5),
        }
    }
}

struct State {
    /// The limits in force (a reconfiguration changes them under the lock).
    config: LimitConfig,
    running: usize,
    /// Waiters per priority (index = priority as usize).
    queues: [VecDeque<oneshot::Sender<()>>; 4],
}

impl State {
    fn queued(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }
}

/// Admits requests up to a limit, queueing the rest by priority. The limits can change
/// while it admits ([`PriorityLimiter::reconfigure`]).
pub struct PriorityLimiter {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for PriorityLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("PriorityLimiter")
            .field("config", &s.config)
            .field("running", &s.running)
            .field("queued", &s.queued())
            .finish()
    }
}

/// A running request's slot; freed (and handed to the next waiter) on drop.
pub struct Permit {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Permit")
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Hands a freed slot to the highest-priority live waiter, or returns it; a slot above
/// a lowered limit is returned.
fn release(state: &Mutex<State>) {
    let mut s = lock(state);
    if s.running <= s.config.max_concurrent && s.hand_on() {
        return;
    }
    s.running = s.running.saturating_sub(1);
}

impl State {
    /// Passes a running slot to the highest-priority waiter still waiting; false when
    /// none is.
    fn hand_on(&mut self) -> bool {
        for q in self.queues.iter_mut().rev() {
            while let Some(tx) = q.pop_front() {
                // A waiter that gave up has dropped its receiver; try the next.
                if tx.send(()).is_ok() {
                    return true;
                }
            }
        }
        false
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        release(&self.state);
    }
}

impl PriorityLimiter {
    /// A limiter with `config`.
    pub fn new(config: LimitConfig) -> PriorityLimiter {
        PriorityLimiter {
            state: Arc::new(Mutex::new(State {
                config,
                running: 0,
                queues: Default::default(),
            })),
        }
    }

    /// Requests running now.
    pub fn running(&self) -> usize {
        lock(&self.state).running
    }

    /// Requests waiting now.
    pub fn queued(&self) -> usize {
        lock(&self.state).queued()
    }

    /// The limits in force.
    pub fn config(&self) -> LimitConfig {
        lock(&self.state).config
    }

    /// Changes the limits while requests run and wait. A raised `max_concurrent` admits
    /// waiters at once, highest priority first; a lowered one lets running requests
    /// finish and admits no one until fewer than the new limit run. `max_queued` applies
    /// to new arrivals (those already waiting keep their place), `queue_timeout` to waits
    /// that start from now on.
    pub fn reconfigure(&self, config: LimitConfig) {
        let mut s = lock(&self.state);
        s.config = config;
        while s.running < s.config.max_concurrent && s.hand_on() {
            s.running += 1;
        }
    }

    /// Waits for a slot.
    ///
    /// # Errors
    ///
    /// [`TransportError::Overloaded`] when the queue is full or the wait times out, with
    /// the queue timeout as the suggested wait.
    pub async fn acquire(&self, priority: Priority) -> Result<Permit, TransportError> {
        let (rx, queue_timeout) = {
            let mut s = lock(&self.state);
            let queue_timeout = s.config.queue_timeout;
            if s.running < s.config.max_concurrent {
                s.running += 1;
                return Ok(Permit {
                    state: Arc::clone(&self.state),
                });
            }
            if s.queued() >= s.config.max_queued {
                drop(s);
                return Err(overloaded(priority, queue_timeout));
            }
            let (tx, rx) = oneshot::channel();
            s.queues[priority as usize].push_back(tx);
            (rx, queue_timeout)
        };
        let mut rx = rx;
        let granted = match tokio::time::timeout(queue_timeout, &mut rx).await {
            Ok(r) => r.is_ok(),
            Err(_) => {
                // A slot may have been passed on just as the wait ended: closing first
                // makes that race visible, so the slot is used (or freed), never lost.
                rx.close();
                rx.try_recv().is_ok()
            }
        };
        if granted {
            // The releaser passed its slot on: `running` was not decremented.
            Ok(Permit {
                state: Arc::clone(&self.state),
            })
        } else {
            Err(overloaded(priority, queue_timeout))
        }
    }
}

/// A refusal, counted, suggesting the queue timeout as the wait.
fn overloaded(priority: Priority, queue_timeout: Duration) -> TransportError {
    use sentinel_metrics::names::{label, OVERLOADED_TOTAL};
    metrics::counter!(OVERLOADED_TOTAL, label::PRIORITY => priority.as_str()).increment(1);
    TransportError::Overloaded {
        retry_after: queue_timeout,
    }
}
