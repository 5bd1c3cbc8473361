//! The code parts of the schema: moving a database of one row a line into blocks (migration 3),
//! and rewriting the blocks a retention cutoff falls inside.

use std::borrow::Cow;

use log::info;
use rusqlite::{params, Connection, Transaction};

use super::block::{self, BlockWriter, Line};
use super::open_blocks::insert_row;
use super::{search, Result, StoreError};

/// Migration 3: every row of `lines` into sealed blocks of its room, in id order, all indexed;
/// game results into `game_wins`; then the old tables go.
pub(super) fn lines_into_blocks(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "INSERT INTO game_wins (id, room, nick, points, secs)
         SELECT id, room, sender,
                CAST(substr(extra, 1, instr(extra, ' ') - 1) AS INTEGER),
                CAST(substr(extra, instr(extra, ' ') + 1) AS INTEGER)
         FROM lines WHERE kind = 'game_won';",
    )?;
    let mut moved = 0usize;
    {
        let mut stmt = tx.prepare(
            "SELECT room, id, at, kind, sender, text, extra FROM lines ORDER BY room, id",
        )?;
        let mut rows = stmt.query([])?;
        let mut filling: Option<(i64, BlockWriter)> = None;
        while let Some(r) = rows.next()? {
            let room: i64 = r.get(0)?;
            let line = Line {
                id: r.get::<_, i64>(1)? as u64,
                at: r.get::<_, i64>(2)?.max(0) as u64,
                kind: Cow::Borrowed(r.get_ref(3)?.as_str()?),
                sender: Cow::Borrowed(r.get_ref(4)?.as_str()?),
                text: Cow::Borrowed(r.get_ref(5)?.as_str()?),
                extra: r.get_ref(6)?.as_str_or_null()?.map(Cow::Borrowed),
            };
            match &mut filling {
                Some((current, block)) if *current == room && !block.is_full() => block.push(&line),
                _ => {
                    if let Some((current, block)) = filling.take() {
                        seal_new(tx, current, &block)?;
                    }
                    let mut block = BlockWriter::default();
                    block.push(&line);
                    filling = Some((room, block));
                }
            }
            moved += 1;
        }
        if let Some((room, block)) = filling {
            seal_new(tx, room, &block)?;
        }
    }
    tx.execute_batch("DROP TABLE lines_fts; DROP TABLE lines;")?;
    // In slices: one slice's blocks are in memory at a time, whatever the history's size.
    while search::index_pending(tx, 1024)?.0 > 0 {}
    if moved > 0 {
        info!(lines = moved; "history: lines moved into blocks (schema version 3)");
    }
    Ok(())
}

/// Writes `block` as a new sealed row of `room`, indexed with the rest at the migration's end.
fn seal_new(conn: &Connection, room: i64, block: &BlockWriter) -> Result<()> {
    insert_row(conn, room, block, true)?;
    Ok(())
}

/// Rewrites each block holding lines below message id `below` and newer ones with only the
/// newer (in place: its id keeps its place in the room's order); returns how many lines went.
/// Blocks wholly below are deleted before this runs.
pub(super) fn trim_blocks_before(tx: &Transaction<'_>, below: i64) -> Result<usize> {
    let straddling: Vec<(i64, i64, bool, Vec<u8>)> = tx
        .prepare("SELECT id, room, indexed, data FROM blocks WHERE min_id < ?1")?
        .query_map(params![below], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut removed = 0;
    for (id, room, indexed, data) in straddling {
        let Ok(lines) = block::decode(&data) else {
            continue; // a newer server's block: left as it is
        };
        let mut kept = BlockWriter::default();
        for line in lines.iter().filter(|l| l.id >= below as u64) {
            kept.push(line);
        }
        removed += lines.len() - kept.lines();
        let span = kept.span();
        tx.prepare_cached(
            "UPDATE blocks SET min_id = ?2, max_id = ?3, min_at = ?4, max_at = ?5, lines = ?6,
                               data = ?7
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            span.min_id as i64,
            span.max_id as i64,
            span.min_at as i64,
            span.max_at as i64,
            kept.lines() as i64,
            kept.data(),
        ])?;
        if indexed {
            let kept_lines =
                block::decode(kept.data()).map_err(|e| StoreError::Block(e.to_string()))?;
            tx.prepare_cached("DELETE FROM blocks_fts WHERE rowid = ?1")?
                .execute(params![id])?;
            tx.prepare_cached("INSERT INTO blocks_fts (rowid, words) VALUES (?1, ?2)")?
                .execute(params![id, search::document(room, &kept_lines)])?;
        }
    }
    Ok(removed)
}
