//! The history database: SQLite through rusqlite, and nothing else. It also holds what the chat
//! core keeps across restarts besides lines (bans, topics, operator grants; see [`kept`]), so one
//! file, one transaction a flush, and one backup cover everything a server keeps.
//!
//! Pure storage code with no threads or channels, so it is unit-tested against an in-memory
//! database or a temporary directory. One table `lines` holds every room event with its global
//! message id as the primary key (ids are time-ordered, so id order is time order and pruning is
//! a range delete); an FTS5 table indexes the text people typed. The store writes that index
//! itself rather than through triggers: a virtual-table insert inside a trigger costs a statement
//! savepoint per row, which makes FTS5 flush its buffer each time (about six times slower).
//! Every value goes in as a bound parameter: no user text is ever part of SQL.
//!
//! The schema version lives in `PRAGMA user_version`; [`MIGRATIONS`] brings an older database up
//! to date on open, and a database from a newer server is refused rather than misread.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::chat::event::{Event, GameNotice, ScoreEntry};
use crate::chat::event::{HistoryLines, HistoryQuery, HistoryWhat};
use crate::chat::id::MsgId;
use crate::chat::{room_key, RecentRooms};
use rows::{event_of_row, RowData};

mod kept;
mod rows;

pub use kept::KeptLimits;

/// The database file inside `--data-dir`.
pub const FILE_NAME: &str = "history.sqlite3";

/// Schema migrations, in order: entry `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: lines, their room/time index, and the full-text index of what people wrote (the kinds
    //    in `SEARCHABLE`, written by `insert` and `prune_before`).
    "CREATE TABLE rooms (
         id       INTEGER PRIMARY KEY,
         key      TEXT    NOT NULL UNIQUE, -- lower-cased name (rooms are case-insensitive)
         name     TEXT    NOT NULL         -- the name as first shown
     );
     CREATE TABLE lines (
         id       INTEGER PRIMARY KEY, -- global message id: time-ordered, node id included
         room     INTEGER NOT NULL REFERENCES rooms(id),
         at       INTEGER NOT NULL,    -- Unix milliseconds
         kind     TEXT    NOT NULL,    -- msg, me, scheduled, join, reconnect, quit, lost, expired,
                                       -- moved, kick, nick, topic
         sender   TEXT    NOT NULL,    -- who spoke, or whom the event is about
         text     TEXT    NOT NULL,    -- kind-specific: the message, reason, new name, room...
         extra    TEXT                 -- kind-specific: the operator of a kick
     );
     CREATE INDEX lines_room_at ON lines(room, at);
     -- detail=none: the index keeps which lines have a word, not where; enough for /search, whose
     -- terms are single words (see fts_query), and it halves the cost of indexing a line.
     CREATE VIRTUAL TABLE lines_fts USING fts5(
         text, content = 'lines', content_rowid = 'id', detail = none, columnsize = 0,
         tokenize = \"unicode61 categories 'L* N* Co M* So'\"
     );",
    // 2: what is kept across restarts besides lines (see `kept`): bans, topics, operators.
    "CREATE TABLE bans (
         name_key TEXT    NOT NULL, -- the banned nickname's collision key
         ip       TEXT    NOT NULL, -- the banned address
         until_ms INTEGER NOT NULL, -- Unix milliseconds
         by_nick  TEXT    NOT NULL,
         reason   TEXT
     );
     CREATE TABLE topics (
         room     TEXT    PRIMARY KEY, -- the room's key (lower-cased name)
         name     TEXT    NOT NULL,    -- the name as spelled when set
         topic    TEXT,                -- NULL: only locked
         set_by   TEXT,
         locked   INTEGER NOT NULL,
         changed  INTEGER NOT NULL     -- Unix milliseconds of the last change
     );
     CREATE INDEX topics_changed ON topics(changed);
     CREATE TABLE op_grants (
         nick_key    TEXT    PRIMARY KEY,
         key_hash    TEXT    NOT NULL, -- of the session's resume key, never the key
         fingerprint TEXT    NOT NULL, -- of the admin key it was granted under
         granted     INTEGER NOT NULL  -- Unix milliseconds
     );",
];

/// Kinds whose text a person typed: the ones `/search` looks in.
const SEARCHABLE: &[&str] = &["msg", "me", "scheduled", "topic", "quit", "kick"];
/// The same, as an SQL list (our own constants, not user input).
const SEARCHABLE_SQL: &str = "('msg', 'me', 'scheduled', 'topic', 'quit', 'kick')";

/// Rows deleted per statement when pruning, so one prune never holds the database for long.
const PRUNE_CHUNK: usize = 5000;

/// What can go wrong opening or using the store.
#[derive(Debug)]
pub enum StoreError {
    /// The data directory could not be created.
    Dir(PathBuf, std::io::Error),
    Sqlite(rusqlite::Error),
    /// The database was written by a newer reactor-chat.
    TooNew {
        found: u32,
        known: u32,
    },
    /// A backup could not start (see `Store::backup`).
    Backup(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Dir(dir, e) => write!(f, "cannot create {}: {e}", dir.display()),
            StoreError::Sqlite(e) => write!(f, "{e}"),
            StoreError::Backup(why) => write!(f, "{why}"),
            StoreError::TooNew { found, known } => write!(
                f,
                "the history database has schema version {found}; this reactor-chat knows up to {known}"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An open history database.
pub struct Store {
    conn: Connection,
    /// Room ids by the room's name as spelled in events (most lines hit this, without allocating).
    room_ids: std::collections::HashMap<Arc<str>, i64>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish()
    }
}

impl Store {
    /// Opens (creating on first start) `dir/history.sqlite3` in WAL mode, with every commit
    /// synced to disk, and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Dir(dir.to_path_buf(), e))?;
        let conn = Connection::open(dir.join(FILE_NAME))?;
        // WAL: readers never block the writer and a commit is one append. FULL: each commit is
        // fsynced, which batching makes cheap (one per --flush-ms at most).
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        // A checkpoint (copying the WAL into the database, two fsyncs) every 16 MiB of WAL rather
        // than every 4 MiB: under a flood of lines it would otherwise run every few commits.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 4000;",
        )?;
        Store::setup(conn)
    }

    /// Copies the history database in `dir` to a new file `to` with SQLite's online backup API,
    /// while a server may be writing it: the copy is one consistent snapshot (a page the server
    /// changes meanwhile is copied again). Returns how many lines the copy holds. `to` must not
    /// exist yet: a backup never overwrites.
    pub fn backup(dir: &Path, to: &Path) -> Result<usize> {
        use rusqlite::backup::Backup;
        use rusqlite::OpenFlags;
        let source = dir.join(FILE_NAME);
        if !source.exists() {
            return Err(StoreError::Backup(format!(
                "{} does not exist",
                source.display()
            )));
        }
        if to.exists() {
            return Err(StoreError::Backup(format!(
                "{} exists already; a backup never overwrites",
                to.display()
            )));
        }
        let src = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        src.execute_batch("PRAGMA busy_timeout = 5000;")?;
        let mut dst = Connection::open(to)?;
        {
            let backup = Backup::new(&src, &mut dst)?;
            // 256 pages (1 MiB) a step, letting the server's writes in between steps.
            backup.run_to_completion(256, Duration::from_millis(5), None)?;
        }
        let lines: i64 = dst.query_row("SELECT count(*) FROM lines", [], |r| r.get(0))?;
        Ok(usize::try_from(lines).unwrap_or(0))
    }

    /// A throw-away database in memory, for tests.
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        let known = MIGRATIONS.len() as u32;
        let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            // PRAGMA takes no parameters; the value is our own integer.
            tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
            tx.commit()?;
        }
        Ok(Store {
            conn,
            room_ids: std::collections::HashMap::new(),
        })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Starts a batch: inserts until `commit` are one transaction.
    pub fn begin(&mut self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Ends a batch, making it durable.
    pub fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Abandons a batch after an error (a no-op outside one).
    pub fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// Whether a batch is open.
    pub fn in_batch(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Stores one room event; events that are not room events are ignored (`Ok(false)`), and so
    /// is an id stored before.
    pub fn insert(&mut self, event: &Event) -> Result<bool> {
        let Some(row) = RowData::of(event) else {
            return Ok(false);
        };
        let room = self.room_id(row.room)?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO lines (id, room, at, kind, sender, text, extra)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let n = stmt.execute(params![
            row.id.0 as i64,
            room,
            row.at as i64,
            row.kind,
            row.sender,
            row.text,
            row.extra,
        ])?;
        if n == 1 && SEARCHABLE.contains(&row.kind) && !row.text.is_empty() {
            self.conn
                .prepare_cached("INSERT INTO lines_fts (rowid, text) VALUES (?1, ?2)")?
                .execute(params![row.id.0 as i64, row.text])?;
        }
        Ok(n == 1)
    }

    /// The id of a room, created with its first line.
    fn room_id(&mut self, name: &str) -> Result<i64> {
        if let Some(&id) = self.room_ids.get(name) {
            return Ok(id);
        }
        let key = room_key(name);
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO rooms (key, name) VALUES (?1, ?2)")?
            .execute(params![key, name])?;
        let id = self
            .conn
            .prepare_cached("SELECT id FROM rooms WHERE key = ?1")?
            .query_row(params![key], |r| r.get(0))?;
        self.room_ids.insert(Arc::from(name), id);
        Ok(id)
    }

    /// Stores events as one transaction; returns how many were new.
    pub fn append(&mut self, events: &[Event]) -> Result<usize> {
        self.begin()?;
        let mut stored = 0;
        for event in events {
            match self.insert(event) {
                Ok(new) => stored += usize::from(new),
                Err(e) => {
                    self.rollback();
                    return Err(e);
                }
            }
        }
        self.commit()?;
        Ok(stored)
    }

    /// Answers a history query (it also sees the open batch: same connection).
    /// What the chat core's recent lines start from: the newest `lines` lines of the `rooms` most
    /// recently active rooms (oldest first, with whether they are all the room has), and the keys
    /// of every room with history. Read once at start, before the storage thread runs. One
    /// index lookup per room for the activity, one query per loaded room.
    pub fn recent_rooms(&mut self, rooms: usize, lines: usize) -> Result<RecentRooms> {
        let keys: Vec<(String, String)> = self
            .conn
            .prepare(
                "SELECT key, name FROM rooms
                 ORDER BY (SELECT max(at) FROM lines WHERE lines.room = rooms.id) DESC",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut loaded = Vec::new();
        for (key, name) in keys.iter().take(rooms) {
            let query = HistoryQuery {
                room: Arc::from(name.as_str()),
                what: HistoryWhat::Last { n: lines },
            };
            let found = self.query(&query)?;
            let all = found.events.len() < lines;
            loaded.push((key.clone(), found.events, all));
        }
        let on_disk = keys.into_iter().map(|(key, _)| key).collect();
        Ok(RecentRooms { loaded, on_disk })
    }

    pub fn query(&mut self, query: &HistoryQuery) -> Result<HistoryLines> {
        let room: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM rooms WHERE key = ?1")?
            .query_row(params![room_key(&query.room)], |r| r.get(0))
            .optional()?;
        let Some(room) = room else {
            return Ok(HistoryLines::default()); // nothing was ever said there
        };
        const COLUMNS: &str = "l.id, r.name, l.at, l.kind, l.sender, l.text, l.extra
                               FROM lines l JOIN rooms r ON r.id = l.room";
        match &query.what {
            HistoryWhat::Last { n } | HistoryWhat::Backlog { n } => {
                let sql = format!(
                    "SELECT {COLUMNS} WHERE l.room = ?1 ORDER BY l.at DESC, l.id DESC LIMIT ?2"
                );
                let mut events = self.select(&sql, params![room, *n as i64])?;
                events.reverse();
                let total = events.len();
                Ok(HistoryLines { events, total })
            }
            HistoryWhat::Day { from, to, max, .. } => {
                let sql = format!(
                    "SELECT {COLUMNS} WHERE l.room = ?1 AND l.at >= ?2 AND l.at < ?3
                     ORDER BY l.at, l.id LIMIT ?4"
                );
                let (from, to) = (*from as i64, *to as i64);
                let events = self.select(&sql, params![room, from, to, *max as i64])?;
                let total: i64 = self
                    .conn
                    .prepare_cached(
                        "SELECT count(*) FROM lines WHERE room = ?1 AND at >= ?2 AND at < ?3",
                    )?
                    .query_row(params![room, from, to], |r| r.get(0))?;
                Ok(HistoryLines {
                    events,
                    total: usize::try_from(total).unwrap_or(0),
                })
            }
            HistoryWhat::Leaderboard { top } => {
                let entries = self.scores(room, None, *top)?;
                Ok(HistoryLines {
                    events: vec![Event::Game(GameNotice::Leaderboard {
                        room: query.room.clone(),
                        entries,
                    })],
                    total: 1,
                })
            }
            HistoryWhat::Player { nick } => {
                let entry = self
                    .scores(room, Some(nick), 1)?
                    .pop()
                    .unwrap_or(ScoreEntry {
                        nick: nick.clone(),
                        points: 0,
                        wins: 0,
                    });
                Ok(HistoryLines {
                    events: vec![Event::Game(GameNotice::PlayerScore {
                        room: query.room.clone(),
                        entry,
                    })],
                    total: 1,
                })
            }
            HistoryWhat::Search { words, from, max } => {
                let events = self.search(room, words, from.as_deref(), *max)?;
                let total = events.len();
                Ok(HistoryLines { events, total })
            }
        }
    }

    /// `/search`: lines of `room` with every word, written by `from` if given, newest first.
    /// The sender is compared case-insensitively, as the game's scores are (`lower()` folds
    /// ASCII; other scripts have no case to fold or are compared as typed).
    fn search(&self, room: i64, words: &str, from: Option<&str>, max: usize) -> Result<Vec<Event>> {
        const COLUMNS: &str = "SELECT l.id, r.name, l.at, l.kind, l.sender, l.text, l.extra";
        let limit = max as i64;
        match (fts_query(words), from) {
            (Some(matcher), from) => {
                let sql = format!(
                    "{COLUMNS}
                     FROM lines_fts JOIN lines l ON l.id = lines_fts.rowid
                     JOIN rooms r ON r.id = l.room
                     WHERE lines_fts MATCH ?1 AND l.room = ?2
                       AND (?3 IS NULL OR lower(l.sender) = lower(?3))
                     ORDER BY lines_fts.rowid DESC LIMIT ?4"
                );
                self.select(&sql, params![matcher, room, from, limit])
            }
            // Only a sender: the room's lines newest first, through its (room, at) index.
            (None, Some(from)) if words.trim().is_empty() => {
                let sql = format!(
                    "{COLUMNS}
                     FROM lines l JOIN rooms r ON r.id = l.room
                     WHERE l.room = ?1 AND l.kind IN {SEARCHABLE_SQL}
                       AND lower(l.sender) = lower(?2)
                     ORDER BY l.at DESC, l.id DESC LIMIT ?3"
                );
                self.select(&sql, params![room, from, limit])
            }
            // Words with nothing searchable in them (only punctuation) find nothing.
            (None, _) => Ok(Vec::new()),
        }
    }

    /// Game scores in `room`, from the stored wins: best first, or one player's (nickname
    /// compared case-insensitively, as nicknames are).
    fn scores(&self, room: i64, nick: Option<&str>, top: usize) -> Result<Vec<ScoreEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT max(sender),
                    sum(CAST(substr(extra, 1, instr(extra, ' ') - 1) AS INTEGER)) AS points,
                    count(*)
             FROM lines
             WHERE room = ?1 AND kind = 'game_won' AND (?2 IS NULL OR lower(sender) = lower(?2))
             GROUP BY lower(sender)
             ORDER BY points DESC, max(sender)
             LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![room, nick, top as i64], |r| {
            Ok(ScoreEntry {
                nick: Arc::from(r.get::<_, String>(0)?),
                points: r.get::<_, i64>(1)?.max(0) as u64,
                wins: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn select(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Event>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, event_of_row)?;
        let mut events = Vec::new();
        for row in rows {
            // Unknown kinds (from a newer server sharing the file) are skipped, not errors.
            events.extend(row?);
        }
        Ok(events)
    }

    /// Deletes lines older than `cutoff_ms` (and their search entries) in transactions of at most
    /// `PRUNE_CHUNK` lines; returns how many went.
    pub fn prune_before(&mut self, cutoff_ms: u64) -> Result<usize> {
        let below = MsgId::first_at(cutoff_ms).0 as i64;
        let mut total = 0;
        loop {
            // The id just past this chunk, or the cutoff when fewer lines than a chunk are left.
            let next: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM lines WHERE id < ?1 ORDER BY id LIMIT 1 OFFSET ?2",
                    params![below, PRUNE_CHUNK as i64],
                    |r| r.get(0),
                )
                .optional()?;
            let bound = next.unwrap_or(below);
            let tx = self.conn.transaction()?;
            // An external-content index is told what it indexed in order to forget it.
            tx.execute(
                &format!(
                    "INSERT INTO lines_fts (lines_fts, rowid, text)
                     SELECT 'delete', id, text FROM lines
                     WHERE id < ?1 AND kind IN {SEARCHABLE_SQL} AND text != ''"
                ),
                params![bound],
            )?;
            let n = tx.execute("DELETE FROM lines WHERE id < ?1", params![bound])?;
            tx.commit()?;
            total += n;
            if next.is_none() {
                return Ok(total);
            }
        }
    }

    /// Lines stored in all rooms.
    pub fn count(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM lines", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The kind and text stored for an id, exactly as stored (for tests and tools).
    pub fn raw(&self, id: MsgId) -> Result<Option<(String, String, String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT r.name, l.kind, l.sender, l.text
                 FROM lines l JOIN rooms r ON r.id = l.room WHERE l.id = ?1",
                params![id.0 as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
    }
}

/// Turns user words into an FTS5 MATCH expression that cannot be a syntax error. Each run of
/// letters, digits and marks becomes one quoted term used as a prefix (`"word"*`), and every term
/// must match. Everything else a user types (quotes, `-`, `:`, `(`, `*`) separates terms, as the
/// tokenizer (`unicode61` with categories L*, N*, Co, M*, So) does when it indexes, so each term is one
/// token (every char `is_alphanumeric` accepts is in those categories; So holds the alphabetic
/// symbols such as `Ⓐ`): exactly what a `detail=none` index can answer. Operator words (`OR`, `NOT`, `NEAR`) are
/// quoted, so they are words too. `None` when no term is left.
pub fn fts_query(words: &str) -> Option<String> {
    let terms: Vec<String> = words
        .split(|c: char| !(c.is_alphanumeric() || is_mark(c)))
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{t}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Combining marks (the M* categories), roughly: the tokenizer keeps them inside a word, so a
/// search term must too. Rust's `is_alphanumeric` already covers the marks that are alphabetic.
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// How a history retention in days becomes a cutoff.
pub fn cutoff(now_ms: u64, keep: Duration) -> u64 {
    now_ms.saturating_sub(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
