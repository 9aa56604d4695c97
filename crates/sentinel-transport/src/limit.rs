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
    running: usize,
    /// Waiters per priority (index = priority as usize).
    queues: [VecDeque<oneshot::Sender<()>>; 4],
}

impl State {
    fn queued(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }
}

/// Admits requests up to a limit, queueing the rest by priority.
pub struct PriorityLimiter {
    config: LimitConfig,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for PriorityLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("PriorityLimiter")
            .field("config", &self.config)
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

/// Hands a freed slot to the highest-priority live waiter, or returns it.
fn release(state: &Mutex<State>) {
    let mut s = lock(state);
    for q in s.queues.iter_mut().rev() {
        while let Some(tx) = q.pop_front() {
            // A waiter that gave up has dropped its receiver; try the next.
            if tx.send(()).is_ok() {
                return;
            }
        }
    }
    s.running = s.running.saturating_sub(1);
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
            config,
            state: Arc::new(Mutex::new(State {
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

    /// Waits for a slot.
    ///
    /// # Errors
    ///
    /// [`TransportError::Overloaded`] when the queue is full or the wait times out, with
    /// the queue timeout as the suggested wait.
    pub async fn acquire(&self, priority: Priority) -> Result<Permit, TransportError> {
        let rx = {
            let mut s = lock(&self.state);
            if s.running < self.config.max_concurrent {
                s.running += 1;
                return Ok(Permit {
                    state: Arc::clone(&self.state),
                });
            }
            if s.queued() >= self.config.max_queued {
                drop(s);
                return Err(self.overloaded(priority));
            }
            let (tx, rx) = oneshot::channel();
            s.queues[priority as usize].push_back(tx);
            rx
        };
        let mut rx = rx;
        let granted = match tokio::time::timeout(self.config.queue_timeout, &mut rx).await {
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
            Err(self.overloaded(priority))
        }
    }

    fn overloaded(&self, priority: Priority) -> TransportError {
        use sentinel_metrics::names::{label, OVERLOADED_TOTAL};
        metrics::counter!(OVERLOADED_TOTAL, label::PRIORITY => priority.as_str()).increment(1);
        TransportError::Overloaded {
            retry_after: self.config.queue_timeout,
        }
    }
}
