//! The server's byte stream split into lines and file payloads, incrementally and without I/O.
//!
//! Server lines end with `\r\n`; a line `=file ID SIZE FROM NAME` is followed by exactly SIZE raw
//! bytes that are not lines (PROTOCOL.md, "Files"). The decoder has the shape of the server's
//! decoders ([`Decoded`]): the reader thread feeds whatever `read` returned and takes items until
//! `Incomplete`, so a header, a payload or a line ending split across reads is the normal case.
//! Payloads come out in chunks as they arrive, so a file is streamed to disk rather than held in
//! memory. Nothing the server sends can make this panic or buffer without bound: a line longer
//! than [`MAX_LINE`] is cut, and a header that does not parse is an ordinary line.

/// The outcome of one `decode` call, as the server's codecs have it (`reactor_chat::codec`); this
/// decoder never fails, so there is no error to return.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<T> {
    /// All of the input was taken (kept as a partial line); no item is complete yet.
    Incomplete,
    /// One item is complete; `consumed` bytes were used. Call again with the rest.
    Frame { frame: T, consumed: usize },
}

/// Longest line kept; the rest of a longer line is dropped. The server's own lines are far
/// shorter (its `--max-line` is 4096 by default), so only a broken or hostile server reaches it.
pub const MAX_LINE: usize = 64 * 1024;

/// One thing the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A text line without its line ending (invalid UTF-8 replaced).
    Line(String),
    /// A file delivery begins; SIZE bytes of [`Item::FileData`] follow, then [`Item::FileEnd`].
    FileStart(FileHeader),
    /// The next bytes of the current file.
    FileData(Vec<u8>),
    /// The current file is complete.
    FileEnd,
}

/// The `=file ID SIZE FROM NAME` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHeader {
    pub id: u64,
    pub size: u64,
    pub from: String,
    /// As the server sent it: never trusted as a path (see `downloads`).
    pub name: String,
}

impl FileHeader {
    /// Parses a header line; `None` if it is not one (then it is shown as a line).
    pub fn parse(line: &str) -> Option<FileHeader> {
        let mut parts = line.strip_prefix("=file ")?.splitn(4, ' ');
        let id = parts.next()?.parse().ok()?;
        let size = parts.next()?.parse().ok()?;
        let from = parts.next()?.to_string();
        let name = parts.next()?.to_string();
        (!from.is_empty() && !name.is_empty()).then_some(FileHeader {
            id,
            size,
            from,
            name,
        })
    }
}

/// Incremental decoder of the server's stream.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// The line being collected (at most `MAX_LINE` bytes).
    line: Vec<u8>,
    /// Payload bytes still to come, while inside a file.
    remaining: Option<u64>,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a prefix of `src` and yields at most one item. `Incomplete` means all of `src` was
    /// taken (kept as a partial line).
    pub fn decode(&mut self, src: &[u8]) -> Decoded<Item> {
        if let Some(remaining) = self.remaining {
            if remaining == 0 {
                self.remaining = None;
                return Decoded::Frame {
                    frame: Item::FileEnd,
                    consumed: 0,
                };
            }
            if src.is_empty() {
                return Decoded::Incomplete;
            }
            let n = usize::try_from(remaining).map_or(src.len(), |r| r.min(src.len()));
            self.remaining = Some(remaining - n as u64);
            return Decoded::Frame {
                frame: Item::FileData(src[..n].to_vec()),
                consumed: n,
            };
        }
        let Some(end) = src.iter().position(|&b| b == b'\n') else {
            self.keep(src);
            return Decoded::Incomplete;
        };
        self.keep(&src[..end]);
        let mut raw = std::mem::take(&mut self.line);
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        let line = String::from_utf8_lossy(&raw).into_owned();
        let frame = match FileHeader::parse(&line) {
            Some(header) => {
                self.remaining = Some(header.size);
                Item::FileStart(header)
            }
            None => Item::Line(line),
        };
        Decoded::Frame {
            frame,
            consumed: end + 1,
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.line.len());
        self.line.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    /// Feeds a whole buffer, calling `on_item` for each item (the reader thread's loop).
    pub fn feed(&mut self, mut src: &[u8], mut on_item: impl FnMut(Item)) {
        loop {
            match self.decode(src) {
                Decoded::Frame { frame, consumed } => {
                    src = &src[consumed..];
                    on_item(frame);
                }
                Decoded::Incomplete => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"-- Welcome, bob! You are in room lobby.\r\n\
        [12:34] alice: hi \xff there\r\n\
        =file 3 8 alice my notes.txt\r\n\r\n\0\xff=fi\n\
        =file 4 0 carol empty\r\n\
        =file x 5 carol not-a-header\r\n\
        [12:35] * carol joined\r\n";

    fn expected() -> Vec<Item> {
        vec![
            Item::Line("-- Welcome, bob! You are in room lobby.".into()),
            Item::Line("[12:34] alice: hi \u{fffd} there".into()),
            Item::FileStart(FileHeader {
                id: 3,
                size: 8,
                from: "alice".into(),
                name: "my notes.txt".into(),
            }),
            Item::FileData(b"\r\n\0\xff=fi\n".to_vec()),
            Item::FileEnd,
            Item::FileStart(FileHeader {
                id: 4,
                size: 0,
                from: "carol".into(),
                name: "empty".into(),
            }),
            Item::FileEnd,
            Item::Line("=file x 5 carol not-a-header".into()),
            Item::Line("[12:35] * carol joined".into()),
        ]
    }

    /// Feeds the pieces and joins adjacent payload chunks, so any chunking compares equal.
    fn run(pieces: &[&[u8]]) -> Vec<Item> {
        let mut dec = StreamDecoder::new();
        let mut items: Vec<Item> = Vec::new();
        for piece in pieces {
            dec.feed(piece, |item| match (items.last_mut(), item) {
                (Some(Item::FileData(acc)), Item::FileData(more)) => acc.extend(more),
                (_, item) => items.push(item),
            });
        }
        items
    }

    #[test]
    fn whole_sample() {
        assert_eq!(run(&[SAMPLE]), expected());
    }

    #[test]
    fn every_split_point() {
        for i in 0..=SAMPLE.len() {
            let (a, b) = SAMPLE.split_at(i);
            assert_eq!(run(&[a, b]), expected(), "split at {i}");
        }
    }

    #[test]
    fn every_pair_of_split_points() {
        for i in 0..=SAMPLE.len() {
            for j in i..=SAMPLE.len() {
                let (a, rest) = SAMPLE.split_at(i);
                let (b, c) = rest.split_at(j - i);
                assert_eq!(run(&[a, b, c]), expected(), "splits at {i} and {j}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let pieces: Vec<&[u8]> = SAMPLE.chunks(1).collect();
        assert_eq!(run(&pieces), expected());
    }

    #[test]
    fn an_endless_line_is_cut_not_buffered() {
        let mut dec = StreamDecoder::new();
        let chunk = vec![b'a'; 10_000];
        for _ in 0..20 {
            dec.feed(&chunk, |_| panic!("no line yet"));
            assert!(dec.line.len() <= MAX_LINE);
        }
        let mut got = Vec::new();
        dec.feed(b"\r\n-- next\r\n", |i| got.push(i));
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[0], Item::Line(l) if l.len() == MAX_LINE));
        assert_eq!(got[1], Item::Line("-- next".into()));
    }

    #[test]
    fn headers_that_do_not_parse_are_lines() {
        for line in [
            "=file",
            "=file 1",
            "=file 1 2",
            "=file 1 2 bob",
            "=file 1 -2 bob x",
            "=file 1 99999999999999999999999 bob x",
            "=files 1 2 bob x",
        ] {
            assert_eq!(FileHeader::parse(line), None, "{line}");
        }
        assert_eq!(
            FileHeader::parse("=file 1 2 bob a b  c").map(|h| h.name),
            Some("a b  c".to_string())
        );
    }
}
