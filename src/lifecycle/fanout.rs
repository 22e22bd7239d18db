//! What both background processes share to do a herd of work at once, safely: a [`WorkQueue`] drained by a fixed
//! number of workers (so the work in flight is bounded whatever the number of servers), a [`LeaseKeeper`] that
//! renews a claim while its work runs (so a slow send never lets another process take the claim over and send a
//! second copy), and the [`Pacer`] that spaces the bot's requests under Discord's global rate limit.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{error, warn};

use crate::store::{Store, StoreError};

/// Work waiting for a worker, each item under a key that is queued or in flight at most once: a scheduler can
/// push what is due on every pass without doubling anything still being done.
pub struct WorkQueue<K, T> {
    /// The process its items belong to, for the metrics (`daily post`, `poll`).
    process: &'static str,
    state: Mutex<QueueState<K, T>>,
    ready: Notify,
}

struct QueueState<K, T> {
    queued: VecDeque<(K, T)>,
    /// Keys queued or in flight.
    busy: HashSet<K>,
}

impl<K: Hash + Eq + Clone, T> WorkQueue<K, T> {
    /// An empty queue of `process`'s work; its length and its items in flight are counted under that name.
    pub fn new(process: &'static str) -> Self {
        WorkQueue {
            process,
            state: Mutex::new(QueueState {
                queued: VecDeque::new(),
                busy: HashSet::new(),
            }),
            ready: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, QueueState<K, T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `item` unless `key` is already queued or in flight; whether it was queued.
    pub fn push(&self, key: K, item: T) -> bool {
        let queued = {
            let mut state = self.state();
            if state.busy.insert(key.clone()) {
                state.queued.push_back((key, item));
                crate::telemetry::jobs_queued(self.process, state.queued.len());
                true
            } else {
                false
            }
        };
        if queued {
            self.ready.notify_one();
        }
        queued
    }

    /// Whether `key` is queued or in flight.
    pub fn is_busy(&self, key: &K) -> bool {
        self.state().busy.contains(key)
    }

    /// (queued, in flight): for health and logs.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.state();
        (state.queued.len(), state.busy.len() - state.queued.len())
    }

    fn take(&self) -> Option<(K, T)> {
        let (item, more) = {
            let mut state = self.state();
            let item = state.queued.pop_front();
            if item.is_some() {
                crate::telemetry::jobs_queued(self.process, state.queued.len());
            }
            (item, !state.queued.is_empty())
        };
        if more {
            // Pass the wake-up on, so every idle worker gets work.
            self.ready.notify_one();
        }
        item
    }

    fn done(&self, key: &K) {
        self.state().busy.remove(key);
    }
}

/// Starts `workers` tasks that take items from `queue` and run `work` on each, one item per worker at a time,
/// until `stopping` turns true (an item in progress is finished first). A panicking item is logged and its key
/// freed; the worker goes on. Items in progress are counted in the metrics under the queue's process.
pub fn spawn_workers<K, T, F, Fut>(
    queue: Arc<WorkQueue<K, T>>,
    workers: usize,
    stopping: watch::Receiver<bool>,
    work: F,
) -> Vec<JoinHandle<()>>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    (0..workers.max(1))
        .map(|_| {
            let (queue, work, mut stopping) = (Arc::clone(&queue), work.clone(), stopping.clone());
            let name = queue.process;
            tokio::spawn(async move {
                loop {
                    if *stopping.borrow() {
                        return;
                    }
                    let Some((key, item)) = queue.take() else {
                        tokio::select! {
                            () = queue.ready.notified() => {}
                            _ = stopping.changed() => {}
                        }
                        continue;
                    };
                    let in_flight = crate::telemetry::InFlight::start(name);
                    if let Err(failed) = tokio::spawn(work(item)).await {
                        error!("a {name} job failed: {failed}");
                    }
                    drop(in_flight);
                    queue.done(&key);
                }
            })
        })
        .collect()
}

/// Ends a process's workers when its scheduling loop has ended: at shutdown each finishes what it holds; when the
/// loop ended by itself (it cannot go on; the supervisor restarts the whole process) they are aborted, since they
/// would otherwise wait for work forever and the process would never be seen down. Work already taken runs on in its
/// own task either way.
pub async fn end_workers(handles: Vec<JoinHandle<()>>, stopping: &watch::Receiver<bool>) {
    if *stopping.borrow() {
        for handle in handles {
            let _ = handle.await;
        }
    } else {
        for handle in &handles {
            handle.abort();
        }
    }
}

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

/// Spaces the bot's own requests (posts, reads, poll expiries: not interaction replies, which Discord does not
/// count) at most `rate` a second, all of the bot's processes together: each request takes the next free slot of one
/// schedule kept in the store ([`Store::reserve_slots`]: in PostgreSQL on the database's clock, shared by every
/// process; in SQLite in this process, the only one), so the bot stays under Discord's global limit before Discord
/// has to say so. A 429 pushes the whole schedule back by Discord's wait, for every job at once. When the store
/// cannot be reached the pacer keeps its own schedule at the same rate (no work is claimed meanwhile anyway).
pub struct Pacer {
    interval: Duration,
    shared: Option<Store>,
    /// The next free slot of the fallback schedule.
    next_free: Mutex<Instant>,
}

/// The longest the background work pauses for one 429: as long as a Cloudflare ban lasts at first. A longer wait
/// asked for is waited in steps (the next request after the pause meets the limit again, if it still holds).
pub const LONGEST_PAUSE: Duration = Duration::from_secs(10 * 60);

impl Pacer {
    /// A pacer for `rate` requests a second (at least one) in this process alone.
    pub fn new(rate: u32) -> Pacer {
        Pacer {
            interval: Duration::from_secs(1) / rate.max(1),
            shared: None,
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// A pacer for `rate` requests a second shared through `store` by every process that uses it.
    pub fn shared(rate: u32, store: Store) -> Pacer {
        Pacer {
            shared: Some(store),
            ..Pacer::new(rate)
        }
    }

    /// The time between two requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reserves `count` slots: how long until the first.
    async fn reserve(&self, count: u32) -> Duration {
        if let Some(store) = &self.shared {
            let interval = self.interval;
            match store
                .call(move |store| store.reserve_slots(count, interval))
                .await
            {
                Ok(wait) => return wait,
                Err(error) => warn!(
                    "cannot reserve a send slot in the store; pacing this process alone: {error}"
                ),
            }
        }
        let mut next_free = self
            .next_free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let at = (*next_free).max(now);
        *next_free = at + self.interval * count;
        at - now
    }

    /// Takes the next free slot, and waits for it.
    pub async fn wait(&self) {
        let wait = self.reserve(1).await;
        tokio::time::sleep(wait).await;
    }

    /// Discord said to wait `wait` (a 429): no slot before then, for any job of any process; at most
    /// [`LONGEST_PAUSE`], so a global 429 asking for hours (or a day) does not stop every server's posts that long.
    pub async fn pause(&self, wait: Duration) {
        if wait > LONGEST_PAUSE {
            warn!(
                asked_seconds = wait.as_secs(),
                "Discord asked the bot to wait {} s; background work pauses {} s at most, then tries again",
                wait.as_secs(),
                LONGEST_PAUSE.as_secs()
            );
        }
        let wait = wait.min(LONGEST_PAUSE);
        let slots = u32::try_from((wait.as_micros() / self.interval.as_micros().max(1)).max(1))
            .unwrap_or(u32::MAX);
        let first = self.reserve(slots).await;
        crate::telemetry::background_paused_for(first + self.interval * slots);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_global_429_asking_for_a_day_pauses_background_work_ten_minutes_at_most() {
        let pacer = Pacer::new(45);
        pacer.pause(Duration::from_secs(24 * 3_600)).await;
        // The next request's slot comes after the pause: ten minutes away, not a day.
        let next = pacer.reserve(1).await;
        assert!(next <= LONGEST_PAUSE + pacer.interval(), "{next:?}");
        assert!(
            next + Duration::from_secs(1) >= LONGEST_PAUSE,
            "the pause still holds: {next:?}"
        );
        // A short 429 is kept as asked.
        let pacer = Pacer::new(45);
        pacer.pause(Duration::from_secs(2)).await;
        let next = pacer.reserve(1).await;
        assert!(
            next > Duration::from_millis(1_900) && next <= Duration::from_secs(3),
            "{next:?}"
        );
    }

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

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_requests_and_a_429_pauses_everyone() {
        let pacer = Pacer::new(50);
        let started = Instant::now();
        for _ in 0..10 {
            pacer.wait().await;
        }
        // Ten slots 20 ms apart: the tenth starts 180 ms after the first.
        assert_eq!(started.elapsed(), Duration::from_millis(180));
        pacer.pause(Duration::from_secs(2)).await;
        let paused = Instant::now();
        pacer.wait().await;
        // Two seconds of slots from the next free one (20 ms ahead), then this request's.
        assert_eq!(paused.elapsed(), Duration::from_millis(2_020));
    }

    #[test]
    fn the_queue_length_is_a_gauge_by_process() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let queue: WorkQueue<u32, u32> = WorkQueue::new("daily post");
        let series = r#"scenebot_jobs_queued{process="daily post"}"#;
        let value = |text: String| {
            text.lines()
                .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
        };
        metrics::with_local_recorder(&recorder, || {
            for key in 0..3 {
                queue.push(key, key);
            }
            queue.push(1, 1);
        });
        assert_eq!(value(handle.render()), Some(3.0), "{}", handle.render());
        metrics::with_local_recorder(&recorder, || queue.take());
        assert_eq!(value(handle.render()), Some(2.0), "{}", handle.render());
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_runs_each_key_once_with_bounded_workers() {
        let queue: Arc<WorkQueue<u32, u32>> = Arc::new(WorkQueue::new("test"));
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for key in 0..20 {
            assert!(queue.push(key, key));
        }
        assert!(!queue.push(3, 3), "already queued");
        let (_stop, stopping) = watch::channel(false);
        let work = {
            let (running, most, done) =
                (Arc::clone(&running), Arc::clone(&most), Arc::clone(&done));
            move |_item: u32| {
                let (running, most, done) =
                    (Arc::clone(&running), Arc::clone(&most), Arc::clone(&done));
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
        };
        let _workers = spawn_workers(Arc::clone(&queue), 4, stopping, work);
        for _ in 0..100 {
            if done.load(Ordering::SeqCst) == 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(done.load(Ordering::SeqCst), 20);
        assert_eq!(
            most.load(Ordering::SeqCst),
            4,
            "never more than four at once"
        );
        assert_eq!(queue.counts(), (0, 0));
        assert!(queue.push(3, 3), "a finished key can come again");
    }

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
