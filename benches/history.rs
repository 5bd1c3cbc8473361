//! The history store (`reactor_chat::storage::store::Store`, SQLite with FTS5) on disk: what the
//! storage thread pays per stored line and per backlog query. Every login and `/join` asks for
//! the room's last lines, so a login storm is that many backlog queries; every chat line is one
//! row and one full-text index entry.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use reactor_chat::chat::event::{HistoryQuery, HistoryWhat};
use reactor_chat::chat::id::IdGen;
use reactor_chat::chat::Event;
use reactor_chat::storage::store::Store;

/// 2024-01-01T12:34:56Z, in milliseconds.
const T0: u64 = 1_704_112_496_000;

/// `n` chat lines of a busy room, 50 a second, with varied words for the full-text index.
fn lines(ids: &mut IdGen, first: u64, n: u64) -> Vec<Event> {
    (first..first + n)
        .map(|i| {
            let at = T0 + i * 20;
            Event::Message {
                id: ids.next(at),
                at,
                room: Arc::from("lobby"),
                from: Arc::from(format!("sender{}", i % 100)),
                text: Arc::from(format!(
                    "msg{i} about topic{} and the {} thing",
                    i % 977,
                    i % 13
                )),
            }
        })
        .collect()
}

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = Store::open(dir.path()).expect("the store opens");
    let mut ids = IdGen::new(7);
    let mut next = 0;
    // A room with history already: inserts and queries run against 100,000 rows.
    for _ in 0..25 {
        store.append(&lines(&mut ids, next, 4000)).unwrap();
        next += 4000;
    }

    let mut group = c.benchmark_group("history");
    group.sample_size(20);
    // One storage-thread commit: a batch of lines in one transaction (one fsync).
    for batch in [100u64, 4000] {
        group.throughput(Throughput::Elements(batch));
        group.bench_function(format!("append/{batch}"), |b| {
            b.iter_batched(
                || {
                    let events = lines(&mut ids, next, batch);
                    next += batch;
                    events
                },
                |events| store.append(&events).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    group.throughput(Throughput::Elements(1));
    let backlog = HistoryQuery {
        room: Arc::from("lobby"),
        what: HistoryWhat::Backlog { n: 10 },
    };
    group.bench_function("backlog/10", |b| b.iter(|| store.query(&backlog).unwrap()));
    let search = HistoryQuery {
        room: Arc::from("lobby"),
        what: HistoryWhat::Search {
            words: Arc::from("topic42 thing"),
            from: None,
            max: 20,
        },
    };
    group.bench_function("search/2-words", |b| {
        b.iter(|| store.query(&search).unwrap())
    });
    group.finish();
}

criterion_group!(benches, store);
criterion_main!(benches);
