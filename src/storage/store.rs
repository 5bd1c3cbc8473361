//! The history database: SQLite through rusqlite, and nothing else. It also holds what the chat
//! core keeps across restarts besides lines (bans, topics, operator grants; see [`kept`]), so one
//! file, one transaction a flush, and one backup cover everything a server keeps.
//!
//! Pure storage code with no threads or channels, so it is unit-tested against an in-memory
//! database or a temporary directory. Room events are stored many to a row: table `blocks` holds
//! runs of up to 128 consecutive lines of one room (see [`block`] for the encoding and
//! [`open_blocks`] for how a run is filled and made durable at every commit), found by room and
//! time; an FTS5 table indexes each block's text once it is full and the storage thread has
//! time for it ([`search`]). A row, a document
//! and an index entry a block instead of a line is what makes storing a line cost a fraction of a
//! microsecond. Game results are also kept as rows of their own (`game_wins`), so scores are an
//! aggregate query. Every value goes in as a bound parameter: no user text is ever part of SQL.
//!
//! The schema version lives in `PRAGMA user_version`; [`MIGRATIONS`] brings an older database up
//! to date on open, and a database from a newer server is refused rather than misread.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::chat::event::record::{event_of_line, RowData};
use crate::chat::event::{Event, GameNotice, ScoreEntry};
use crate::chat::event::{HistoryLines, HistoryQuery, HistoryWhat};
use crate::chat::id::MsgId;
use crate::chat::{room_key, RecentRooms};
use open_blocks::{Appended, OpenBlocks};
pub use search::{fts_query, SearchLimits};

mod block;
mod kept;
mod open_blocks;
mod schema;
mod search;

pub use kept::KeptLimits;

/// The database file inside `--data-dir`.
pub const FILE_NAME: &str = "history.sqlite3";

/// One step of the schema: SQL, or SQL and then code that moves rows into the new layout.
enum Migration {
    Sql(&'static str),
    Code(&'static str, fn(&rusqlite::Transaction<'_>) -> Result<()>),
}

/// Schema migrations, in order: entry `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[Migration] = &[
    // 1: one row a line, with its room/time index and the full-text index of what people wrote.
    //    Version 3 replaces both; a database at 1 or 2 is moved by it.
    Migration::Sql(
        "CREATE TABLE rooms (
             id       INTEGER PRIMARY KEY,
             key      TEXT    NOT NULL UNIQUE, -- lower-cased name (rooms are case-insensitive)
             name     TEXT    NOT NULL         -- the name as first shown
         );
         CREATE TABLE lines (
             id       INTEGER PRIMARY KEY,
             room     INTEGER NOT NULL REFERENCES rooms(id),
             at       INTEGER NOT NULL,
             kind     TEXT    NOT NULL,
             sender   TEXT    NOT NULL,
             text     TEXT    NOT NULL,
             extra    TEXT
         );
         CREATE INDEX lines_room_at ON lines(room, at);
         CREATE VIRTUAL TABLE lines_fts USING fts5(
             text, content = 'lines', content_rowid = 'id', detail = none, columnsize = 0,
             tokenize = \"unicode61 categories 'L* N* Co M* So'\"
         );",
    ),
    // 2: what is kept across restarts besides lines (see `kept`): bans, topics, operators.
    Migration::Sql(
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
    ),
    // 3: lines in blocks. A row holds up to 128 consecutive events of one room (`block`), found
    //    by room and time; the full-text index has a document a sealed block, written when the
    //    storage thread has time for it (`search`). Lines from any server (each id carries its
    //    node) go in the same way, so a cluster's history read into this file needs no other
    //    layout, and `/search from:` is answered by the index (a token a sender). Game results
    //    have their own rows, for the scores.
    Migration::Code(
        "CREATE TABLE blocks (
             id       INTEGER PRIMARY KEY, -- in the order written: a room's blocks in id order
                                           -- are its lines in the order they were stored
             room     INTEGER NOT NULL REFERENCES rooms(id),
             min_id   INTEGER NOT NULL,    -- smallest and largest message id in the block
             max_id   INTEGER NOT NULL,
             min_at   INTEGER NOT NULL,    -- earliest and latest line, Unix milliseconds
             max_at   INTEGER NOT NULL,
             lines    INTEGER NOT NULL,    -- how many
             sealed   INTEGER NOT NULL,    -- 1: full; 0: a piece of the room's block still
                                           -- being filled
             indexed  INTEGER NOT NULL,    -- 1: its document is in blocks_fts (sealed only)
             data     BLOB    NOT NULL     -- the lines, encoded by `block`
         );
         CREATE INDEX blocks_room_time ON blocks(room, max_at);
         -- A room's largest id, and the blocks that may hold an id (a line stored twice is
         -- ignored); by id alone, what a retention cutoff deletes.
         CREATE INDEX blocks_room_id ON blocks(room, max_id);
         CREATE INDEX blocks_min_id ON blocks(min_id);
         -- Pieces, and sealed blocks waiting for the index: what a search reads directly.
         CREATE INDEX blocks_unindexed ON blocks(room) WHERE indexed = 0;
         CREATE VIRTUAL TABLE blocks_fts USING fts5(
             words, content = '', contentless_delete = 1, detail = none,
             tokenize = \"unicode61 categories 'L* N* Co M* So'\"
         );
         CREATE TABLE game_wins (
             id       INTEGER PRIMARY KEY, -- the message id of the result
             room     INTEGER NOT NULL REFERENCES rooms(id),
             nick     TEXT    NOT NULL,
             points   INTEGER NOT NULL,
             secs     INTEGER NOT NULL
         );
         CREATE INDEX game_wins_room ON game_wins(room);",
        schema::lines_into_blocks,
    ),
];

/// Blocks deleted per transaction when pruning, so one prune never holds the database for long.
const PRUNE_CHUNK: usize = 500;

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
    /// A stored block could not be read (see `block`).
    Block(String),
    /// The batch's transaction is gone (SQLite rolls a whole transaction back on some errors,
    /// a full disk among them): none of the batch's lines was stored.
    BatchLost,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Dir(dir, e) => write!(f, "cannot create {}: {e}", dir.display()),
            StoreError::Sqlite(e) => write!(f, "{e}"),
            StoreError::Backup(why) | StoreError::Block(why) => write!(f, "{why}"),
            StoreError::BatchLost => write!(f, "the batch's transaction was rolled back"),
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

/// A column read as the wrong type (a damaged or foreign file).
impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        StoreError::Sqlite(e.into())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An open history database.
pub struct Store {
    conn: Connection,
    /// Room ids by the room's name as spelled in events (most lines hit this, without allocating).
    room_ids: std::collections::HashMap<Arc<str>, i64>,
    /// The rooms' blocks being filled.
    open: OpenBlocks,
    /// Lines in sealed blocks waiting for the full-text index.
    unindexed_lines: usize,
    /// `begin` opened a batch that neither `commit` nor `rollback` has ended: if SQLite has no
    /// transaction meanwhile, an error rolled it back (see `StoreError::BatchLost`).
    batch_open: bool,
    search_limits: SearchLimits,
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
        let lines: i64 = dst.query_row("SELECT coalesce(sum(lines), 0) FROM blocks", [], |r| {
            r.get(0)
        })?;
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
        for (version, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.transaction()?;
            match migration {
                Migration::Sql(sql) => tx.execute_batch(sql)?,
                Migration::Code(sql, code) => {
                    tx.execute_batch(sql)?;
                    code(&tx)?;
                }
            }
            // PRAGMA takes no parameters; the value is our own integer.
            tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
            tx.commit()?;
        }
        search::create_probe(&conn)?;
        let mut store = Store {
            conn,
            room_ids: std::collections::HashMap::new(),
            open: OpenBlocks::default(),
            unindexed_lines: 0,
            batch_open: false,
            search_limits: SearchLimits::default(),
        };
        store.count_unindexed()?;
        Ok(store)
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
        self.batch_open = true;
        Ok(())
    }

    /// Ends a batch, making it durable: the lines of blocks still being filled are written
    /// first, so the commit holds every line it was given. On an error nothing of the batch is
    /// kept (it is rolled back), so a batch is stored whole or not at all.
    pub fn commit(&mut self) -> Result<()> {
        let written = self
            .batch_intact()
            .and_then(|()| self.open.write_all(&self.conn));
        if let Err(e) = written.and_then(|()| Ok(self.conn.execute_batch("COMMIT")?)) {
            self.rollback();
            return Err(e);
        }
        self.batch_open = false;
        Ok(())
    }

    /// `BatchLost` if the open batch's transaction is gone.
    fn batch_intact(&self) -> Result<()> {
        if self.batch_open && self.conn.is_autocommit() {
            return Err(StoreError::BatchLost);
        }
        Ok(())
    }

    /// Abandons a batch after an error (a no-op outside one). The open blocks in memory held
    /// lines the rollback took back: they are read again from the rows that remain, as are the
    /// room ids.
    pub fn rollback(&mut self) {
        self.batch_open = false;
        self.open.forget();
        // A room first seen in the batch lost its row too.
        self.room_ids.clear();
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        // Sealed blocks of the batch went with it.
        let _ = self.count_unindexed();
    }

    /// Whether a batch is open.
    pub fn in_batch(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Stores one room event in the open batch (one is begun if none is); events that are not
    /// room events are ignored (`Ok(false)`), and so is an id stored before. On an error the
    /// whole batch is rolled back: a half-written block (a sealed row whose pieces are still
    /// there) must never be committed.
    pub fn insert(&mut self, event: &Event) -> Result<bool> {
        let Some(row) = RowData::of(event) else {
            return Ok(false);
        };
        if !self.batch_open {
            self.begin()?;
        }
        let stored = self.batch_intact().and_then(|()| self.insert_row(&row));
        if stored.is_err() {
            self.rollback();
        }
        stored
    }

    fn insert_row(&mut self, row: &RowData<'_>) -> Result<bool> {
        let room = self.room_id(row.room)?;
        let new = match self.open.append(&self.conn, room, &row.line())? {
            Appended::StoredBefore => false,
            Appended::Added => true,
            Appended::Sealed(lines) => {
                self.unindexed_lines += lines;
                true
            }
        };
        if new && row.kind == "game_won" {
            // "points secs", as the line keeps them.
            let mut parts = row.extra.as_deref().unwrap_or("").split(' ');
            let mut number = || {
                parts
                    .next()
                    .and_then(|n| n.parse::<i64>().ok())
                    .unwrap_or(0)
            };
            let (points, secs) = (number(), number());
            self.conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO game_wins (id, room, nick, points, secs)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![row.id.0 as i64, room, row.sender, points, secs])?;
        }
        Ok(new)
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

    /// How much one `/search` may read (`--search-max-unindexed`, `--search-max-examined`).
    pub fn set_search_limits(&mut self, limits: SearchLimits) {
        self.search_limits = limits;
    }

    /// Lines in sealed blocks not in the full-text index yet.
    pub fn unindexed_lines(&self) -> usize {
        self.unindexed_lines
    }

    fn count_unindexed(&mut self) -> Result<()> {
        let n: i64 = self.conn.query_row(
            "SELECT coalesce(sum(lines), 0) FROM blocks WHERE indexed = 0 AND sealed = 1",
            [],
            |r| r.get(0),
        )?;
        self.unindexed_lines = usize::try_from(n).unwrap_or(0);
        Ok(())
    }

    /// Indexes up to `max_blocks` sealed blocks waiting for the full-text index; returns how
    /// many lines they hold. In the open batch if there is one, inside a savepoint, so a failure
    /// undoes only the indexing (unless SQLite dropped the whole transaction: `BatchLost`);
    /// else in a transaction of its own.
    pub fn index_pending(&mut self, max_blocks: usize) -> Result<usize> {
        if self.unindexed_lines == 0 {
            return Ok(0);
        }
        let (begin, end, undo) = if self.batch_open {
            self.batch_intact()?;
            (
                "SAVEPOINT indexing",
                "RELEASE indexing",
                "ROLLBACK TO indexing; RELEASE indexing",
            )
        } else {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        };
        self.conn.execute_batch(begin)?;
        let indexed = search::index_pending(&self.conn, max_blocks)
            .and_then(|done| Ok(self.conn.execute_batch(end).map(|()| done)?));
        let (blocks, lines) = match indexed {
            Ok(done) => done,
            Err(e) => {
                if self.batch_open && self.conn.is_autocommit() {
                    self.rollback();
                    return Err(StoreError::BatchLost);
                }
                let _ = self.conn.execute_batch(undo);
                let _ = self.count_unindexed();
                return Err(e);
            }
        };
        self.unindexed_lines = self.unindexed_lines.saturating_sub(lines);
        if blocks < max_blocks && self.unindexed_lines > 0 {
            // Fewer blocks than asked: none is left, whatever the count said.
            self.count_unindexed()?;
        }
        Ok(lines)
    }

    /// Stores events as one transaction, indexed before it commits (the whole cost of
    /// storing them; the storage thread may index later); returns how many were new.
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
        if let Err(e) = self.index_pending(usize::MAX).map(|_| ()) {
            self.rollback();
            return Err(e);
        }
        if let Err(e) = self.commit() {
            self.rollback();
            return Err(e);
        }
        Ok(stored)
    }

    /// What the chat core's recent lines start from: the newest `lines` lines of the `rooms` most
    /// recently active rooms (oldest first, with whether they are all the room has), and the keys
    /// of every room with history. Read once at start, before the storage thread runs. One
    /// index lookup per room for the activity, one query per loaded room.
    pub fn recent_rooms(&mut self, rooms: usize, lines: usize) -> Result<RecentRooms> {
        let keys: Vec<(String, String)> = self
            .conn
            .prepare(
                "SELECT key, name FROM rooms
                 ORDER BY (SELECT max(max_at) FROM blocks WHERE blocks.room = rooms.id) DESC",
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

    /// Answers a history query (it also sees the open batch: same connection).
    pub fn query(&mut self, query: &HistoryQuery) -> Result<HistoryLines> {
        let room: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT id, name FROM rooms WHERE key = ?1")?
            .query_row(params![room_key(&query.room)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((room, name)) = room else {
            return Ok(HistoryLines::default()); // nothing was ever said there
        };
        // The room's lines still only in memory go to its rows first: the queries read rows.
        self.open.write_room(&self.conn, room)?;
        let name: Arc<str> = Arc::from(name);
        match &query.what {
            HistoryWhat::Last { n } | HistoryWhat::Backlog { n } => {
                let events = self.last(room, &name, *n)?;
                let total = events.len();
                Ok(HistoryLines { events, total })
            }
            HistoryWhat::Day { from, to, max, .. } => self.day(room, &name, *from, *to, *max),
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
                let terms = fts_query(words);
                // Words with nothing searchable in them (only punctuation) find nothing; no
                // words and a sender find the sender's lines.
                if terms.is_none() && (from.is_none() || !words.trim().is_empty()) {
                    return Ok(HistoryLines::default());
                }
                let search = search::Search {
                    room,
                    room_name: &name,
                    words,
                    terms,
                    from: from.as_deref(),
                    max: *max,
                    limits: self.search_limits,
                };
                let events = search.run(&self.conn)?;
                let total = events.len();
                Ok(HistoryLines { events, total })
            }
        }
    }

    /// The room's newest `n` lines, oldest first: its newest blocks, read until they hold `n`.
    fn last(&self, room: i64, name: &Arc<str>, n: usize) -> Result<Vec<Event>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT max_at, data FROM blocks WHERE room = ?1 ORDER BY max_at DESC, id DESC",
        )?;
        let mut rows = stmt.query(params![room])?;
        // Blocks newest first, until one holds nothing newer than the n-th newest line found
        // so far: blocks' times can overlap (a clock stepped back), so "n lines read" is not
        // enough.
        let (mut blocks, mut times) = (Vec::new(), Vec::new());
        while let Some(row) = rows.next()? {
            let max_at = row.get::<_, i64>(0)? as u64;
            if times.len() >= n && max_at < nth_largest(&mut times, n) {
                break;
            }
            let data = row.get::<_, Vec<u8>>(1)?;
            if let Ok(lines) = block::decode(&data) {
                times.extend(lines.iter().map(|l| l.at));
            }
            blocks.push(data);
        }
        // Only the `n` newest lines become events (a backlog of 10 reads a block of 128).
        let mut newest: Vec<block::Line<'_>> = blocks
            .iter()
            .filter_map(|data| block::decode(data).ok()) // a newer server's block: skipped
            .flatten()
            .collect();
        newest.sort_by_key(|l| (l.at, l.id));
        let mut events: Vec<Event> = newest
            .iter()
            .rev()
            .filter_map(|l| event_of_line(name, l)) // a kind this server does not know: skipped
            .take(n)
            .collect();
        events.reverse();
        Ok(events)
    }

    /// `/history DATE`: the first `max` lines in `[from, to)` with the count of all of them.
    /// Blocks wholly inside the range are counted by their `lines` column, not read, once
    /// `max` lines are found.
    fn day(
        &self,
        room: i64,
        name: &Arc<str>,
        from: u64,
        to: u64,
        max: usize,
    ) -> Result<HistoryLines> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT min_at, max_at, lines, data FROM blocks
             WHERE room = ?1 AND max_at >= ?2 AND min_at < ?3 ORDER BY max_at, id",
        )?;
        let mut rows = stmt.query(params![room, from as i64, to as i64])?;
        // The times of the first `max` lines found so far (a max-heap of at most `max`).
        let mut first_times = std::collections::BinaryHeap::with_capacity(max + 1);
        let (mut events, mut total) = (Vec::new(), 0usize);
        while let Some(row) = rows.next()? {
            let (min_at, max_at, lines): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            let inside = min_at as u64 >= from && (max_at as u64) < to;
            // A block inside the day whose lines all come after the first `max` found is only
            // counted (blocks' times can overlap, so its place in the order is not enough).
            let last_kept = first_times
                .peek()
                .filter(|_| first_times.len() >= max.max(1));
            if inside && last_kept.is_some_and(|&at| min_at as u64 > at) {
                total += lines as usize;
                continue;
            }
            let Ok(lines) = block::decode(row.get_ref(3)?.as_blob()?) else {
                continue;
            };
            for line in lines.iter().filter(|l| l.at >= from && l.at < to) {
                total += 1;
                first_times.push(line.at);
                if first_times.len() > max {
                    first_times.pop();
                }
                events.extend(timed(name, line));
            }
        }
        let mut events = in_time_order(events);
        events.truncate(max);
        Ok(HistoryLines { events, total })
    }

    /// Game scores in `room`, from the stored wins: best first, or one player's (nickname
    /// compared case-insensitively, as nicknames are).
    fn scores(&self, room: i64, nick: Option<&str>, top: usize) -> Result<Vec<ScoreEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT max(nick), sum(points) AS total, count(*)
             FROM game_wins
             WHERE room = ?1 AND (?2 IS NULL OR lower(nick) = lower(?2))
             GROUP BY lower(nick)
             ORDER BY total DESC, max(nick)
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

    /// Deletes lines older than `cutoff_ms` (with their search entries and game results);
    /// returns how many went. Whole blocks go in transactions of at most `PRUNE_CHUNK` blocks; a
    /// block with older and newer lines is written again with the newer ones.
    pub fn prune_before(&mut self, cutoff_ms: u64) -> Result<usize> {
        let below = MsgId::first_at(cutoff_ms).0 as i64;
        if self.batch_open {
            self.commit()?;
        }
        // Pruning rewrites rows the open blocks were read from.
        self.open.forget();
        let mut total = 0;
        loop {
            let tx = self.conn.transaction()?;
            let chunk: Vec<(i64, i64, bool)> = tx
                .prepare_cached(
                    "SELECT id, lines, indexed FROM blocks WHERE min_id < ?1 AND max_id < ?1 LIMIT ?2",
                )?
                .query_map(params![below, PRUNE_CHUNK as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            for &(id, lines, indexed) in &chunk {
                if indexed {
                    tx.prepare_cached("DELETE FROM blocks_fts WHERE rowid = ?1")?
                        .execute(params![id])?;
                }
                tx.prepare_cached("DELETE FROM blocks WHERE id = ?1")?
                    .execute(params![id])?;
                total += lines as usize;
            }
            tx.commit()?;
            if chunk.len() < PRUNE_CHUNK {
                break;
            }
        }
        let tx = self.conn.transaction()?;
        total += schema::trim_blocks_before(&tx, below)?;
        tx.execute("DELETE FROM game_wins WHERE id < ?1", params![below])?;
        tx.commit()?;
        self.count_unindexed()?;
        Ok(total)
    }

    /// Lines stored in all rooms.
    pub fn count(&mut self) -> Result<usize> {
        self.open.write_all(&self.conn)?;
        let n: i64 =
            self.conn
                .query_row("SELECT coalesce(sum(lines), 0) FROM blocks", [], |r| {
                    r.get(0)
                })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The room, kind, sender and text stored for an id, exactly as stored (for tests and
    /// tools: it reads every block that could hold the id).
    pub fn raw(&mut self, id: MsgId) -> Result<Option<(String, String, String, String)>> {
        self.open.write_all(&self.conn)?;
        let mut stmt = self.conn.prepare(
            "SELECT r.name, b.data FROM blocks b JOIN rooms r ON r.id = b.room
             WHERE b.min_id <= ?1 AND b.max_id >= ?1",
        )?;
        let mut rows = stmt.query(params![id.0 as i64])?;
        while let Some(row) = rows.next()? {
            let room: String = row.get(0)?;
            let Ok(lines) = block::decode(row.get_ref(1)?.as_blob()?) else {
                continue;
            };
            if let Some(l) = lines.iter().find(|l| l.id == id.0) {
                return Ok(Some((
                    room,
                    l.kind.to_string(),
                    l.sender.to_string(),
                    l.text.to_string(),
                )));
            }
        }
        Ok(None)
    }
}

/// The `n`-th largest of `values` (`n` ≥ 1, at most their number); reorders them.
fn nth_largest(values: &mut [u64], n: usize) -> u64 {
    *values.select_nth_unstable_by(n - 1, |a, b| b.cmp(a)).1
}

/// A stored line's event with its time and id, for putting lines of several blocks in order.
fn timed(room: &Arc<str>, line: &block::Line<'_>) -> Option<(u64, u64, Event)> {
    event_of_line(room, line).map(|e| (line.at, line.id, e))
}

/// Events in time order, ids breaking ties (the order of one row a line, ordered by time).
fn in_time_order(mut events: Vec<(u64, u64, Event)>) -> Vec<Event> {
    events.sort_by_key(|&(at, id, _)| (at, id));
    events.into_iter().map(|(_, _, e)| e).collect()
}

/// How a history retention in days becomes a cutoff.
pub fn cutoff(now_ms: u64, keep: Duration) -> u64 {
    now_ms.saturating_sub(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
