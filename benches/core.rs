//! Benchmarks of the pure core: catalog load and validation, search, autocomplete, rendering a card to JSON.
//!
//! Run: `cargo bench --bench core`. Budgets (BENCHMARKS.md): autocomplete ≤ 20 µs per query; load and validate
//! ≤ 1 ms.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use scenebot::catalog::{Catalog, BUNDLED_JSON};
use scenebot::locale::Locale;
use scenebot::render;
use scenebot::respond::Responder;

/// What fans type, from a finished title to a typo to nonsense; each bench runs the whole list.
const QUERIES: &[&str] = &[
    "",
    "s",
    "secretary kim",
    "secretery kim",
    "hwarng",
    "ㄱㅂㅅ",
    "김비서",
    "kill me heal me",
    "park min-young",
    "fight my way",
    "zzzz",
    "pizza",
    "witchs romanse",
    "she was",
    "고동만",
    "qwertyuiop",
];

fn catalog_load(c: &mut Criterion) {
    c.bench_function("catalog: parse and validate the bundled dataset", |b| {
        b.iter(|| Catalog::from_json("bench", black_box(BUNDLED_JSON)))
    });
    let Ok(catalog) = Catalog::bundled() else {
        panic!("the bundled dataset is invalid");
    };
    c.bench_function("catalog: build the search index", |b| {
        b.iter(|| scenebot::search::SearchIndex::new(black_box(&catalog)))
    });
}

fn search(c: &mut Criterion) {
    let Ok(catalog) = Catalog::bundled() else {
        panic!("the bundled dataset is invalid");
    };
    let responder = Responder::new(catalog);
    let mut group = c.benchmark_group("per query (mean over 16 queries)");
    group.throughput(criterion::Throughput::Elements(QUERIES.len() as u64));
    group.bench_function("search", |b| {
        b.iter(|| {
            for query in QUERIES {
                black_box(responder.index.search(black_box(query)));
            }
        })
    });
    group.bench_function("autocomplete (search + 25 choices, serialized)", |b| {
        b.iter(|| {
            for query in QUERIES {
                let response = responder.autocomplete(black_box(query), Locale::En);
                black_box(serde_json::to_vec(&response).unwrap_or_default());
            }
        })
    });
    group.finish();
    for query in ["hwarng", "zzzz", "ㄱㅂㅅ"] {
        c.bench_function(&format!("search {query:?}"), |b| {
            b.iter(|| responder.index.search(black_box(query)))
        });
    }
}

fn rendering(c: &mut Criterion) {
    let Ok(catalog) = Catalog::bundled() else {
        panic!("the bundled dataset is invalid");
    };
    let scene = &catalog.scenes[4];
    c.bench_function("render a scene card to JSON", |b| {
        b.iter(|| {
            let message = render::scene_card(&catalog, black_box(scene), Locale::Ko)
                .into_interaction_message();
            serde_json::to_vec(&message).unwrap_or_default()
        })
    });
}

criterion_group!(benches, catalog_load, search, rendering);
criterion_main!(benches);
