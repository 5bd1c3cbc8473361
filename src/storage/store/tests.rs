//! Unit tests of the history store: an in-memory database or a temporary directory, no threads.

use super::*;
use crate::chat::event::{Departure, LostReason};
use std::path::Path;

const T0: u64 = 1_704_112_496_000; // 2024-01-01 12:34:56 UTC

fn ids() -> impl FnMut(u64) -> MsgId {
    let mut gen = crate::chat::id::IdGen::new(7);
    move |at| gen.next(at)
}

fn msg(id: MsgId, at: u64, room: &str, from: &str, text: &str) -> Event {
    Event::Message {
        id,
        at,
        room: Arc::from(room),
        from: Arc::from(from),
        text: Arc::from(text),
    }
}

fn query(room: &str, what: HistoryWhat) -> HistoryQuery {
    HistoryQuery {
        room: Arc::from(room),
        what,
    }
}

fn texts(lines: &HistoryLines) -> Vec<String> {
    lines
        .events
        .iter()
        .map(|e| match e {
            Event::Message { text, .. } | Event::Action { text, .. } => text.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_new_directory_gets_the_current_schema_in_wal_mode_and_keeps_lines_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("data");
    let mut next = ids();
    {
        let mut store = Store::open(&data).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
        store
            .append(&[msg(next(T0), T0, "lobby", "alice", "hello")])
            .unwrap();
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    let mut store = Store::open(&data).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as u32);
    let lines = store
        .query(&query("LOBBY", HistoryWhat::Last { n: 20 }))
        .unwrap();
    assert_eq!(texts(&lines), ["hello"]);
}

#[test]
fn a_database_from_a_newer_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

#[test]
fn sql_and_unicode_in_text_names_and_rooms_are_stored_verbatim() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let nasty = [
        "it's \"quoted\"; DROP TABLE lines; --",
        "'); DELETE FROM lines; --",
        "안녕하세요, 여러분! 오늘 회의는 3시입니다.",
        "back\\slash %_ wild* cards NULL 0x00? 🙂",
    ];
    let mut events = Vec::new();
    for (i, text) in nasty.iter().enumerate() {
        let id = next(T0 + i as u64);
        events.push(msg(id, T0 + i as u64, "방-1", "김철수", text));
    }
    let kick = Event::Left {
        id: next(T0 + 10),
        at: T0 + 10,
        room: Arc::from("방-1"),
        nick: Arc::from("o'brien"),
        how: Departure::Kicked {
            by: Arc::from("op;--"),
            reason: Some(Arc::from("'; --")),
        },
    };
    events.push(kick.clone());
    assert_eq!(store.append(&events).unwrap(), events.len());
    for (event, text) in events.iter().zip(nasty) {
        let Event::Message { id, .. } = event else {
            unreachable!()
        };
        let raw = store.raw(*id).unwrap().unwrap();
        assert_eq!(
            raw,
            ("방-1".into(), "msg".into(), "김철수".into(), text.into())
        );
    }
    let lines = store
        .query(&query("방-1", HistoryWhat::Last { n: 10 }))
        .unwrap();
    assert_eq!(lines.events, events, "every event comes back as it went in");
}

#[test]
fn every_room_event_round_trips() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let room: Arc<str> = Arc::from("Games");
    let nick: Arc<str> = Arc::from("alice");
    let mut at = T0;
    let mut step = || {
        at += 1000;
        at
    };
    let mut left = |how| {
        let at = step();
        Event::Left {
            id: next(at),
            at,
            room: room.clone(),
            nick: nick.clone(),
            how,
        }
    };
    let mut events = vec![
        left(Departure::Quit { message: None }),
        left(Departure::Quit {
            message: Some(Arc::from("bye all")),
        }),
        left(Departure::Lost {
            reason: LostReason::SendQueueExceeded,
        }),
        left(Departure::GraceExpired { grace_secs: 120 }),
        left(Departure::Moved {
            to: Arc::from("lobby"),
        }),
        left(Departure::Kicked {
            by: Arc::from("op"),
            reason: None,
        }),
    ];
    let mut next = ids();
    let mut at = T0 + 100_000;
    let mut tick = || {
        at += 1;
        (next(at), at)
    };
    let (id, at1) = tick();
    events.push(Event::Joined {
        id,
        at: at1,
        room: room.clone(),
        nick: nick.clone(),
    });
    let (id, at1) = tick();
    events.push(Event::Reconnected {
        id,
        at: at1,
        room: room.clone(),
        nick: nick.clone(),
    });
    let (id, at1) = tick();
    events.push(Event::Renamed {
        id,
        at: at1,
        room: room.clone(),
        old: nick.clone(),
        new: Arc::from("alice2"),
    });
    let (id, at1) = tick();
    events.push(Event::TopicSet {
        id,
        at: at1,
        room: room.clone(),
        by: nick.clone(),
        topic: Arc::from("release day"),
    });
    let (id, at1) = tick();
    events.push(Event::Action {
        id,
        at: at1,
        room: room.clone(),
        from: nick.clone(),
        text: Arc::from("waves"),
    });
    let (id, at1) = tick();
    events.push(Event::Scheduled {
        id,
        at: at1,
        room: room.clone(),
        from: nick.clone(),
        text: Arc::from("stand-up"),
    });
    // Whispers are not room events: never stored.
    let (id, at1) = tick();
    let whisper = Event::Whisper {
        id,
        at: at1,
        from: nick.clone(),
        to: Arc::from("bob"),
        text: Arc::from("psst"),
    };
    let mut with_whisper = events.clone();
    with_whisper.push(whisper);
    assert_eq!(store.append(&with_whisper).unwrap(), events.len());
    let lines = store
        .query(&query("games", HistoryWhat::Last { n: 100 }))
        .unwrap();
    assert_eq!(lines.events, events);
}

#[test]
fn last_n_is_per_room_oldest_first_and_the_newest_n() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let mut events = Vec::new();
    for i in 0..30u64 {
        let room = if i % 2 == 0 { "lobby" } else { "games" };
        events.push(msg(next(T0 + i), T0 + i, room, "bob", &format!("line {i}")));
    }
    store.append(&events).unwrap();
    let lines = store
        .query(&query("lobby", HistoryWhat::Last { n: 3 }))
        .unwrap();
    assert_eq!(texts(&lines), ["line 24", "line 26", "line 28"]);
    let none = store
        .query(&query("nowhere", HistoryWhat::Backlog { n: 10 }))
        .unwrap();
    assert!(none.events.is_empty());
}

#[test]
fn a_day_is_its_lines_from_the_start_with_the_count_of_all() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let day = 86_400_000;
    let start = 1_704_067_200_000; // 2024-01-01 00:00 UTC
    let mut events = vec![msg(
        next(start - 1),
        start - 1,
        "lobby",
        "a",
        "the day before",
    )];
    for i in 0..5 {
        let at = start + i * 3_600_000;
        events.push(msg(next(at), at, "lobby", "a", &format!("hour {i}")));
    }
    events.push(msg(
        next(start + day),
        start + day,
        "lobby",
        "a",
        "the day after",
    ));
    store.append(&events).unwrap();
    let what = |max| HistoryWhat::Day {
        day: Arc::from("2024-01-01"),
        from: start,
        to: start + day,
        max,
    };
    let lines = store.query(&query("lobby", what(3))).unwrap();
    assert_eq!(texts(&lines), ["hour 0", "hour 1", "hour 2"]);
    assert_eq!(lines.total, 5);
}

#[test]
fn search_escapes_user_input_matches_prefixes_and_lists_newest_first() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let lines = [
        "deploy the release tonight",
        "the release is out",
        "서울에서 만나요",
        "quote \" and OR NOT NEAR( -minus :colon ^caret *star",
        "unrelated chatter",
    ];
    let mut events: Vec<Event> = lines
        .iter()
        .enumerate()
        .map(|(i, t)| msg(next(T0 + i as u64), T0 + i as u64, "lobby", "x", t))
        .collect();
    events.push(msg(next(T0 + 9), T0 + 9, "games", "x", "release elsewhere"));
    events.push(Event::Joined {
        id: next(T0 + 10),
        at: T0 + 10,
        room: Arc::from("lobby"),
        nick: Arc::from("release"),
    });
    store.append(&events).unwrap();
    let search = |store: &mut Store, words: &str| {
        let what = HistoryWhat::Search {
            words: Arc::from(words),
            from: None,
            max: 10,
        };
        texts(&store.query(&query("lobby", what)).unwrap())
    };
    assert_eq!(
        search(&mut store, "release"),
        ["the release is out", "deploy the release tonight"]
    );
    assert_eq!(
        search(&mut store, "RELEASE deploy"),
        ["deploy the release tonight"]
    );
    assert_eq!(search(&mut store, "rele"), search(&mut store, "release"));
    assert_eq!(search(&mut store, "서울"), ["서울에서 만나요"]);
    // Every FTS5 operator a user could type is just text, and never an error.
    for words in [
        "\"",
        "\"\"",
        "OR",
        "NOT",
        "AND",
        "NEAR(",
        "-minus",
        "colon:",
        "^caret",
        "*",
        "*star",
        "a\"b",
        "'; DROP TABLE lines; --",
        "(",
        ")",
        "{x}",
        "--",
        ";",
    ] {
        let what = HistoryWhat::Search {
            words: Arc::from(words),
            from: None,
            max: 10,
        };
        store
            .query(&query("lobby", what))
            .unwrap_or_else(|e| panic!("{words}: {e}"));
    }
    assert_eq!(search(&mut store, "NEAR("), [lines[3]]);
    assert!(search(&mut store, "--").is_empty());
    assert_eq!(fts_query("a \"b"), Some("\"a\"* \"b\"*".to_string()));
    assert_eq!(
        fts_query("it's OR"),
        Some("\"it\"* \"s\"* \"OR\"*".to_string())
    );
    assert_eq!(fts_query("-- ;"), None);
}

#[test]
fn pruning_deletes_older_lines_and_their_search_entries() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let events: Vec<Event> = (0..12_000u64)
        .map(|i| {
            msg(
                next(T0 + i),
                T0 + i,
                "lobby",
                "x",
                &format!("word{i} common"),
            )
        })
        .collect();
    store.append(&events).unwrap();
    assert_eq!(store.prune_before(T0 + 11_000).unwrap(), 11_000);
    assert_eq!(store.count().unwrap(), 1000);
    let what = HistoryWhat::Search {
        words: Arc::from("common"),
        from: None,
        max: 5000,
    };
    assert_eq!(
        store.query(&query("lobby", what)).unwrap().events.len(),
        1000
    );
    store
        .conn
        .execute_batch("INSERT INTO blocks_fts (blocks_fts) VALUES ('integrity-check')")
        .expect("the search index matches the lines left");
    assert_eq!(cutoff(10_000, Duration::from_secs(3)), 7000);
}

#[test]
fn a_batch_is_visible_to_queries_before_it_is_committed_and_gone_after_rollback() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    store.begin().unwrap();
    assert!(store.in_batch());
    store
        .insert(&msg(next(T0), T0, "lobby", "a", "pending"))
        .unwrap();
    let lines = store
        .query(&query("lobby", HistoryWhat::Last { n: 5 }))
        .unwrap();
    assert_eq!(texts(&lines), ["pending"]);
    store.rollback();
    assert!(!store.in_batch());
    assert_eq!(store.count().unwrap(), 0);
}

#[test]
fn search_terms_with_symbols_that_look_alphabetic_do_not_fail() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    store
        .append(&[msg(next(T0), T0, "lobby", "x", "aⒶb café naïve")])
        .unwrap();
    for words in ["aⒶb", "Ⓐ", "cafe\u{301}", "naïve", "ǅ", "Ⅻ", "①"] {
        let what = HistoryWhat::Search {
            words: Arc::from(words),
            from: None,
            max: 10,
        };
        store
            .query(&query("lobby", what))
            .unwrap_or_else(|e| panic!("{words}: {e}"));
    }
}

#[test]
fn search_from_keeps_one_senders_lines_with_or_without_words() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let lines = [
        ("alice", "the release is out"),
        ("Bob", "release notes are up"),
        ("bob", "lunch?"),
        ("alice", "bob wrote the release notes"),
        ("철수", "release 축하해요"),
    ];
    let mut events: Vec<Event> = lines
        .iter()
        .enumerate()
        .map(|(i, (from, t))| msg(next(T0 + i as u64), T0 + i as u64, "lobby", from, t))
        .collect();
    events.push(Event::Joined {
        id: next(T0 + 10),
        at: T0 + 10,
        room: Arc::from("lobby"),
        nick: Arc::from("bob"),
    });
    events.push(msg(
        next(T0 + 11),
        T0 + 11,
        "games",
        "bob",
        "release elsewhere",
    ));
    store.append(&events).unwrap();
    let search = |store: &mut Store, words: &str, from: &str| {
        let what = HistoryWhat::Search {
            words: Arc::from(words),
            from: Some(Arc::from(from)),
            max: 10,
        };
        texts(&store.query(&query("lobby", what)).unwrap())
    };
    // Only what the sender wrote in this room, newest first; their join is not a line they wrote.
    assert_eq!(
        search(&mut store, "", "BOB"),
        ["lunch?", "release notes are up"]
    );
    assert_eq!(
        search(&mut store, "release", "bob"),
        ["release notes are up"]
    );
    assert_eq!(search(&mut store, "release", "철수"), ["release 축하해요"]);
    assert!(search(&mut store, "", "carol").is_empty());
    assert!(search(&mut store, "\"", "bob").is_empty());
}

#[test]
fn recent_rooms_loads_the_most_recently_active_rooms_newest_lines() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let mut lines = Vec::new();
    for i in 0..5u64 {
        let at = T0 + i;
        lines.push(msg(next(at), at, "Quiet", "alice", &format!("q{i}")));
    }
    for i in 0..2u64 {
        let at = T0 + 100 + i;
        lines.push(msg(next(at), at, "busy", "bob", &format!("b{i}")));
    }
    store.append(&lines).unwrap();
    let recent = store.recent_rooms(1, 3).unwrap();
    assert_eq!(recent.on_disk.len(), 2);
    assert!(recent.on_disk.contains("quiet") && recent.on_disk.contains("busy"));
    // Only the most recently active room is loaded; it has fewer lines than asked: all of them.
    assert_eq!(recent.loaded.len(), 1);
    let (key, events, all) = &recent.loaded[0];
    assert_eq!((key.as_str(), events.len(), *all), ("busy", 2, true));
    let recent = store.recent_rooms(2, 3).unwrap();
    let (key, events, all) = &recent.loaded[1];
    assert_eq!((key.as_str(), events.len(), *all), ("quiet", 3, false));
    assert!(matches!(&events[2], Event::Message { text, .. } if &**text == "q4"));
}

fn search_in(
    store: &mut Store,
    room: &str,
    words: &str,
    from: Option<&str>,
    max: usize,
) -> Vec<String> {
    let what = HistoryWhat::Search {
        words: Arc::from(words),
        from: from.map(Arc::from),
        max,
    };
    texts(&store.query(&query(room, what)).unwrap())
}

fn won(id: MsgId, at: u64, room: &str, nick: &str, points: u32) -> Event {
    Event::Game(GameNotice::Won {
        id,
        at,
        room: Arc::from(room),
        nick: Arc::from(nick),
        word: Arc::from("사과"),
        points,
        secs: 7,
    })
}

#[test]
fn search_finds_lines_in_sealed_blocks_and_in_the_open_one_newest_first() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    // Three rooms interleaved, 1000 lines each: sealed blocks in every room, an open one after.
    let mut events = Vec::new();
    for i in 0..3000u64 {
        let room = ["lobby", "games", "dev"][(i % 3) as usize];
        let from = if i % 7 == 0 { "Alice" } else { "bob" };
        let text = match i {
            _ if i % 500 == 0 => format!("needle {i}"),
            _ => format!("filler {i} hay"),
        };
        events.push(msg(next(T0 + i), T0 + i, room, from, &text));
    }
    store.append(&events).unwrap();
    let sealed: i64 = store
        .conn
        .query_row("SELECT count(*) FROM blocks WHERE sealed = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(sealed >= 21, "{sealed}");
    // lobby holds i = 0, 3, 6...: needles at 0 and 1500; games 1, 4...: 1000 and 2500.
    assert_eq!(
        search_in(&mut store, "lobby", "needle", None, 10),
        ["needle 1500", "needle 0"]
    );
    assert_eq!(
        search_in(&mut store, "games", "needle", None, 10),
        ["needle 2500", "needle 1000"]
    );
    // Words must be in one line: "needle" and "hay" are in every block but never in one line.
    assert!(search_in(&mut store, "lobby", "needle hay", None, 10).is_empty());
    // The sender token: case-insensitive, and only that sender's lines.
    let alice = search_in(&mut store, "dev", "", Some("ALICE"), 1000);
    let expected: Vec<String> = (0..3000u64)
        .rev()
        .filter(|i| i % 3 == 2 && i % 7 == 0)
        .map(|i| {
            if i % 500 == 0 {
                format!("needle {i}")
            } else {
                format!("filler {i} hay")
            }
        })
        .collect();
    assert_eq!(alice, expected);
    assert_eq!(
        search_in(&mut store, "dev", "filler 2", Some("alice"), 3),
        &expected[..3]
    );
    // The newest line, still in the open block, is found at once; so is an older sealed one.
    store
        .append(&[msg(
            next(T0 + 5000),
            T0 + 5000,
            "lobby",
            "carol",
            "fresh needle",
        )])
        .unwrap();
    assert_eq!(
        search_in(&mut store, "lobby", "needle", None, 2),
        ["fresh needle", "needle 1500"]
    );
}

#[test]
fn open_blocks_continue_across_reopen_and_seal_without_leaving_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let mut next = ids();
    let mut at = T0;
    let mut line = |store: &mut Store, text: String| {
        at += 1;
        store
            .append(&[msg(next(at), at, "lobby", "x", &text)])
            .unwrap();
    };
    {
        let mut store = Store::open(dir.path()).unwrap();
        // One line a commit: each commit writes a piece.
        for i in 0..50 {
            line(&mut store, format!("before {i}"));
        }
    }
    let mut store = Store::open(dir.path()).unwrap();
    let pieces = |store: &Store| -> i64 {
        store
            .conn
            .query_row("SELECT count(*) FROM blocks WHERE sealed = 0", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert_eq!(pieces(&store), 50);
    for i in 0..(block::BLOCK_LINES - 50) {
        line(&mut store, format!("after {i}"));
    }
    // The block filled up with the lines from before the restart: one sealed row, no pieces.
    assert_eq!(pieces(&store), 0);
    let rows: i64 = store
        .conn
        .query_row("SELECT count(*) FROM blocks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(store.count().unwrap(), block::BLOCK_LINES);
    let all = store
        .query(&query("lobby", HistoryWhat::Last { n: 1000 }))
        .unwrap();
    assert_eq!(texts(&all)[0], "before 0");
    assert_eq!(
        texts(&all)[block::BLOCK_LINES - 1],
        format!("after {}", block::BLOCK_LINES - 51)
    );
    assert_eq!(
        search_in(&mut store, "lobby", "before", None, 100).len(),
        50
    );
}

#[test]
fn many_rooms_open_at_once_keep_every_line_with_bounded_blocks_in_memory() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    for round in 0..3u64 {
        let events: Vec<Event> = (0..1000u64)
            .map(|r| {
                let at = T0 + round * 1000 + r;
                msg(
                    next(at),
                    at,
                    &format!("room{r}"),
                    "x",
                    &format!("r{r} round{round}"),
                )
            })
            .collect();
        store.append(&events).unwrap();
        assert!(
            store.open.rooms_in_memory() <= 256,
            "{}",
            store.open.rooms_in_memory()
        );
    }
    assert_eq!(store.count().unwrap(), 3000);
    for r in [0u64, 500, 999] {
        let lines = store
            .query(&query(&format!("room{r}"), HistoryWhat::Last { n: 10 }))
            .unwrap();
        assert_eq!(
            texts(&lines),
            [0, 1, 2].map(|round| format!("r{r} round{round}"))
        );
    }
}

#[test]
fn an_event_stored_twice_is_kept_once_in_an_open_or_a_sealed_block() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let events: Vec<Event> = (0..300u64)
        .map(|i| msg(next(T0 + i), T0 + i, "lobby", "x", &format!("line {i}")))
        .collect();
    assert_eq!(store.append(&events).unwrap(), 300);
    // Line 5 is in a sealed block, line 299 in the open one.
    assert_eq!(
        store
            .append(&[events[5].clone(), events[299].clone()])
            .unwrap(),
        0
    );
    assert_eq!(store.count().unwrap(), 300);
}

#[test]
fn a_rollback_takes_its_lines_and_later_lines_go_on_from_the_rows() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    store
        .append(&[msg(next(T0), T0, "lobby", "x", "kept")])
        .unwrap();
    store.begin().unwrap();
    for i in 0..200u64 {
        store
            .insert(&msg(next(T0 + 1 + i), T0 + 1 + i, "lobby", "x", "gone"))
            .unwrap();
    }
    store.rollback();
    store
        .append(&[msg(next(T0 + 500), T0 + 500, "lobby", "x", "after")])
        .unwrap();
    let lines = store
        .query(&query("lobby", HistoryWhat::Last { n: 10 }))
        .unwrap();
    assert_eq!(texts(&lines), ["kept", "after"]);
    assert_eq!(store.count().unwrap(), 2);
}

#[test]
fn scores_sum_the_wins_of_a_room_case_insensitively() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    store
        .append(&[
            won(next(T0), T0, "games", "Alice", 3),
            won(next(T0 + 1), T0 + 1, "games", "alice", 2),
            won(next(T0 + 2), T0 + 2, "games", "bob", 4),
            won(next(T0 + 3), T0 + 3, "lobby", "bob", 9),
        ])
        .unwrap();
    let board = store
        .query(&query("games", HistoryWhat::Leaderboard { top: 10 }))
        .unwrap();
    let Event::Game(GameNotice::Leaderboard { entries, .. }) = &board.events[0] else {
        panic!("{board:?}");
    };
    let got: Vec<(String, u64, u64)> = entries
        .iter()
        .map(|e| (e.nick.to_string(), e.points, e.wins))
        .collect();
    assert_eq!(
        got,
        [("alice".to_string(), 5, 2), ("bob".to_string(), 4, 1)]
    );
    // The result is a line of the room's history too.
    let last = store
        .query(&query("games", HistoryWhat::Last { n: 1 }))
        .unwrap();
    assert!(matches!(
        &last.events[0],
        Event::Game(GameNotice::Won { points: 4, .. })
    ));
}

/// A version 2 database in `dir`, as the release before blocks wrote it: `rooms` (key, name)
/// get ids from 1, and `lines` (room id, kind, text, extra) are said by Alice a millisecond
/// apart from T0, the kinds searchable indexed as that release did.
fn version_2_database(
    dir: &Path,
    rooms: &[(&str, &str)],
    lines: &[(i64, &str, &str, Option<&str>)],
) {
    let mut conn = Connection::open(dir.join(FILE_NAME)).unwrap();
    let tx = conn.transaction().unwrap();
    for m in &MIGRATIONS[..2] {
        let Migration::Sql(sql) = m else {
            panic!("1 and 2 are SQL")
        };
        tx.execute_batch(sql).unwrap();
    }
    tx.execute_batch("PRAGMA user_version = 2").unwrap();
    for (key, name) in rooms {
        tx.execute(
            "INSERT INTO rooms (key, name) VALUES (?1, ?2)",
            params![key, name],
        )
        .unwrap();
    }
    let mut next = ids();
    for (i, (room, kind, text, extra)) in lines.iter().enumerate() {
        let at = T0 + i as u64;
        let id = next(at).0 as i64;
        tx.execute(
            "INSERT INTO lines (id, room, at, kind, sender, text, extra)
             VALUES (?1, ?2, ?3, ?4, 'Alice', ?5, ?6)",
            params![id, room, at as i64, kind, text, extra],
        )
        .unwrap();
        if ["msg", "kick"].contains(kind) && !text.is_empty() {
            tx.execute(
                "INSERT INTO lines_fts (rowid, text) VALUES (?1, ?2)",
                params![id, text],
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

#[test]
fn a_database_of_one_row_a_line_moves_into_blocks_with_its_search_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<(i64, &str, &str, Option<&str>)> = (0..300)
        .map(|i| match i {
            7 => (1, "game_won", "사과", Some("5 12")),
            8 => (1, "kick", "spam", Some("op")),
            250 => (1, "msg", "old needle", None),
            _ => (1, "msg", "old hay", None),
        })
        .collect();
    version_2_database(dir.path(), &[("lobby", "Lobby")], &lines);
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 3);
    assert_eq!(store.count().unwrap(), 300);
    let tables: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('lines', 'lines_fts')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
    assert_eq!(
        search_in(&mut store, "lobby", "needle", None, 5),
        ["old needle"]
    );
    assert_eq!(
        search_in(&mut store, "lobby", "spam", Some("alice"), 5).len(),
        1
    );
    let last = store
        .query(&query("LOBBY", HistoryWhat::Last { n: 300 }))
        .unwrap();
    assert_eq!(last.events.len(), 300);
    assert!(
        matches!(&last.events[8], Event::Left { how: Departure::Kicked { by, .. }, .. } if &**by == "op")
    );
    let me = store
        .query(&query(
            "lobby",
            HistoryWhat::Player {
                nick: Arc::from("alice"),
            },
        ))
        .unwrap();
    assert!(matches!(
        &me.events[0],
        Event::Game(GameNotice::PlayerScore { entry, .. }) if entry.points == 5 && entry.wins == 1
    ));
}

#[test]
fn search_inside_blocks_folds_case_and_diacritics_as_the_index_does() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    let mut events: Vec<Event> = (0..200u64)
        .map(|i| msg(next(T0 + i), T0 + i, "lobby", "x", "plain words"))
        .collect();
    for (i, text) in [
        "Café au lait",
        "CAFETERIA open",
        "a cafe",
        "naïve",
        "무슨 CAFÉ",
    ]
    .iter()
    .enumerate()
    {
        let at = T0 + 10 + i as u64;
        events.insert(10 + i * 30, msg(next(at), at, "lobby", "x", text));
    }
    store.append(&events).unwrap();
    assert_eq!(
        search_in(&mut store, "lobby", "cafe", None, 10),
        ["무슨 CAFÉ", "a cafe", "CAFETERIA open", "Café au lait"]
    );
    assert_eq!(search_in(&mut store, "lobby", "café", None, 10).len(), 4);
    assert_eq!(search_in(&mut store, "lobby", "NAIVE", None, 10), ["naïve"]);
}

/// `lines` lines in the lobby, "needle {i}" every `every` and "hay {i}" between, stored as the
/// storage thread stores during a burst: in one committed batch, full blocks left unindexed.
fn store_as_in_a_burst(
    store: &mut Store,
    next: &mut impl FnMut(u64) -> MsgId,
    lines: u64,
    every: u64,
) {
    store.begin().unwrap();
    for i in 0..lines {
        let text = if i % every == 0 {
            format!("needle {i}")
        } else {
            format!("hay {i}")
        };
        store
            .insert(&msg(next(T0 + i), T0 + i, "lobby", "x", &text))
            .unwrap();
    }
    store.commit().unwrap();
}

#[test]
fn blocks_waiting_for_the_index_are_searched_directly_and_indexed_later() {
    let dir = tempfile::tempdir().unwrap();
    let mut next = ids();
    let lines = 1000u64;
    {
        let mut store = Store::open(dir.path()).unwrap();
        store_as_in_a_burst(&mut store, &mut next, lines, 100);
        let sealed = (lines as usize / block::BLOCK_LINES) * block::BLOCK_LINES;
        assert_eq!(store.unindexed_lines(), sealed);
        let indexed: i64 = store
            .conn
            .query_row("SELECT count(*) FROM blocks_fts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexed, 0);
        let newest_first: Vec<String> = (0..10)
            .rev()
            .map(|k| format!("needle {}", k * 100))
            .collect();
        assert_eq!(
            search_in(&mut store, "lobby", "needle", None, 20),
            newest_first
        );
    }
    // What waited is still waiting after a restart, and is indexed in slices.
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.unindexed_lines(), 896);
    assert_eq!(store.index_pending(3).unwrap(), 3 * block::BLOCK_LINES);
    assert_eq!(store.unindexed_lines(), 896 - 3 * block::BLOCK_LINES);
    while store.index_pending(3).unwrap() > 0 {}
    assert_eq!(store.unindexed_lines(), 0);
    let newest_first: Vec<String> = (0..10)
        .rev()
        .map(|k| format!("needle {}", k * 100))
        .collect();
    assert_eq!(
        search_in(&mut store, "lobby", "needle", None, 20),
        newest_first
    );
    store
        .conn
        .execute_batch("INSERT INTO blocks_fts (blocks_fts) VALUES ('integrity-check')")
        .expect("the index is whole");
    // The waiting blocks are found through their partial index, not a scan of every block.
    let plan: String = store
        .conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id, room, data FROM blocks WHERE indexed = 0 AND sealed = 1 LIMIT 5",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("blocks_unindexed"), "{plan}");
}

/// The history a store should hold, kept by a test beside it.
#[derive(Clone, Debug)]
struct Said {
    room: usize,
    id: u64,
    at: u64,
    text: String,
}

fn unindexed_in_db(store: &Store) -> usize {
    store
        .conn
        .query_row(
            "SELECT coalesce(sum(lines), 0) FROM blocks WHERE indexed = 0 AND sealed = 1",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as usize
}

/// Random inserts (and duplicates), commits, rollbacks, restarts, indexing, pruning, `/history`,
/// `/history DATE` and `/search`, each answer compared with what the test kept.
fn against_a_model(seed: u64, steps: usize, rooms: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut gen = crate::chat::id::IdGen::new(3);
    let mut now = T0;
    let (mut committed, mut pending): (Vec<Said>, Vec<Said>) = (Vec::new(), Vec::new());
    let words = ["apple", "Banana", "cherry", "date", "elder"];
    let mut pruned_to = T0;
    let room_name = |r: usize| format!("room{r}");
    for step in 0..steps {
        let op = rng.u32(0..1000);
        let hot = |rng: &mut fastrand::Rng| {
            if rng.bool() {
                rng.usize(0..3)
            } else {
                rng.usize(0..rooms as usize)
            }
        };
        if op < 850 {
            if op < 20 && !committed.is_empty() {
                let l = committed[rng.usize(0..committed.len())].clone();
                let e = msg(MsgId(l.id), l.at, &room_name(l.room), "Alice", &l.text);
                assert!(
                    !store.insert(&e).unwrap(),
                    "step {step}: a line stored twice"
                );
                continue;
            }
            now += rng.u64(0..30);
            let room = hot(&mut rng);
            let id = gen.next(now).0;
            let text = format!(
                "{} {} n{}",
                words[rng.usize(0..5)],
                words[rng.usize(0..5)],
                id % 1000
            );
            let from = if rng.bool() { "Alice" } else { "bob" };
            assert!(store
                .insert(&msg(MsgId(id), now, &room_name(room), from, &text))
                .unwrap());
            pending.push(Said {
                room,
                id,
                at: now,
                text,
            });
        } else if op < 900 {
            if store.in_batch() {
                store.commit().unwrap();
            }
            committed.append(&mut pending);
        } else if op < 910 {
            store.rollback();
            pending.clear();
        } else if op < 940 {
            let room = hot(&mut rng);
            let n = 1 + rng.usize(0..300);
            let got = store
                .query(&query(&room_name(room), HistoryWhat::Last { n }))
                .unwrap();
            let mut want: Vec<&Said> = committed
                .iter()
                .chain(&pending)
                .filter(|l| l.room == room)
                .collect();
            want.sort_by_key(|l| (l.at, l.id));
            let want: Vec<String> = want
                .iter()
                .rev()
                .take(n)
                .rev()
                .map(|l| l.text.clone())
                .collect();
            assert_eq!(texts(&got), want, "step {step}: last {n} of room{room}");
        } else if op < 965 {
            let room = rng.usize(0..3);
            let w = words[rng.usize(0..5)];
            let got = search_in(&mut store, &room_name(room), w, None, 100_000);
            let mut want: Vec<&Said> = committed
                .iter()
                .chain(&pending)
                .filter(|l| {
                    l.room == room
                        && l.text
                            .to_lowercase()
                            .split(' ')
                            .any(|t| t.starts_with(&w.to_lowercase()))
                })
                .collect();
            want.reverse();
            let want: Vec<String> = want.iter().map(|l| l.text.clone()).collect();
            assert_eq!(got, want, "step {step}: search {w} in room{room}");
        } else if op < 975 {
            store.index_pending(rng.usize(0..5)).unwrap();
        } else if op < 980 {
            if store.in_batch() {
                store.commit().unwrap();
            }
            committed.append(&mut pending);
            let cutoff = pruned_to + (now - pruned_to) / 4;
            pruned_to = cutoff;
            let below = MsgId::first_at(cutoff).0;
            let before = committed.len();
            committed.retain(|l| l.id >= below);
            assert_eq!(
                store.prune_before(cutoff).unwrap(),
                before - committed.len(),
                "step {step}: pruned"
            );
        } else if op < 985 {
            if store.in_batch() {
                store.commit().unwrap();
            }
            committed.append(&mut pending);
            drop(store);
            store = Store::open(dir.path()).unwrap();
        } else if op < 990 {
            let room = rng.usize(0..3);
            let from = T0 + rng.u64(0..=now - T0);
            let to = from + rng.u64(0..20_000);
            let max = 1 + rng.usize(0..200);
            let day = HistoryWhat::Day {
                day: Arc::from("d"),
                from,
                to,
                max,
            };
            let got = store.query(&query(&room_name(room), day)).unwrap();
            let mut want: Vec<&Said> = committed
                .iter()
                .chain(&pending)
                .filter(|l| l.room == room && l.at >= from && l.at < to)
                .collect();
            want.sort_by_key(|l| (l.at, l.id));
            assert_eq!(got.total, want.len(), "step {step}: day total");
            let want: Vec<String> = want.iter().take(max).map(|l| l.text.clone()).collect();
            assert_eq!(texts(&got), want, "step {step}: day lines");
        } else {
            assert_eq!(
                store.unindexed_lines(),
                unindexed_in_db(&store),
                "step {step}"
            );
        }
    }
    if store.in_batch() {
        store.commit().unwrap();
    }
    committed.append(&mut pending);
    assert_eq!(store.count().unwrap(), committed.len());
    assert_eq!(store.unindexed_lines(), unindexed_in_db(&store));
    drop(store);
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.count().unwrap(), committed.len());
    store
        .conn
        .execute_batch("INSERT INTO blocks_fts (blocks_fts) VALUES ('integrity-check')")
        .unwrap();
}

#[test]
fn random_histories_of_a_few_busy_rooms_match_a_model() {
    for seed in [7919, 15838] {
        against_a_model(seed, 8000, 3);
    }
}

#[test]
fn random_histories_of_many_rooms_match_a_model() {
    against_a_model(104_729, 8000, 400);
}

#[test]
fn a_block_this_server_cannot_read_is_indexed_past_and_the_count_stays_true() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    store
        .append(&[msg(next(T0), T0, "lobby", "a", "x")])
        .unwrap();
    // A sealed block of a newer server's format (2), waiting for the index.
    store
        .conn
        .execute(
            "INSERT INTO blocks (room, min_id, max_id, min_at, max_at, lines, sealed, indexed, data)
             VALUES (1, 1, 2, 1, 2, 128, 1, 0, x'02')",
            [],
        )
        .unwrap();
    store.count_unindexed().unwrap();
    assert_eq!(store.unindexed_lines(), 128);
    store.index_pending(128).unwrap();
    assert_eq!(store.unindexed_lines(), 0);
    assert_eq!(unindexed_in_db(&store), 0);
}

#[test]
fn a_damaged_piece_is_passed_over_and_the_room_keeps_storing() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    store
        .append(&[msg(next(T0), T0, "lobby", "a", "x")])
        .unwrap();
    store
        .conn
        .execute("UPDATE blocks SET data = x'0105' WHERE sealed = 0", [])
        .unwrap();
    store.open.forget();
    for i in 1..4 {
        store
            .append(&[msg(next(T0 + i), T0 + i, "lobby", "a", &format!("y{i}"))])
            .unwrap();
    }
    let last = store
        .query(&query("lobby", HistoryWhat::Last { n: 5 }))
        .unwrap();
    assert_eq!(texts(&last), ["y1", "y2", "y3"]);
}

#[test]
fn the_newest_lines_are_by_time_when_a_clock_stepped_back() {
    let mut store = Store::open_in_memory().unwrap();
    let mut gen = crate::chat::id::IdGen::new(1);
    let mut events: Vec<Event> = (0..128u64)
        .map(|i| {
            msg(
                gen.next(T0 + 1000 + i),
                T0 + 1000 + i,
                "lobby",
                "a",
                &format!("a{i}"),
            )
        })
        .collect();
    events.push(msg(gen.next(T0 + 5000), T0 + 5000, "lobby", "a", "ahead"));
    events.push(msg(gen.next(T0 + 10), T0 + 10, "lobby", "a", "back"));
    store.append(&events).unwrap();
    let last = store
        .query(&query("lobby", HistoryWhat::Last { n: 2 }))
        .unwrap();
    assert_eq!(texts(&last), ["a127", "ahead"]);
    let day = HistoryWhat::Day {
        day: Arc::from("d"),
        from: T0,
        to: T0 + 10_000,
        max: 2,
    };
    let lines = store.query(&query("lobby", day)).unwrap();
    assert_eq!(
        (texts(&lines), lines.total),
        (vec!["back".to_string(), "a0".to_string()], 130)
    );
}

#[test]
fn a_line_stored_again_after_the_clock_stepped_back_is_ignored_across_a_restart() {
    for step_back in [20_000u64, 600_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut gen = crate::chat::id::IdGen::new(1);
        let mut events = Vec::new();
        for i in 0..128u64 {
            let at = T0 + 700_000 + i;
            events.push(msg(gen.next(at), at, "lobby", "a", &format!("a{i}")));
        }
        // The clock steps back (ids still grow: IdGen never goes back).
        for i in 0..128u64 {
            let at = T0 + 700_000 - step_back + i;
            events.push(msg(gen.next(at), at, "lobby", "a", &format!("b{i}")));
        }
        {
            let mut store = Store::open(dir.path()).unwrap();
            store.append(&events).unwrap();
            assert_eq!(
                store.append(&[events[200].clone()]).unwrap(),
                0,
                "{step_back}"
            );
        }
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.append(&[events[200].clone()]).unwrap(),
            0,
            "{step_back}"
        );
        assert_eq!(store.count().unwrap(), 256);
    }
}

#[test]
fn a_full_disk_mid_batch_rolls_the_batch_back_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut next = ids();
    let mut i = 0u64;
    let mut line = |room: &str, text: String| {
        i += 1;
        msg(next(T0 + i), T0 + i, room, "a", &text)
    };
    store.begin().unwrap();
    for k in 0..100 {
        store.insert(&line("r0", format!("old{k}"))).unwrap();
    }
    store.insert(&line("r1", "first".into())).unwrap();
    store.commit().unwrap();
    let pages: i64 = store
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    store
        .conn
        .execute_batch(&format!("PRAGMA max_page_count = {}", pages + 4))
        .unwrap();
    // 28 more lines seal r0's block in this batch; then long lines fill the disk.
    store.begin().unwrap();
    for k in 0..28 {
        store.insert(&line("r0", format!("new{k}"))).unwrap();
    }
    let failed = (0..400).find(|_| store.insert(&line("r1", "y".repeat(3000))).is_err());
    assert!(failed.is_some(), "the disk never filled");
    // The failure rolled the batch back, and said so: nothing of it is committed later.
    assert!(!store.in_batch());
    store
        .conn
        .execute_batch("PRAGMA max_page_count = 1000000")
        .unwrap();
    store.append(&[line("r0", "after".into())]).unwrap();
    let r0 = store
        .query(&query("r0", HistoryWhat::Last { n: 1000 }))
        .unwrap();
    let t = texts(&r0);
    assert_eq!(
        (t.len(), t[0].as_str(), t[100].as_str()),
        (101, "old0", "after")
    );
    assert_eq!(store.unindexed_lines(), unindexed_in_db(&store));
    // The block fills up again, across a restart, without a line twice.
    store.begin().unwrap();
    for k in 0..200 {
        store.insert(&line("r0", format!("more{k}"))).unwrap();
    }
    store.commit().unwrap();
    drop(store);
    let mut store = Store::open(dir.path()).unwrap();
    let r0 = texts(
        &store
            .query(&query("r0", HistoryWhat::Last { n: 10_000 }))
            .unwrap(),
    );
    let mut distinct = r0.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((r0.len(), distinct.len()), (301, 301));
}

#[test]
fn moving_a_database_keeps_game_results_kick_operators_and_empty_texts() {
    let dir = tempfile::tempdir().unwrap();
    version_2_database(
        dir.path(),
        &[("lobby", "Lobby"), ("b", "B")],
        &[
            (1, "game_won", "사과", Some("5 12")),
            (1, "kick", "", Some("op")),
            (2, "msg", "", None),
            (1, "quit", "", None),
            (2, "game_won", "w", Some("7 3")),
            (1, "msg", "hello", None),
        ],
    );
    let mut store = Store::open(dir.path()).unwrap();
    let wins: Vec<(i64, i64, i64)> = store
        .conn
        .prepare("SELECT room, points, secs FROM game_wins ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(wins, [(1, 5, 12), (2, 7, 3)]);
    let lobby = store
        .query(&query("lobby", HistoryWhat::Last { n: 10 }))
        .unwrap();
    assert!(
        matches!(&lobby.events[1], Event::Left { how: Departure::Kicked { by, reason: None }, .. } if &**by == "op")
    );
    assert!(matches!(
        &lobby.events[2],
        Event::Left {
            how: Departure::Quit { message: None },
            ..
        }
    ));
    let b = store
        .query(&query("b", HistoryWhat::Last { n: 10 }))
        .unwrap();
    assert!(matches!(&b.events[0], Event::Message { text, .. } if text.is_empty()));
    assert_eq!(store.count().unwrap(), 6);
}

#[test]
fn pruning_finds_old_blocks_through_an_index() {
    let store = Store::open_in_memory().unwrap();
    for sql in [
        "SELECT id, lines, indexed FROM blocks WHERE min_id < ?1 AND max_id < ?1 LIMIT ?2",
        "SELECT id, room, indexed, data FROM blocks WHERE min_id < ?1",
        "SELECT data FROM blocks WHERE room = ?1 AND max_id >= ?2 AND min_id <= ?2",
        "SELECT coalesce(max(max_id), 0) FROM blocks WHERE room = ?1",
    ] {
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let ones = vec![1i64; stmt.parameter_count()];
        let plan: String = stmt
            .query_row(rusqlite::params_from_iter(ones), |r| r.get(3))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(!plan.starts_with("SCAN blocks"), "{sql}: {plan}");
    }
}

#[test]
fn a_search_reads_no_more_lines_than_its_limits_allow() {
    let mut store = Store::open_in_memory().unwrap();
    let mut next = ids();
    // Ten blocks, each with a "needle" in its first line.
    store_as_in_a_burst(&mut store, &mut next, 1280, 128);
    assert_eq!(store.unindexed_lines(), 1280);
    let all: Vec<String> = (0..10)
        .rev()
        .map(|k| format!("needle {}", k * 128))
        .collect();
    assert_eq!(search_in(&mut store, "lobby", "needle", None, 100), all);
    // --search-max-unindexed 300: the newest blocks up to 300 lines (three), the rest once indexed.
    store.set_search_limits(SearchLimits {
        max_unindexed: 300,
        ..SearchLimits::default()
    });
    assert_eq!(
        search_in(&mut store, "lobby", "needle", None, 100),
        &all[..3]
    );
    while store.index_pending(4).unwrap() > 0 {}
    assert_eq!(search_in(&mut store, "lobby", "needle", None, 100), all);
    // --search-max-examined 200: the index's blocks are read until 200 lines (two blocks).
    store.set_search_limits(SearchLimits {
        max_examined: 200,
        ..SearchLimits::default()
    });
    assert_eq!(
        search_in(&mut store, "lobby", "needle", None, 100),
        &all[..2]
    );
}
