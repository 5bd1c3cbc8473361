//! One bench connection: its socket, where it is in login, its unwritten output, the tail of a line
//! split across reads, and its per-sender order tracks.
//!
//! Reading goes through one shared 64 KiB buffer owned by the driver; a connection keeps only the
//! few bytes of a line cut by the end of a read, so ten thousand idle connections cost kilobytes,
//! not a buffer each.

use std::io::{self, Read, Write};

use mio::net::TcpStream;

use crate::tls::Link;

use crate::filemix::Incoming;
use crate::order::PairTrack;

/// A line longer than this (server lines are at most a few KiB) is dropped, so a misbehaving peer
/// cannot grow a connection's carry buffer without bound.
pub const MAX_CARRY: usize = 64 * 1024;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Non-blocking connect in progress.
    Connecting,
    /// Nickname sent; waiting for the `-- Resume key:` line that ends the welcome (IRC: `NICK`
    /// and `USER` sent, waiting for `001`).
    LoggingIn,
    /// `/join` sent; waiting for `-- You are now in room` (IRC: `JOIN` sent, waiting for the
    /// channel's `366`).
    Joining,
    /// Logged in (and in its room): delivered lines are bench messages.
    Ready,
    /// Failed to log in, or closed after it was ready.
    Closed,
}

/// What one [`Client::read_into`] call got.
#[derive(Debug, Clone, Copy)]
pub struct ReadResult {
    /// Bytes now at the start of the buffer (an earlier read's unfinished tail included).
    pub len: usize,
    /// Bytes this read brought (the tail excluded).
    pub fresh: usize,
    /// The server closed its side.
    pub eof: bool,
    /// The socket gave less than there was room for, so it held no more at that moment: with
    /// edge-triggered readiness, anything that arrives later brings a new event, so the reader
    /// can stop without the extra `read` that would only say `WouldBlock`.
    pub drained: bool,
}

#[derive(Debug)]
pub struct Client {
    /// The socket, inside TLS with `--tls`.
    pub stream: Link<TcpStream>,
    pub state: State,
    /// Index of its room (0 is the lobby when there is one room).
    pub room: usize,
    /// Connected while the load runs (joinstorm) rather than before it.
    pub joiner: bool,
    /// Reached `Ready` at some point: it is owed every message sent in its room since.
    pub was_ready: bool,
    /// Bytes of a line cut by the end of the last read.
    pub carry: Vec<u8>,
    /// Output not yet written (the login line, `/join`, messages), from `out_pos` on.
    pub out: Vec<u8>,
    pub out_pos: usize,
    /// Per-sender order state, indexed by sender id.
    pub tracks: Vec<PairTrack>,
    /// Already on the driver's list of connections to read again (edge-triggered fairness).
    pub read_listed: bool,
    /// Inside a framed history reply (the recent lines shown after login): its lines are
    /// replays of earlier messages, not deliveries.
    pub in_replay: bool,
    /// A file payload arriving in the middle of the line stream (`--files`).
    pub incoming: Option<Incoming>,
}

impl Client {
    pub fn new(stream: Link<TcpStream>, room: usize, joiner: bool) -> Client {
        Client {
            stream,
            state: State::Connecting,
            room,
            joiner,
            was_ready: false,
            carry: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            tracks: Vec::new(),
            read_listed: false,
            in_replay: false,
            incoming: None,
        }
    }

    /// Whether output is waiting for writable readiness.
    pub fn has_output(&self) -> bool {
        self.out_pos < self.out.len() || self.stream.pending()
    }

    /// Writes queued output until done or the socket would block.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Keep the capacity: a sender refills this buffer all run long.
        self.out.clear();
        self.out_pos = 0;
        // Records the TLS session still holds go when the socket takes them.
        self.stream.push()
    }

    /// One `read` into `buf` behind the carried partial line. Returns how many bytes of `buf` hold
    /// data (carry included), 0 at end of stream.
    pub fn read_into(&mut self, buf: &mut [u8]) -> io::Result<ReadResult> {
        let carry = self.carry.len();
        buf[..carry].copy_from_slice(&self.carry);
        self.carry.clear();
        let room = buf.len() - carry;
        match self.stream.read(&mut buf[carry..]) {
            Ok(n) => Ok(ReadResult {
                len: carry + n,
                fresh: n,
                eof: n == 0,
                // A TLS read stops at a record's plaintext: the link knows whether the socket
                // was emptied.
                drained: if self.stream.is_tls() {
                    self.stream.drained()
                } else {
                    n < room
                },
            }),
            Err(e) => {
                // Nothing read: put the carry back for next time.
                self.carry.extend_from_slice(&buf[..carry]);
                Err(e)
            }
        }
    }

    /// Keeps the unfinished tail of a read for the next one.
    pub fn keep_tail(&mut self, tail: &[u8]) {
        if tail.len() <= MAX_CARRY {
            self.carry.extend_from_slice(tail);
        }
    }
}

/// What a read holds, piece by piece.
#[derive(Debug)]
pub enum Piece<'a> {
    /// A complete line, without `\r\n` or `\n`.
    Line(&'a [u8]),
    /// The last byte of a file payload arrived (`--files`).
    File(Incoming),
}

/// Splits `data` into lines and file payloads: after a line handler sets `incoming` (it read a
/// `=file` header), the next bytes are that payload's, then lines again. Returns the unfinished
/// line at the end, to carry to the next read. A payload cut by the end of a read stays in
/// `incoming`; its bytes are never carried.
pub fn split_stream<'a>(
    mut data: &'a [u8],
    incoming: &mut Option<Incoming>,
    mut each: impl FnMut(Piece<'a>, &mut Option<Incoming>),
) -> &'a [u8] {
    loop {
        if let Some(file) = incoming {
            data = &data[file.take(data)..];
            if !file.done() {
                return data;
            }
            let file = incoming.take().expect("checked");
            each(Piece::File(file), incoming);
        }
        let Some(end) = memchr::memchr(b'\n', data) else {
            return data;
        };
        let mut line = &data[..end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        data = &data[end + 1..];
        each(Piece::Line(line), incoming);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `input` through `split_stream` in the given parts, starting a payload at every
    /// `=file` header as the bench does.
    fn pieces(parts: &[&[u8]]) -> Vec<String> {
        let mut got = Vec::new();
        let mut carry = Vec::new();
        let mut incoming = None;
        for part in parts {
            let mut data = std::mem::take(&mut carry);
            data.extend_from_slice(part);
            let tail = split_stream(&data, &mut incoming, |piece, incoming| match piece {
                Piece::Line(line) => {
                    if let Some(size) = crate::filemix::parse_header(line) {
                        *incoming = Some(Incoming::new(size));
                    }
                    got.push(String::from_utf8_lossy(line).into_owned());
                }
                Piece::File(file) => {
                    got.push(format!("<{} bytes, intact {}>", file.size, file.intact))
                }
            });
            carry = tail.to_vec();
        }
        got
    }

    #[test]
    fn lines_and_tail() {
        assert_eq!(pieces(&[b"one\r\ntwo\n\r\nthr"]), ["one", "two", ""]);
        assert!(pieces(&[b""]).is_empty());
    }

    #[test]
    fn every_split_gives_the_same_lines_and_payloads() {
        let mut input = b"[12:34] a: x\r\n=file 3 10 b f.bin\r\n".to_vec();
        input.extend((0..10).map(crate::filemix::pattern));
        input.extend_from_slice(b"[12:34] * b joined\r\n-- Resume key: k\r\n");
        let whole = pieces(&[&input]);
        assert_eq!(
            whole,
            [
                "[12:34] a: x",
                "=file 3 10 b f.bin",
                "<10 bytes, intact true>",
                "[12:34] * b joined",
                "-- Resume key: k"
            ]
        );
        for split in 0..input.len() {
            assert_eq!(
                pieces(&[&input[..split], &input[split..]]),
                whole,
                "split at {split}"
            );
            for second in split..input.len() {
                let parts: [&[u8]; 3] = [&input[..split], &input[split..second], &input[second..]];
                assert_eq!(pieces(&parts), whole, "splits at {split}, {second}");
            }
        }
    }
}
