//! `/search`: the full-text index of blocks, and finding the lines inside them.
//!
//! `blocks_fts` has one document per sealed block: the text of its searchable lines, a token for
//! each sender of one (`/search from:`), and one for the room. A search asks it for the blocks
//! holding every term, newest first, and then finds the lines in each block that hold every term
//! themselves with a second FTS5 table of the same tokenizer (`temp.search_probe`, in memory):
//! the block's candidate lines go in, the same MATCH comes out. So a line matches exactly when it
//! would in an index of single lines, without the cost of one.
//!
//! Indexing is most of what storing a line costs, and it can wait: a sealed block is written
//! unindexed (`indexed = 0`) and [`index_pending`] adds the documents of waiting blocks when the
//! storage thread decides to (at once while lines arrive at a chat's pace; during a burst, once it
//! is over, see `storage::Worker`). A search reads the rows not in the index (the room's open
//! block, and blocks waiting) directly, newest first, so a line is found the moment it is
//! stored; past `SearchLimits::max_unindexed` waiting lines of a room, the older ones are found
//! once indexed.
//!
//! The room and sender tokens start with private-use characters, which the tokenizer keeps in a
//! token (category Co) and [`fts_query`] never puts in a user's term, so no word a user types can
//! match one; a block the index returns is still checked against the room it was asked for.

use std::sync::Arc;

use rusqlite::{params, Connection};

use super::block::{self, Line};
use super::Result;
use crate::chat::event::record::event_of_line;
use crate::chat::Event;

/// Kinds whose text a person typed: the ones `/search` looks in.
pub(super) const SEARCHABLE: &[&str] = &["msg", "me", "scheduled", "topic", "quit", "kick"];

/// The tokenizer of both full-text tables: letters, digits, marks, private use and the
/// alphabetic symbols make words (see [`fts_query`]).
pub(super) const TOKENIZER: &str = "tokenize = \"unicode61 categories 'L* N* Co M* So'\"";

/// How much one search may read, so that it never holds the storage thread for long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// `--search-max-unindexed`: most lines of a room's rows not in the index a search reads
    /// (250,000 take about 25 ms); only a burst leaves more waiting.
    pub max_unindexed: usize,
    /// `--search-max-examined`: most lines a search reads from the blocks the index returns
    /// before it answers with what it found: two common words that are seldom in one line
    /// appear together in most blocks.
    pub max_examined: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_unindexed: 250_000,
            max_examined: 20_000,
        }
    }
}

const ROOM_MARK: char = '\u{E001}';
const SENDER_MARK: char = '\u{E000}';

/// The token every document of a room's blocks holds.
pub(super) fn room_token(room: i64) -> String {
    format!("{ROOM_MARK}{room}")
}

/// The token for a sender: the mark and the hex of the ASCII-lower-cased name (a name's own
/// characters could split it into several tokens).
fn sender_token(sender: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut token = String::with_capacity(3 + sender.len() * 2);
    token.push(SENDER_MARK);
    for b in sender.bytes().map(|b| b.to_ascii_lowercase()) {
        token.push(char::from(HEX[usize::from(b >> 4)]));
        token.push(char::from(HEX[usize::from(b & 15)]));
    }
    token
}

fn searchable(line: &Line<'_>) -> bool {
    SEARCHABLE.contains(&&*line.kind)
}

/// The full-text document of a sealed block of `room`.
pub(super) fn document(room: i64, lines: &[Line<'_>]) -> String {
    let mut doc = room_token(room);
    let mut senders: Vec<&str> = Vec::new();
    for line in lines.iter().filter(|l| searchable(l)) {
        if !senders.iter().any(|s| s.eq_ignore_ascii_case(&line.sender)) {
            senders.push(&line.sender);
            doc.push(' ');
            doc.push_str(&sender_token(&line.sender));
        }
        if !line.text.is_empty() {
            doc.push(' ');
            // A mark typed in a line would make a token of ours: a space instead.
            if line.text.contains([ROOM_MARK, SENDER_MARK]) {
                doc.extend(line.text.chars().map(|c| match c {
                    ROOM_MARK | SENDER_MARK => ' ',
                    c => c,
                }));
            } else {
                doc.push_str(&line.text);
            }
        }
    }
    doc
}

/// Adds the documents of up to `max_blocks` sealed blocks waiting for the index (room by room,
/// through the partial index of unindexed rows); returns how many blocks, and the lines they
/// hold by their `lines` column (what the waiting count was made of).
pub(super) fn index_pending(conn: &Connection, max_blocks: usize) -> Result<(usize, usize)> {
    let waiting: Vec<(i64, i64, i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT id, room, lines, data FROM blocks WHERE indexed = 0 AND sealed = 1 LIMIT ?1",
        )?
        .query_map(params![max_blocks.min(i64::MAX as usize) as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let (blocks, mut lines) = (waiting.len(), 0);
    for (id, room, count, data) in waiting {
        lines += count as usize;
        // A block this server cannot read is marked all the same: it would wait forever.
        let doc = block::decode(&data)
            .ok()
            .map(|decoded| document(room, &decoded));
        if let Some(doc) = doc {
            conn.prepare_cached("INSERT INTO blocks_fts (rowid, words) VALUES (?1, ?2)")?
                .execute(params![id, doc])?;
        }
        conn.prepare_cached("UPDATE blocks SET indexed = 1 WHERE id = ?1")?
            .execute(params![id])?;
    }
    Ok((blocks, lines))
}

/// Creates the in-memory table that finds matching lines inside a block.
pub(super) fn create_probe(conn: &Connection) -> Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA temp_store = MEMORY;
         CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_probe
             USING fts5(text, content = '', detail = none, {TOKENIZER});"
    ))?;
    Ok(())
}

/// What one search looks for.
pub(super) struct Search<'a> {
    pub room: i64,
    pub room_name: &'a Arc<str>,
    /// The user's words.
    pub words: &'a str,
    /// The words as an FTS5 expression (`None`: only a sender).
    pub terms: Option<String>,
    pub from: Option<&'a str>,
    pub max: usize,
    pub limits: SearchLimits,
}

impl Search<'_> {
    /// Lines of the room with every term, by the sender if one is given, newest first.
    pub fn run(&self, conn: &Connection) -> Result<Vec<Event>> {
        let mut found = Vec::new();
        // The rows not in the index first: they hold the room's newest lines.
        let mut unindexed = conn.prepare_cached(
            "SELECT data FROM blocks WHERE room = ?1 AND indexed = 0 ORDER BY id DESC",
        )?;
        let mut rows = unindexed.query(params![self.room])?;
        let mut read_unindexed = 0;
        while let Some(row) = rows.next()? {
            read_unindexed += self.lines_in(conn, row.get_ref(0)?.as_blob()?, &mut found)?;
            if found.len() >= self.max {
                found.truncate(self.max);
                return Ok(found);
            }
            if read_unindexed >= self.limits.max_unindexed {
                break;
            }
        }
        drop(rows);
        let mut examined = 0;
        let mut matcher = format!("\"{}\"", room_token(self.room));
        if let Some(from) = self.from {
            matcher.push_str(&format!(" \"{}\"", sender_token(from)));
        }
        if let Some(terms) = &self.terms {
            matcher.push(' ');
            matcher.push_str(terms);
        }
        let mut blocks = conn.prepare_cached(
            "SELECT rowid FROM blocks_fts WHERE blocks_fts MATCH ?1 ORDER BY rowid DESC",
        )?;
        let mut rows = blocks.query(params![matcher])?;
        let mut read = conn.prepare_cached("SELECT room, data FROM blocks WHERE id = ?1")?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let (room, data): (i64, Vec<u8>) =
                read.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if room != self.room {
                continue;
            }
            examined += self.lines_in(conn, &data, &mut found)?;
            if found.len() >= self.max || examined >= self.limits.max_examined {
                break;
            }
        }
        found.truncate(self.max);
        Ok(found)
    }

    /// Appends the block's matching lines to `found`, newest first; returns how many lines it
    /// read. A block of a newer server's format is skipped.
    fn lines_in(&self, conn: &Connection, data: &[u8], found: &mut Vec<Event>) -> Result<usize> {
        let Ok(lines) = block::decode(data) else {
            return Ok(0);
        };
        let candidates: Vec<&Line<'_>> = lines
            .iter()
            .rev()
            .filter(|l| searchable(l))
            .filter(|l| self.from.is_none_or(|f| l.sender.eq_ignore_ascii_case(f)))
            .collect();
        let matching: Vec<&Line<'_>> = match &self.terms {
            None => candidates,
            Some(terms) => {
                let ascii = ascii_terms(self.words);
                let likely: Vec<&Line<'_>> = candidates
                    .into_iter()
                    .filter(|l| ascii.as_ref().is_none_or(|t| may_match(&l.text, t)))
                    .collect();
                probe(conn, &likely, terms)?
            }
        };
        found.extend(
            matching
                .into_iter()
                .filter_map(|l| event_of_line(self.room_name, l)),
        );
        Ok(lines.len())
    }
}

/// The probe's statements: the candidates in, the matching ones' positions out.
fn probe_in(conn: &Connection, candidates: &[&Line<'_>], terms: &str) -> Result<Vec<usize>> {
    conn.execute_batch("INSERT INTO temp.search_probe (search_probe) VALUES ('delete-all')")?;
    let mut insert =
        conn.prepare_cached("INSERT INTO temp.search_probe (rowid, text) VALUES (?1, ?2)")?;
    for (i, line) in candidates.iter().enumerate() {
        if !line.text.is_empty() {
            insert.execute(params![i as i64, &*line.text])?;
        }
    }
    let hits = conn
        .prepare_cached("SELECT rowid FROM temp.search_probe WHERE search_probe MATCH ?1")?
        .query_map(params![terms], |r| r.get::<_, i64>(0))?
        .map(|r| r.map(|i| i as usize))
        .collect::<rusqlite::Result<_>>()?;
    Ok(hits)
}

/// The user's terms in ASCII lower case, when every one is ASCII.
fn ascii_terms(words: &str) -> Option<Vec<String>> {
    let terms: Vec<&str> = terms(words).collect();
    terms
        .iter()
        .all(|t| t.is_ascii())
        .then(|| terms.iter().map(|t| t.to_ascii_lowercase()).collect())
}

/// False only when `text` cannot match every term: an ASCII text matches an ASCII prefix term
/// only if it holds the term, ignoring ASCII case (the tokenizer folds nothing else in ASCII).
/// A text with other characters may match through case folding or diacritics removal: true.
fn may_match(text: &str, ascii_terms: &[String]) -> bool {
    if !text.is_ascii() {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    ascii_terms.iter().all(|t| lower.contains(t.as_str()))
}

/// The candidates whose own text matches `terms`, in their order.
fn probe<'l, 'a>(
    conn: &Connection,
    candidates: &[&'l Line<'a>],
    terms: &str,
) -> Result<Vec<&'l Line<'a>>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // Outside the storage thread's batch, one transaction for all of it: FTS5 writes its
    // buffered entries out at every commit, which would be once a row. (The table is in memory;
    // a deferred BEGIN that writes only there takes no lock on the database.)
    let own = conn.is_autocommit();
    if own {
        conn.execute_batch("BEGIN")?;
    }
    let hits = probe_in(conn, candidates, terms);
    if own {
        conn.execute_batch(if hits.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    }
    let mut hits = hits?;
    hits.sort_unstable();
    Ok(hits.into_iter().map(|i| candidates[i]).collect())
}

/// Turns user words into an FTS5 MATCH expression that cannot be a syntax error. Each run of
/// letters, digits and marks becomes one quoted term used as a prefix (`"word"*`), and every term
/// must match. Everything else a user types (quotes, `-`, `:`, `(`, `*`) separates terms, as the
/// tokenizer (`unicode61` with categories L*, N*, Co, M*, So) does when it indexes, so each term is one
/// token (every char `is_alphanumeric` accepts is in those categories; So holds the alphabetic
/// symbols such as `Ⓐ`): exactly what a `detail=none` index can answer. Operator words (`OR`, `NOT`, `NEAR`) are
/// quoted, so they are words too. `None` when no term is left.
pub fn fts_query(words: &str) -> Option<String> {
    let terms: Vec<String> = terms(words).map(|t| format!("\"{t}\"*")).collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// The runs of letters, digits and marks in what a user typed: the terms of a search.
fn terms(words: &str) -> impl Iterator<Item = &str> {
    words
        .split(|c: char| !(c.is_alphanumeric() || is_mark(c)))
        .filter(|t| !t.is_empty())
}

/// Combining marks (the M* categories), roughly: the tokenizer keeps them inside a word, so a
/// search term must too. Rust's `is_alphanumeric` already covers the marks that are alphabetic.
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}
