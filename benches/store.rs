//! The store's cost per call on each backend: a poll claim and release, a day's claim, and a claim through
//! `Store::call` (tokio's blocking pool), as the schedulers make them.
//!
//! Run: `cargo bench --bench store`. PostgreSQL is measured when `SCENEBOT_BENCH_POSTGRES` holds a URL of an empty
//! database (BENCHMARKS.md says how the figures were made); otherwise only SQLite is.

use std::path::Path;

use chrono::NaiveTime;
use criterion::{criterion_group, criterion_main, Criterion};
use scenebot::locale::Locale;
use scenebot::store::{DailySettings, NewPoll, Store};

fn backends() -> Vec<(&'static str, Store)> {
    let dir = std::env::temp_dir().join(format!("scenebot-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    let mut stores = vec![(
        "sqlite",
        Store::open(&dir.join("bench.sqlite3")).unwrap_or_else(|e| panic!("{e}")),
    )];
    if let Ok(url) = std::env::var("SCENEBOT_BENCH_POSTGRES") {
        stores.push((
            "postgres",
            Store::open(Path::new(&url)).unwrap_or_else(|e| panic!("{e}")),
        ));
    }
    stores
}

fn claims(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    for (name, store) in backends() {
        let poll = NewPoll {
            thread: false,
            guild_id: 1,
            channel_id: 2,
            started_by: 3,
            locale: Locale::En,
            scene_ids: vec!["a".into()],
            hours: 1,
            now: 0,
        };
        let id = match store.insert_poll(&poll) {
            Ok(Ok(record)) | Ok(Err(record)) => record.id,
            Err(error) => panic!("{error}"),
        };
        let settings = DailySettings {
            thread: false,
            guild_id: 1,
            channel_id: 2,
            time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            timezone: chrono_tz::UTC,
            role_id: None,
            locale: Locale::En,
        };
        store
            .set_daily(&settings, 0)
            .unwrap_or_else(|e| panic!("{e}"));
        c.bench_function(&format!("{name}: claim and release a poll"), |b| {
            b.iter(|| {
                let _ = store.claim_poll(id, 1_000);
                let _ = store.release_poll(id);
            })
        });
        let mut day = 0u32;
        c.bench_function(
            &format!("{name}: claim a new day's post (draw from the bag)"),
            |b| {
                b.iter(|| {
                    day += 1;
                    let date = chrono::NaiveDate::MIN + chrono::Days::new(u64::from(day));
                    let _ = store.claim_daily(1, date, 1_000, |_| Some("a".into()));
                })
            },
        );
        c.bench_function(&format!("{name}: claim a poll through Store::call"), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let _ = store.call(move |s| s.claim_poll(id, 1_000)).await;
                })
            })
        });
    }
}

criterion_group!(benches, claims);
criterion_main!(benches);
