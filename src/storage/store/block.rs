//! How a run of one room's history lines is encoded into one row of `blocks`.
//!
//! Storing a line costs mostly per-row work (a B-tree insert, a full-text document, index
//! entries), so lines are stored many to a row: a block holds up to [`BLOCK_LINES`] consecutive
//! lines of one room (at most [`BLOCK_BYTES`] of them), and the full-text index has one document
//! per block, in which a word said fifty times is one entry. The encoding is a format byte, then
//! one postcard record per line: ids and times as differences from the previous line (a few bytes
//! each), kind, sender, text and extra as length-prefixed strings. Each row decodes on its own.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Most lines in one block. Larger blocks store faster (fewer rows and documents) but a search
/// reads a whole block to find the lines in it that match; at 128 a block is a few KiB.
pub(super) const BLOCK_LINES: usize = 128;
/// Most encoded bytes in one block: a block of long lines is sealed before it has `BLOCK_LINES`.
pub(super) const BLOCK_BYTES: usize = 16 * 1024;

/// The first byte of every block; a block with another (from a newer server) is skipped.
const FORMAT: u8 = 1;

pub(super) use crate::chat::event::record::Line;

/// A line as written: ids and times relative to the previous line of the block (zig-zag
/// varints, so a clock that steps back costs a byte, not an error).
#[derive(Serialize, Deserialize)]
struct Record<'a> {
    id_delta: i64,
    at_delta: i64,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    sender: Cow<'a, str>,
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(borrow)]
    extra: Option<Cow<'a, str>>,
}

/// Why a block could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BlockError {
    /// Written by a newer server (its format byte).
    UnknownFormat(u8),
    /// Cut short or damaged.
    Corrupt(String),
}

impl std::fmt::Display for BlockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockError::UnknownFormat(v) => write!(f, "a history block of unknown format {v}"),
            BlockError::Corrupt(why) => write!(f, "a damaged history block: {why}"),
        }
    }
}

/// The smallest and largest ids and times of a block's lines (the columns its row is found by).
/// Lines from one server come in id and time order, but a clock may step back, and lines
/// relayed from other servers need not be in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub min_id: u64,
    pub max_id: u64,
    pub min_at: u64,
    pub max_at: u64,
}

impl Span {
    const EMPTY: Span = Span {
        min_id: u64::MAX,
        max_id: 0,
        min_at: u64::MAX,
        max_at: 0,
    };

    fn take(&mut self, id: u64, at: u64) {
        self.min_id = self.min_id.min(id);
        self.max_id = self.max_id.max(id);
        self.min_at = self.min_at.min(at);
        self.max_at = self.max_at.max(at);
    }
}

/// A block being filled: its encoded bytes and what the next line is relative to.
#[derive(Debug, Clone)]
pub(super) struct BlockWriter {
    data: Vec<u8>,
    lines: usize,
    span: Span,
    last: (u64, u64),
}

impl Default for BlockWriter {
    fn default() -> Self {
        BlockWriter {
            data: vec![FORMAT],
            lines: 0,
            span: Span::EMPTY,
            last: (0, 0),
        }
    }
}

impl BlockWriter {
    pub fn push(&mut self, line: &Line<'_>) {
        let record = Record {
            id_delta: line.id.wrapping_sub(self.last.0) as i64,
            at_delta: line.at.wrapping_sub(self.last.1) as i64,
            kind: Cow::Borrowed(&line.kind),
            sender: Cow::Borrowed(&line.sender),
            text: Cow::Borrowed(&line.text),
            extra: line.extra.as_deref().map(Cow::Borrowed),
        };
        // Writing into a Vec cannot fail: postcard errors only when its output is full.
        self.data = postcard::to_extend(&record, std::mem::take(&mut self.data))
            .expect("a record encodes into a Vec");
        self.span.take(line.id, line.at);
        self.last = (line.id, line.at);
        self.lines += 1;
    }

    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Whether the block has reached its size and takes no more lines.
    pub fn is_full(&self) -> bool {
        self.lines >= BLOCK_LINES || self.data.len() >= BLOCK_BYTES
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn span(&self) -> Span {
        self.span
    }
}

/// Every line of an encoded block, in the order they were written.
pub(super) fn decode(data: &[u8]) -> Result<Vec<Line<'_>>, BlockError> {
    let (&format, mut rest) = data
        .split_first()
        .ok_or_else(|| BlockError::Corrupt("empty".into()))?;
    if format != FORMAT {
        return Err(BlockError::UnknownFormat(format));
    }
    let mut lines = Vec::new();
    let (mut id, mut at) = (0u64, 0u64);
    while !rest.is_empty() {
        let (record, tail) = postcard::take_from_bytes::<Record<'_>>(rest)
            .map_err(|e| BlockError::Corrupt(e.to_string()))?;
        rest = tail;
        id = id.wrapping_add(record.id_delta as u64);
        at = at.wrapping_add(record.at_delta as u64);
        lines.push(Line {
            id,
            at,
            kind: record.kind,
            sender: record.sender,
            text: record.text,
            extra: record.extra,
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: u64, at: u64, kind: &'static str, text: &'static str) -> Line<'static> {
        Line {
            id,
            at,
            kind: Cow::Borrowed(kind),
            sender: Cow::Borrowed("철수"),
            text: Cow::Borrowed(text),
            extra: (kind == "kick").then_some(Cow::Borrowed("op")),
        }
    }

    #[test]
    fn lines_round_trip_in_order_with_times_that_step_back() {
        let written = [
            line(1 << 40, 1_704_112_496_000, "msg", "안녕하세요"),
            line((1 << 40) + 5, 1_704_112_496_100, "kick", ""),
            // A clock stepped back: a negative difference, still exact.
            line((1 << 40) + 9, 1_704_112_495_000, "me", "waves"),
        ];
        let mut block = BlockWriter::default();
        for l in &written {
            block.push(l);
        }
        assert_eq!(block.lines(), 3);
        let span = Span {
            min_id: 1 << 40,
            max_id: (1 << 40) + 9,
            min_at: 1_704_112_495_000,
            max_at: 1_704_112_496_100,
        };
        assert_eq!(block.span(), span);
        assert_eq!(decode(block.data()).unwrap(), written);
        // Short: ids and times after the first cost a byte or two, not eight.
        let text_bytes: usize = written
            .iter()
            .map(|l| l.kind.len() + l.sender.len() + l.text.len())
            .sum();
        assert!(
            block.data().len() < text_bytes + 40,
            "{}",
            block.data().len()
        );
    }

    #[test]
    fn a_block_fills_by_lines_or_by_bytes() {
        let mut by_lines = BlockWriter::default();
        while !by_lines.is_full() {
            by_lines.push(&line(by_lines.lines() as u64, 0, "msg", "hi"));
        }
        assert_eq!(by_lines.lines(), BLOCK_LINES);
        let long: &'static str = Box::leak("x".repeat(4000).into_boxed_str());
        let mut by_bytes = BlockWriter::default();
        while !by_bytes.is_full() {
            by_bytes.push(&line(by_bytes.lines() as u64, 0, "msg", long));
        }
        assert_eq!(by_bytes.lines(), BLOCK_BYTES / 4000 + 1);
    }

    #[test]
    fn every_truncation_is_an_error_and_a_newer_format_is_named() {
        let mut block = BlockWriter::default();
        block.push(&line(7, 8, "msg", "hello there"));
        block.push(&line(9, 10, "quit", "bye"));
        let data = block.data();
        for cut in 0..data.len() {
            let prefix = &data[..cut];
            match decode(prefix) {
                // A cut between two records is a shorter block, never a wrong one.
                Ok(lines) => assert_eq!(lines, decode(data).unwrap()[..lines.len()]),
                Err(BlockError::Corrupt(_)) => {}
                Err(e) => panic!("cut {cut}: {e}"),
            }
        }
        let mut newer = data.to_vec();
        newer[0] = 2;
        assert_eq!(decode(&newer), Err(BlockError::UnknownFormat(2)));
    }
}
