//! Each interaction answered once, and a count of handlers in flight for a clean shutdown.
//!
//! After a RESUME, Discord replays the dispatches a session missed; an interaction that was already handled may
//! arrive again. This wrapper sits between serenity and poise and drops an interaction id it has already seen, so
//! neither commands nor buttons answer twice. It also counts the handlers running, so a shutdown can wait for
//! replies in flight, and it counts each interaction in the metrics with its time and outcome.

use std::cell::Cell;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serenity::all::{Client, Context, FullEvent, Interaction, InteractionId};
use serenity::async_trait;
use serenity::framework::Framework;
use tokio::sync::Notify;

/// How many recent interaction ids are remembered (replays come within seconds; this covers minutes at high load).
const REMEMBERED: usize = 16_384;

/// The ids seen most recently, bounded.
#[derive(Debug, Default)]
pub struct RecentIds {
    set: HashSet<InteractionId>,
    order: VecDeque<InteractionId>,
}

impl RecentIds {
    /// Records `id`; `false` when it was already there.
    pub fn first_time(&mut self, id: InteractionId) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.set.remove(&oldest);
            }
        }
        true
    }
}

/// Handlers running now; [`InFlight::wait_idle`] waits for none.
#[derive(Debug, Default)]
pub struct InFlight {
    running: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    /// Waits until no handler runs, at most `limit`; `false` if some still ran then.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.running.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    fn start(self: &Arc<Self>) -> Running {
        self.running.fetch_add(1, Ordering::SeqCst);
        Running(Arc::clone(self))
    }
}

/// One handler in flight; dropping it (even on panic) counts it out.
struct Running(Arc<InFlight>);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

tokio::task_local! {
    /// How the interaction handled on this task ended, as the error funnel saw it.
    static OUTCOME: Cell<&'static str>;
}

/// Notes how the interaction handled on this task ended (`error`, `denied`, `unknown`): the error funnel knows,
/// the wrapper counts. Outside an interaction's handling it does nothing.
pub fn set_outcome(outcome: &'static str) {
    let _ = OUTCOME.try_with(|cell| cell.set(outcome));
}

/// Wraps a serenity framework (poise's): drops replayed interactions, counts handlers in flight, and counts each
/// interaction in the metrics.
pub struct Deduplicating<F> {
    inner: F,
    seen: Mutex<RecentIds>,
    in_flight: Arc<InFlight>,
    events: Arc<super::health::EventClock>,
    commands: Vec<String>,
}

impl<F> Deduplicating<F> {
    /// Wraps `inner`; every event is noted in `events` (the health endpoint's last-event ages). `commands` are the
    /// registered commands' names: the only ones the metrics label with (any other is `unknown`).
    pub fn new(
        inner: F,
        events: Arc<super::health::EventClock>,
        commands: Vec<String>,
    ) -> Deduplicating<F> {
        Deduplicating {
            inner,
            seen: Mutex::new(RecentIds::default()),
            in_flight: Arc::new(InFlight::default()),
            events,
            commands,
        }
    }

    /// The metrics' `command` and `kind` labels of an interaction event; `None` for anything else.
    fn labels(&self, event: &FullEvent) -> Option<(String, &'static str)> {
        let known = |name: &str| {
            if self.commands.iter().any(|known| known == name) {
                name.to_owned()
            } else {
                "unknown".to_owned()
            }
        };
        let FullEvent::InteractionCreate { interaction } = event else {
            return None;
        };
        Some(match interaction {
            Interaction::Command(i) => (known(&i.data.name), "command"),
            Interaction::Autocomplete(i) => (known(&i.data.name), "autocomplete"),
            Interaction::Component(_) => ("component".to_owned(), "component"),
            Interaction::Modal(_) => ("modal".to_owned(), "modal"),
            _ => return None,
        })
    }

    /// The in-flight counter, for shutdown.
    pub fn in_flight(&self) -> Arc<InFlight> {
        Arc::clone(&self.in_flight)
    }
}

/// The id of an interaction event.
fn interaction_id(event: &FullEvent) -> Option<InteractionId> {
    match event {
        FullEvent::InteractionCreate { interaction } => Some(match interaction {
            Interaction::Ping(i) => i.id,
            Interaction::Command(i) | Interaction::Autocomplete(i) => i.id,
            Interaction::Component(i) => i.id,
            Interaction::Modal(i) => i.id,
            _ => return None,
        }),
        _ => None,
    }
}

#[async_trait]
impl<F: Framework> Framework for Deduplicating<F> {
    async fn init(&mut self, client: &Client) {
        self.inner.init(client).await;
    }

    async fn dispatch(&self, ctx: Context, event: FullEvent) {
        self.events.saw(ctx.shard_id.0);
        let interaction = interaction_id(&event);
        if let Some(id) = interaction {
            let first = match self.seen.lock() {
                Ok(mut seen) => seen.first_time(id),
                Err(poisoned) => poisoned.into_inner().first_time(id),
            };
            if !first {
                tracing::info!(interaction = %id, "dropping an interaction seen before (replayed after a resume)");
                return;
            }
            tracing::debug!(interaction = %id, "interaction received");
        }
        let _running = self.in_flight.start();
        let Some((command, kind)) = self.labels(&event) else {
            self.inner.dispatch(ctx, event).await;
            return;
        };
        let started = Instant::now();
        if let Some(id) = interaction {
            crate::telemetry::interaction_age(kind, id.get(), crate::telemetry::wall_clock_ms());
        }
        let handled = async {
            self.inner.dispatch(ctx, event).await;
            OUTCOME.with(Cell::get)
        };
        let outcome = OUTCOME.scope(Cell::new("ok"), handled).await;
        crate::telemetry::interaction(command, kind, outcome, started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_new_once_and_memory_stays_bounded() {
        let mut recent = RecentIds::default();
        assert!(recent.first_time(InteractionId::new(1)));
        assert!(!recent.first_time(InteractionId::new(1)));
        for id in 2..(REMEMBERED as u64 + 10) {
            assert!(recent.first_time(InteractionId::new(id)));
        }
        assert!(recent.set.len() <= REMEMBERED);
        assert!(
            recent.first_time(InteractionId::new(1)),
            "the oldest ids are forgotten"
        );
    }

    #[tokio::test]
    async fn shutdown_waits_for_handlers_in_flight() {
        let in_flight = Arc::new(InFlight::default());
        assert!(in_flight.wait_idle(Duration::from_millis(10)).await);
        let running = in_flight.start();
        assert!(!in_flight.wait_idle(Duration::from_millis(20)).await);
        let waiter = {
            let in_flight = Arc::clone(&in_flight);
            tokio::spawn(async move { in_flight.wait_idle(Duration::from_secs(5)).await })
        };
        drop(running);
        assert!(matches!(waiter.await, Ok(true)));
    }
}
