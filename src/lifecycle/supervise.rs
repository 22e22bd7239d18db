//! Background jobs that come back: [`supervise`] starts a job again after a panic, and [`JobHealth`] says which are
//! down right now, so `/health` answers 503 instead of a green check over a dead scheduler.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tracing::error;

/// Which supervised background jobs are down right now and how often they were started again, in this process:
/// `/health` answers 503 while any is down, so an orchestrator sees a scheduler that died instead of a green check.
#[derive(Debug, Default)]
pub struct JobHealth {
    state: Mutex<JobState>,
}

#[derive(Debug, Default)]
struct JobState {
    down: std::collections::BTreeSet<&'static str>,
    restarts: u64,
}

impl JobHealth {
    fn state(&self) -> MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that `job` stopped on a panic; returns how many restarts this process has counted, this one included.
    fn stopped(&self, job: &'static str) -> u64 {
        let mut state = self.state();
        state.down.insert(job);
        state.restarts += 1;
        state.restarts
    }

    /// Records that `job` runs (again).
    fn running(&self, job: &'static str) {
        self.state().down.remove(job);
    }

    /// The jobs down right now, by name.
    pub fn down(&self) -> Vec<&'static str> {
        self.state().down.iter().copied().collect()
    }

    /// How many times a job was started again after a panic (or an unasked end).
    pub fn restarts(&self) -> u64 {
        self.state().restarts
    }
}

/// Runs a background job for the process's life: when it panics, or returns while nobody asked it to stop, it is
/// logged, counted and reported down in `health`, and started again after a back-off (1 s, doubling to a minute), so
/// one bug cannot silently stop every server's posts. Returns once `stopping` turns true.
pub async fn supervise<F, Fut>(
    name: &'static str,
    health: Arc<JobHealth>,
    mut stopping: watch::Receiver<bool>,
    mut start: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = Duration::from_secs(1);
    loop {
        let job = tokio::spawn(start());
        health.running(name);
        match job.await {
            Ok(()) if *stopping.borrow() => return,
            // A job ends by itself only when it cannot go on (an unreadable clock): as down as a panicked one.
            Ok(()) => {
                let restarts = health.stopped(name);
                error!(
                    job = name,
                    restarts,
                    "the {name} ended without being asked to; starting it again in {backoff:?}"
                );
            }
            Err(failed) => {
                let restarts = health.stopped(name);
                error!(
                    job = name,
                    restarts, "the {name} stopped ({failed}); starting it again in {backoff:?}"
                );
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_job_is_reported_down_until_it_runs_again() {
        let health = Arc::new(JobHealth::default());
        let (stop, stopping) = watch::channel(false);
        let starts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (ran_again, mut second_start) = watch::channel(false);
        let supervisor = tokio::spawn(supervise("test job", Arc::clone(&health), stopping, {
            let starts = Arc::clone(&starts);
            move || {
                let n = starts.fetch_add(1, Ordering::SeqCst);
                let ran_again = ran_again.clone();
                async move {
                    if n == 0 {
                        panic!("the first run fails");
                    }
                    let _ = ran_again.send(true);
                    std::future::pending::<()>().await;
                }
            }
        }));
        // The first run panics: down, one restart counted, while the back-off runs.
        for _ in 0..100 {
            if !health.down().is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(health.down(), vec!["test job"]);
        assert_eq!(health.restarts(), 1);
        // After the back-off it runs again and is no longer down.
        tokio::time::timeout(Duration::from_secs(5), second_start.wait_for(|ran| *ran))
            .await
            .unwrap_or_else(|_| panic!("not started again"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(health.down().is_empty());
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        let _ = stop.send(true);
        supervisor.abort();
    }
}
