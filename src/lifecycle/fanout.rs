//! The herd's queue: a [`WorkQueue`] drained by a fixed number of workers, so the work in flight is bounded whatever
//! the number of servers, each key queued or in flight at most once. The claim's lease keeper is in
//! [`super::lease`], the pacer in [`super::pacer`], the supervisor in [`super::supervise`].

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::error;

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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::*;

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
}
