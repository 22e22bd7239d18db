//! Keeping a claim: a [`LeaseKeeper`] renews a claim while its work runs, so a slow send never lets another process
//! take the claim over and send a second copy, and says when the claim is lost so this process stops first.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::warn;

use crate::store::StoreError;

/// Keeps a claim alive while its work is in progress: renews it every third of the lease in the background, and
/// says whether the claim is still ours before each step that talks to Discord. A claim is lost when a renewal
/// finds another owner, or when renewals have failed (the database unreachable) for so long that the lease may
/// have run out: another process may be sending then, so this one must not.
pub struct LeaseKeeper {
    lost: Arc<AtomicBool>,
    last_renewed: Arc<Mutex<Instant>>,
    lease: Duration,
    period: Duration,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    /// Starts renewing a claim just taken, with `renew` (true: still ours, renewed).
    pub fn start<R, Fut>(lease: Duration, renew: R) -> LeaseKeeper
    where
        R: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<bool, StoreError>> + Send,
    {
        let period = (lease / 3).max(Duration::from_millis(100));
        let lost = Arc::new(AtomicBool::new(false));
        let last_renewed = Arc::new(Mutex::new(Instant::now()));
        let task = {
            let (lost, last_renewed) = (Arc::clone(&lost), Arc::clone(&last_renewed));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(period).await;
                    let asked = Instant::now();
                    match renew().await {
                        Ok(true) => {
                            *last_renewed.lock().unwrap_or_else(PoisonError::into_inner) = asked;
                        }
                        Ok(false) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(error) => warn!(
                            "cannot renew a claim (it holds until its lease runs out): {error}"
                        ),
                    }
                }
            })
        };
        LeaseKeeper {
            lost,
            last_renewed,
            lease,
            period,
            task,
        }
    }

    /// Whether the claim is still ours: no renewal found another owner, and the last good renewal is recent enough
    /// that the lease has not run out (with one renewal period to spare for the step about to start).
    pub fn holds(&self) -> bool {
        let since = self
            .last_renewed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed();
        !self.lost.load(Ordering::SeqCst) && since + self.period < self.lease
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_keeper_renews_and_reports_a_lost_claim() {
        let renewals = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&renewals);
        let keeper = LeaseKeeper::start(Duration::from_secs(3), move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok(n < 2) }
        });
        assert!(keeper.holds());
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert!(keeper.holds(), "renewed twice, still ours");
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert!(!keeper.holds(), "the third renewal found another owner");
        assert_eq!(renewals.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_keeper_that_cannot_renew_gives_the_claim_up_before_the_lease_runs_out() {
        let keeper = LeaseKeeper::start(Duration::from_secs(3), || async {
            Err(StoreError::Task("the database does not answer".to_owned()))
        });
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert!(keeper.holds());
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(
            !keeper.holds(),
            "2.1 s without a renewal: a 3 s lease may run out during the next step"
        );
    }
}
