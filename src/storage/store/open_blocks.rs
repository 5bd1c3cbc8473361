//! The rooms' blocks being filled, and how their lines reach the database.
//!
//! Each room that has had a line recently has one open block in memory. A line is appended to
//! it; a block that is full is sealed: written as one row (`sealed = 1`) in the open
//! transaction, its full-text document to follow (`search::index_pending`). At every commit the lines of a block that is not full yet
//! are written too, as a small row of their own (a piece, `sealed = 0`), so the commit holds every
//! line it was given: the durability of one row a line. When the block fills, its pieces are
//! replaced by the sealed row. A busy room fills blocks between two commits and writes each line
//! once; a quiet one writes each line twice (in a piece, then in its block), which costs little
//! at the rate it speaks.
//!
//! A block whose lines are all in rows can be dropped from memory at any time and read back from
//! its pieces when its room speaks again (after a restart, too): memory holds at most
//! `MAX_OPEN` blocks.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::block::{self, BlockWriter};
use log::warn;

use super::Result;

/// Most open blocks kept in memory (each at most `block::BLOCK_BYTES`, twice over).
const MAX_OPEN: usize = 256;

/// One room's block being filled.
#[derive(Debug, Default)]
struct OpenBlock {
    /// Every line of the block so far.
    block: BlockWriter,
    /// The lines not in a piece yet, encoded on their own, once there is a piece; before, the
    /// whole block is what a first piece would hold.
    unwritten: BlockWriter,
    /// Rows of this block's pieces, oldest first.
    pieces: Vec<i64>,
    /// Lines appended since the last piece was written.
    pending: usize,
    /// Largest message id stored in the room (for ignoring one stored before).
    max_id: u64,
    /// When it was last appended to (a counter), for choosing which to drop from memory.
    touched: u64,
}

/// What became of an appended line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Appended {
    Added,
    /// It filled its block, which was sealed with this many lines.
    Sealed(usize),
    /// Its id was stored before: ignored.
    StoredBefore,
}

/// The open blocks, by room id.
#[derive(Debug, Default)]
pub(super) struct OpenBlocks {
    rooms: HashMap<i64, OpenBlock>,
    clock: u64,
}

impl OpenBlocks {
    /// Appends a line to `room`'s open block (read back from its pieces if it is not in memory),
    /// sealing the block when it is full.
    pub fn append(
        &mut self,
        conn: &Connection,
        room: i64,
        line: &block::Line<'_>,
    ) -> Result<Appended> {
        self.clock += 1;
        let open = match self.rooms.entry(room) {
            std::collections::hash_map::Entry::Occupied(open) => open.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert(load(conn, room)?),
        };
        if line.id <= open.max_id && stored_before(conn, room, open, line.id)? {
            return Ok(Appended::StoredBefore);
        }
        open.touched = self.clock;
        open.max_id = open.max_id.max(line.id);
        open.block.push(line);
        if !open.pieces.is_empty() {
            open.unwritten.push(line);
        }
        open.pending += 1;
        if open.block.is_full() {
            return Ok(Appended::Sealed(seal(conn, room, open)?));
        }
        Ok(Appended::Added)
    }

    /// Writes the unwritten lines of every open block as pieces (before a commit, or a query
    /// that reads every room), and drops blocks from memory past `MAX_OPEN`.
    pub fn write_all(&mut self, conn: &Connection) -> Result<()> {
        for (&room, open) in self.rooms.iter_mut() {
            write_piece(conn, room, open)?;
        }
        if self.rooms.len() > MAX_OPEN {
            // Everything is in rows now: keep the most recently used half.
            let mut touched: Vec<u64> = self.rooms.values().map(|o| o.touched).collect();
            touched.sort_unstable();
            let keep_from = touched[touched.len() - MAX_OPEN / 2];
            self.rooms.retain(|_, o| o.touched >= keep_from);
        }
        Ok(())
    }

    /// Writes `room`'s unwritten lines as a piece, so a query of the room sees them in its rows.
    pub fn write_room(&mut self, conn: &Connection, room: i64) -> Result<()> {
        match self.rooms.get_mut(&room) {
            Some(open) => write_piece(conn, room, open),
            None => Ok(()),
        }
    }

    /// How many open blocks are in memory.
    #[cfg(test)]
    pub fn rooms_in_memory(&self) -> usize {
        self.rooms.len()
    }

    /// Forgets every open block (their rows stay): after a rollback, whose rows are gone, or
    /// before pruning rewrites rows.
    pub fn forget(&mut self) {
        self.rooms.clear();
    }
}

/// A room's open block as its pieces hold it, or a new one.
fn load(conn: &Connection, room: i64) -> Result<OpenBlock> {
    let mut open = OpenBlock {
        max_id: conn
            .prepare_cached("SELECT coalesce(max(max_id), 0) FROM blocks WHERE room = ?1")?
            .query_row(params![room], |r| r.get::<_, i64>(0))? as u64,
        ..OpenBlock::default()
    };
    let pieces: Vec<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT id, data FROM blocks WHERE room = ?1 AND indexed = 0 AND sealed = 0 ORDER BY id")?
        .query_map(params![room], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, data) in pieces {
        let lines = match block::decode(&data) {
            Ok(lines) => lines,
            Err(e) => {
                // Left where it is (a search skips it too); the block goes on without it.
                warn!(room, row = id, error:% = e; "history: a stored piece cannot be read");
                continue;
            }
        };
        for line in &lines {
            open.block.push(line);
            open.max_id = open.max_id.max(line.id);
        }
        open.pieces.push(id);
    }
    Ok(open)
}

/// Whether `id` is among the lines stored for `room` (it is at most the largest id stored).
fn stored_before(conn: &Connection, room: i64, open: &OpenBlock, id: u64) -> Result<bool> {
    let has = |data: &[u8]| block::decode(data).is_ok_and(|lines| lines.iter().any(|l| l.id == id));
    if has(open.block.data()) {
        return Ok(true);
    }
    // By id, not time: a clock that stepped back puts larger ids in blocks of earlier times.
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM blocks WHERE room = ?1 AND max_id >= ?2 AND min_id <= ?2",
    )?;
    let mut rows = stmt.query(params![room, id as i64])?;
    while let Some(row) = rows.next()? {
        if has(row.get_ref(0)?.as_blob()?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes the lines appended since the last piece as a new piece.
fn write_piece(conn: &Connection, room: i64, open: &mut OpenBlock) -> Result<()> {
    if open.pending == 0 {
        return Ok(());
    }
    let piece = if open.pieces.is_empty() {
        &open.block
    } else {
        &open.unwritten
    };
    let id = insert_row(conn, room, piece, false)?;
    open.pieces.push(id);
    open.unwritten = BlockWriter::default();
    open.pending = 0;
    Ok(())
}

/// Writes a full block as one sealed row in place of its pieces, and starts a new one; returns
/// its lines.
fn seal(conn: &Connection, room: i64, open: &mut OpenBlock) -> Result<usize> {
    insert_row(conn, room, &open.block, true)?;
    let lines = open.block.lines();
    let mut delete = conn.prepare_cached("DELETE FROM blocks WHERE id = ?1")?;
    for piece in open.pieces.drain(..) {
        delete.execute(params![piece])?;
    }
    *open = OpenBlock {
        max_id: open.max_id,
        touched: open.touched,
        ..OpenBlock::default()
    };
    Ok(lines)
}

/// Inserts a row of `blocks`, not indexed yet; returns its id.
pub(super) fn insert_row(
    conn: &Connection,
    room: i64,
    block: &BlockWriter,
    sealed: bool,
) -> Result<i64> {
    let span = block.span();
    conn.prepare_cached(
        "INSERT INTO blocks (room, min_id, max_id, min_at, max_at, lines, sealed, indexed, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
    )?
    .execute(params![
        room,
        span.min_id as i64,
        span.max_id as i64,
        span.min_at as i64,
        span.max_at as i64,
        block.lines() as i64,
        sealed,
        block.data(),
    ])?;
    Ok(conn.last_insert_rowid())
}
