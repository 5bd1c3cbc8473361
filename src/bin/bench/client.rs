//! One bench connection: its socket, where it is in login, its unwritten output, the tail of a line
//! split across reads, and its per-sender order tracks.
//!
//! Reading goes through one shared 64 KiB buffer owned by the driver; a connection keeps only the
//! few bytes of a line cut by the end of a read, so ten thousand idle connections cost kilobytes,
//! not a buffer each.

use std::io::{self, Read, Write};

use mio::net::TcpStream;

use crate::order::PairTrack;

/// A line longer than this (server lines are at most a few KiB) is dropped, so a misbehaving peer
/// cannot grow a connection's carry buffer without bound.
pub const MAX_CARRY: usize = 64 * 1024;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Non-blocking connect in progress.
    Connecting,
    /// Nickname sent; waiting for the `-- Resume key:` line that ends the welcome.
    LoggingIn,
    /// `/join` sent; waiting for `-- You are now in room`.
    Joining,
    /// Logged in (and in its room): delivered lines are bench messages.
    Ready,
    /// Failed to log in, or closed after it was ready.
    Closed,
}

#[derive(Debug)]
pub struct Client {
    pub stream: TcpStream,
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
}

impl Client {
    pub fn new(stream: TcpStream, room: usize, joiner: bool) -> Client {
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
        }
    }

    /// Whether output is waiting for writable readiness.
    pub fn has_output(&self) -> bool {
        self.out_pos < self.out.len()
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
        Ok(())
    }

    /// One `read` into `buf` behind the carried partial line. Returns how many bytes of `buf` hold
    /// data (carry included), 0 at end of stream.
    pub fn read_into(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let carry = self.carry.len();
        buf[..carry].copy_from_slice(&self.carry);
        self.carry.clear();
        match self.stream.read(&mut buf[carry..]) {
            Ok(0) => Ok(0),
            Ok(n) => Ok(carry + n),
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

/// Calls `each` with every complete line in `data` (without `\r\n` or `\n`) and returns the
/// unfinished tail.
pub fn for_each_line<'a>(data: &'a [u8], mut each: impl FnMut(&'a [u8])) -> &'a [u8] {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', data) {
        let mut line = &data[start..end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        each(line);
        start = end + 1;
    }
    &data[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_tail() {
        let mut lines = Vec::new();
        let tail = for_each_line(b"one\r\ntwo\n\r\nthr", |l| lines.push(l.to_vec()));
        assert_eq!(lines, vec![b"one".to_vec(), b"two".to_vec(), b"".to_vec()]);
        assert_eq!(tail, b"thr");
        let tail = for_each_line(b"", |_| panic!("no lines"));
        assert!(tail.is_empty());
    }

    #[test]
    fn every_split_gives_the_same_lines() {
        let input = b"[12:34] a: x\r\n[12:34] * b joined\r\n-- Resume key: k\r\n";
        let whole: Vec<Vec<u8>> = {
            let mut v = Vec::new();
            for_each_line(input, |l| v.push(l.to_vec()));
            v
        };
        for split in 0..input.len() {
            let mut got = Vec::new();
            let mut carry = Vec::new();
            for part in [&input[..split], &input[split..]] {
                let mut data = std::mem::take(&mut carry);
                data.extend_from_slice(part);
                carry = for_each_line(&data, |l| got.push(l.to_vec())).to_vec();
            }
            assert_eq!(got, whole, "split at {split}");
        }
    }
}
