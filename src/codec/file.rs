//! The byte-count frame of a file upload: after a `/file NAME SIZE` line, exactly SIZE raw bytes
//! (PROTOCOL.md, "Files").
//!
//! The connection switches from the line decoder to this one when the chat core accepts (or
//! refuses) an upload, and back once SIZE bytes have been taken, so chat lines that follow the
//! payload in the same read are decoded normally. Bytes are raw: no telnet processing, no line
//! endings, no UTF-8.
//!
//! An accepted upload is collected into one buffer that becomes the shared `Bytes` every recipient's
//! queue points at. A refused one (too large, store full) is *counted*, never buffered: the
//! declared bytes are read and thrown away so the connection stays usable, whatever their size.
//!
//! One wrinkle comes from the line decoder: it ends a line at a bare `\r` and treats a `\n` or `\0`
//! right after it as part of the same ending. A telnet-style `/file x 5\r\n` can therefore leave
//! that `\n` unread when the switch happens; [`FileDecoder::new`] takes the line decoder's word on
//! it and skips that one byte.

use bytes::{Bytes, BytesMut};

use super::{CodecError, Decoded};

/// The first capacity of an upload buffer: it grows as bytes arrive (up to the declared size), so
/// a client that declares a large file and sends nothing holds little memory.
const INITIAL_CAPACITY: usize = 16 * 1024;

/// What a finished upload frame is.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum FileFrame {
    /// Every declared byte of an accepted upload, held once.
    Complete(Bytes),
    /// A refused upload whose declared bytes were read and thrown away.
    Discarded { size: u64 },
}

/// Whether the upload's bytes are kept or thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Collect the bytes (the upload was accepted).
    Collect,
    /// Count the bytes and drop them (the upload was refused).
    Discard,
}

/// Incremental, sans-IO decoder of one byte-count frame.
#[derive(Debug)]
pub struct FileDecoder {
    size: u64,
    /// Bytes still to come.
    remaining: u64,
    /// `None` while discarding, or before the first byte of a collected upload.
    buf: Option<BytesMut>,
    keep: Keep,
    /// Skip a `\n` or `\0` if it is the very next byte (the rest of the command line's ending).
    skip_line_end: bool,
}

impl FileDecoder {
    /// A decoder for exactly `size` bytes. `after_cr` is the line decoder's
    /// [`after_cr`](super::line::LineDecoder::after_cr) at the moment of the switch.
    #[must_use]
    pub fn new(size: u64, keep: Keep, after_cr: bool) -> Self {
        FileDecoder {
            size,
            remaining: size,
            buf: None,
            keep,
            skip_line_end: after_cr,
        }
    }

    /// The declared size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes received so far.
    #[must_use]
    pub fn received(&self) -> u64 {
        self.size - self.remaining
    }

    /// Bytes held in memory (zero while discarding).
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.as_ref().map_or(0, BytesMut::len)
    }

    /// Takes bytes of the payload from `src`.
    ///
    /// Returns `Frame` once the last declared byte is taken (`consumed` may be less than
    /// `src.len()`: the rest belongs to whatever follows the payload) and `Incomplete` when all of
    /// `src` was taken and more is due.
    ///
    /// # Errors
    ///
    /// None: every byte sequence is a payload. The `Result` is the shape all decoders share.
    pub fn decode(&mut self, src: &[u8]) -> Result<Decoded<FileFrame>, CodecError> {
        let mut skipped = 0;
        if self.skip_line_end && !src.is_empty() {
            self.skip_line_end = false;
            if matches!(src[0], b'\n' | b'\0') {
                skipped = 1;
            }
        }
        let src = &src[skipped..];
        let take = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(src.len());
        if self.keep == Keep::Collect && take > 0 {
            let size = usize::try_from(self.size).unwrap_or(usize::MAX);
            let buf = self
                .buf
                .get_or_insert_with(|| BytesMut::with_capacity(size.min(INITIAL_CAPACITY)));
            buf.extend_from_slice(&src[..take]);
        }
        self.remaining -= take as u64;
        if self.remaining > 0 {
            return Ok(Decoded::Incomplete);
        }
        let frame = match self.keep {
            Keep::Collect => FileFrame::Complete(self.buf.take().unwrap_or_default().freeze()),
            Keep::Discard => FileFrame::Discarded { size: self.size },
        };
        Ok(Decoded::Frame {
            frame,
            consumed: skipped + take,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `parts` in order; returns the frame and the bytes left over after it.
    fn run(dec: &mut FileDecoder, parts: &[&[u8]]) -> (Option<FileFrame>, Vec<u8>) {
        let mut rest = Vec::new();
        let mut frame = None;
        for part in parts {
            if frame.is_some() {
                rest.extend_from_slice(part);
                continue;
            }
            match dec.decode(part).unwrap() {
                Decoded::Incomplete => {}
                Decoded::Frame { frame: f, consumed } => {
                    frame = Some(f);
                    rest.extend_from_slice(&part[consumed..]);
                }
            }
        }
        (frame, rest)
    }

    const PAYLOAD: &[u8] = b"\r\n\0\xff\xfe binary \x1b[31m and text\n\r";
    const AFTER: &[u8] = b"next chat line\r\n";

    fn sample(skip: bool) -> Vec<u8> {
        let mut input = Vec::new();
        if skip {
            input.push(b'\n');
        }
        input.extend_from_slice(PAYLOAD);
        input.extend_from_slice(AFTER);
        input
    }

    #[test]
    fn whole_input_yields_the_payload_and_leaves_what_follows() {
        let mut dec = FileDecoder::new(PAYLOAD.len() as u64, Keep::Collect, false);
        let (frame, rest) = run(&mut dec, &[&sample(false)]);
        assert_eq!(
            frame,
            Some(FileFrame::Complete(Bytes::from_static(PAYLOAD)))
        );
        assert_eq!(rest, AFTER);
    }

    #[test]
    fn every_two_way_split_matches_whole_input() {
        for skip in [false, true] {
            for keep in [Keep::Collect, Keep::Discard] {
                let input = sample(skip);
                let mut whole = FileDecoder::new(PAYLOAD.len() as u64, keep, skip);
                let expected = run(&mut whole, &[&input]);
                assert!(expected.0.is_some());
                for cut in 0..=input.len() {
                    let mut dec = FileDecoder::new(PAYLOAD.len() as u64, keep, skip);
                    let got = run(&mut dec, &[&input[..cut], &input[cut..]]);
                    assert_eq!(got, expected, "skip {skip}, {keep:?}, cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn every_three_way_split_matches_whole_input() {
        let input = sample(true);
        let mut whole = FileDecoder::new(PAYLOAD.len() as u64, Keep::Collect, true);
        let expected = run(&mut whole, &[&input]);
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut dec = FileDecoder::new(PAYLOAD.len() as u64, Keep::Collect, true);
                let got = run(&mut dec, &[&input[..a], &input[a..b], &input[b..]]);
                assert_eq!(got, expected, "cuts at {a} and {b}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time_matches_whole_input() {
        let input = sample(true);
        let parts: Vec<&[u8]> = input.chunks(1).collect();
        let mut dec = FileDecoder::new(PAYLOAD.len() as u64, Keep::Collect, true);
        let (frame, rest) = run(&mut dec, &parts);
        assert_eq!(
            frame,
            Some(FileFrame::Complete(Bytes::from_static(PAYLOAD)))
        );
        assert_eq!(rest, AFTER);
    }

    #[test]
    fn only_a_newline_or_nul_right_after_the_switch_is_skipped() {
        // The payload itself starts with "\r": nothing is skipped.
        let mut dec = FileDecoder::new(3, Keep::Collect, true);
        let (frame, _) = run(&mut dec, &[b"\rab"]);
        assert_eq!(
            frame,
            Some(FileFrame::Complete(Bytes::from_static(b"\rab")))
        );
        // "\0" is the other half of a "\r\0" ending.
        let mut dec = FileDecoder::new(2, Keep::Collect, true);
        let (frame, _) = run(&mut dec, &[b"\0", b"\0x"]);
        assert_eq!(frame, Some(FileFrame::Complete(Bytes::from_static(b"\0x"))));
        // Without a pending "\r", a leading "\n" is payload.
        let mut dec = FileDecoder::new(2, Keep::Collect, false);
        let (frame, _) = run(&mut dec, &[b"\nx"]);
        assert_eq!(frame, Some(FileFrame::Complete(Bytes::from_static(b"\nx"))));
    }

    #[test]
    fn a_discarded_upload_holds_no_memory_whatever_its_size() {
        let size = 10 * 1024 * 1024;
        let mut dec = FileDecoder::new(size, Keep::Discard, false);
        let chunk = vec![7u8; 64 * 1024];
        for _ in 0..(size / chunk.len() as u64 - 1) {
            assert_eq!(dec.decode(&chunk).unwrap(), Decoded::Incomplete);
            assert_eq!(dec.buffered(), 0);
        }
        let mut last = chunk.clone();
        last.extend_from_slice(b"hi\n");
        match dec.decode(&last).unwrap() {
            Decoded::Frame { frame, consumed } => {
                assert_eq!(frame, FileFrame::Discarded { size });
                assert_eq!(&last[consumed..], b"hi\n");
            }
            Decoded::Incomplete => panic!("the upload should be complete"),
        }
    }

    #[test]
    fn a_declared_size_does_not_allocate_up_front() {
        let mut dec = FileDecoder::new(1 << 30, Keep::Collect, false);
        assert_eq!(dec.decode(b"abc").unwrap(), Decoded::Incomplete);
        assert_eq!(dec.buffered(), 3);
        assert!(dec.buf.as_ref().unwrap().capacity() <= INITIAL_CAPACITY);
        assert_eq!(dec.received(), 3);
    }

    #[test]
    fn an_empty_file_completes_at_once() {
        let mut dec = FileDecoder::new(0, Keep::Collect, false);
        assert_eq!(
            dec.decode(b"next").unwrap(),
            Decoded::Frame {
                frame: FileFrame::Complete(Bytes::new()),
                consumed: 0
            }
        );
    }
}
