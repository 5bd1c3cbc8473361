//! The history store (`reactor_chat::storage::store::Store`, SQLite with FTS5) on disk: what the
//! storage thread pays per stored line, per backlog query and per `/search`. Every chat line is
//! stored, so `append` is the cost history adds to the relay; every login and `/join` asks for
//! the room's last lines; `/search` must stay fast on a big history, for a word in every line and
//! for one in a handful.
//!
//! Before the benchmarks it fills a room with `HISTORY_LINES` lines and prints the database's size
//! per line, with the full-text index and without it.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use reactor_chat::chat::event::{HistoryQuery, HistoryWhat};
use reactor_chat::chat::id::IdGen;
use reactor_chat::chat::Event;
use reactor_chat::storage::store::Store;

/// 2024-01-01T12:34:56Z, in milliseconds.
const T0: u64 = 1_704_112_496_000;
/// Lines in the room the queries run against (and the inserts add to).
const HISTORY_LINES: u64 = 1_000_000;

/// `n` chat lines of a busy room, 50 a second. Each has a word of its own (`msg{i}`, as a
/// bench stamp is), a word shared by a thousandth of the lines, one in a thirteenth, and two
/// words every line has.
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

fn search(words: &str) -> HistoryQuery {
    HistoryQuery {
        room: Arc::from("lobby"),
        what: HistoryWhat::Search {
            words: Arc::from(words),
            from: None,
            max: 20,
        },
    }
}

/// Bytes of the database per line (after a checkpoint), and the same without the full-text
/// index (a copy with it dropped and vacuumed).
fn size_per_line(dir: &std::path::Path, lines: u64) -> (f64, f64) {
    let file = dir.join("history.sqlite3");
    let conn = rusqlite::Connection::open(&file).expect("the database opens");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("a checkpoint");
    let with = std::fs::metadata(&file).expect("the file").len();
    let copy = dir.join("without-index.sqlite3");
    conn.execute("VACUUM INTO ?1", [copy.to_str().expect("a UTF-8 path")])
        .expect("a copy");
    let copy_conn = rusqlite::Connection::open(&copy).expect("the copy opens");
    let fts: Vec<String> = copy_conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%fts5%'")
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        })
        .expect("the index's tables");
    for table in fts {
        copy_conn
            .execute_batch(&format!("DROP TABLE \"{table}\""))
            .expect("the index drops");
    }
    copy_conn.execute_batch("VACUUM").expect("a vacuum");
    let without = std::fs::metadata(&copy).expect("the copy").len();
    (with as f64 / lines as f64, without as f64 / lines as f64)
}

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = Store::open(dir.path()).expect("the store opens");
    let mut ids = IdGen::new(7);
    let mut next = 0;
    while next < HISTORY_LINES {
        store.append(&lines(&mut ids, next, 20_000)).unwrap();
        next += 20_000;
    }
    let (with, without) = size_per_line(dir.path(), next);
    println!(
        "history/size: {next} lines, {with:.1} bytes a line with the search index, {without:.1} without"
    );

    let mut group = c.benchmark_group("history");
    group.sample_size(20);
    // Queries first, on exactly HISTORY_LINES lines (the appends below add millions more).
    group.throughput(Throughput::Elements(1));
    let backlog = HistoryQuery {
        room: Arc::from("lobby"),
        what: HistoryWhat::Backlog { n: 10 },
    };
    group.bench_function("backlog/10", |b| b.iter(|| store.query(&backlog).unwrap()));
    // A word in every line; one in about a hundredth (a prefix: topic42 also finds
    // topic420..topic429); one in about a hundred lines, all among the oldest (msg1234,
    // msg12340.., msg123400..); and two words together.
    for (name, words) in [
        ("common-word", "thing"),
        ("uncommon-word", "topic42"),
        ("rare-word", "msg1234"),
        ("2-words", "topic42 thing"),
    ] {
        let query = search(words);
        let found = store.query(&query).unwrap().events.len();
        assert!(found > 0, "{words} finds nothing");
        group.bench_function(format!("search/{name}"), |b| {
            b.iter(|| store.query(&query).unwrap())
        });
    }
    // One storage-thread commit: a batch of lines in one transaction (one fsync), indexed
    // before it commits (the whole cost; the storage thread defers indexing during a burst).
    // 100 is a quiet server's 200 ms; 4000 a busy one's; 20,000 the most one commit takes.
    for batch in [100u64, 4000, 20_000] {
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
    group.finish();
}

criterion_group!(benches, store);
criterion_main!(benches);
