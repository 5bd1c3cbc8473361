//! Broadcast lines rendered back to back into shared blocks.
//!
//! A line broadcast to a room is rendered once and queued for every member, so what queueing
//! costs per member is the server's hot path. Lines rendered one after another go into the same
//! block, which makes the run of lines a member gets in one loop turn (in a busy room, all but its
//! own) one slice of that block: [`OutQueue::push_shared`](super::outqueue::OutQueue::push_shared)
//! lengthens the queue's last entry when the new line starts where that entry ends. A member of a
//! room where 1,600 lines arrive in a turn then holds about as many queue entries as it sent lines
//! itself (each of its own lines splits the run), not 1,600, and its `writev` carries as many
//! slices. One entry per line meant writing 32 bytes of fresh memory per delivery, more than the
//! caches hold once a hundred queues each take a turn's worth.
//!
//! A block is written only while it is open and read only once it is sealed: the reactor seals the
//! open block before it writes to any socket ([`BroadcastBuf::seal`]), so bytes that a queue can
//! hand to the kernel never change, and no unsafe code is needed to share them. Blocks are
//! [`BLOCK_SIZE`] at most (unless one line is longer), as the reactor's other rendered output is,
//! so a slow reader holding one old line keeps no more memory alive than it did with a line per
//! allocation.

use std::cell::OnceCell;
use std::fmt;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};

/// Size of a block's allocation; a block is sealed rather than grown past it.
pub const BLOCK_SIZE: usize = 16 * 1024;

/// Lines are rendered into a fresh block when the open one has less room than this left.
pub const MIN_ROOM: usize = 1024;

/// A block of rendered lines: empty while open, its bytes once sealed.
#[derive(Default)]
pub struct Block(OnceCell<Bytes>);

impl Block {
    /// The block's bytes, or `None` while it is still open.
    pub fn sealed(&self) -> Option<&Bytes> {
        self.0.get()
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sealed() {
            Some(bytes) => write!(f, "Block(sealed, {} bytes)", bytes.len()),
            None => f.write_str("Block(open)"),
        }
    }
}

/// A rendered line to be queued for many connections: a range of a block, shared by reference
/// counts that are not atomic (the queues all live on the reactor's thread).
#[derive(Debug, Clone)]
pub struct SharedLine {
    block: Rc<Block>,
    start: u32,
    end: u32,
}

impl SharedLine {
    /// A line in a block of its own, sealed at once: for output that is not part of a run.
    pub fn new(bytes: Bytes) -> Self {
        let end = u32::try_from(bytes.len()).expect("a line under 4 GiB");
        SharedLine {
            block: Rc::new(Block(OnceCell::from(bytes))),
            start: 0,
            end,
        }
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The block the line is in.
    pub fn block(&self) -> &Rc<Block> {
        &self.block
    }

    /// Where in its block the line starts and ends.
    pub fn range(&self) -> (u32, u32) {
        (self.start, self.end)
    }
}

/// The reactor's open block and the lines rendered into it.
#[derive(Debug, Default)]
pub struct BroadcastBuf {
    /// The open block's bytes (sealing splits them off and freezes them).
    buf: BytesMut,
    open: Rc<Block>,
}

impl BroadcastBuf {
    pub fn new() -> Self {
        BroadcastBuf::default()
    }

    /// Renders one line at the end of the open block.
    pub fn write(&mut self, render: impl FnOnce(&mut BytesMut)) -> SharedLine {
        if self.buf.capacity() - self.buf.len() < MIN_ROOM {
            // Sealing first means the new allocation never has to carry the open lines over.
            self.seal();
            self.buf.reserve(BLOCK_SIZE);
        }
        let start = self.buf.len();
        render(&mut self.buf);
        let (start, end) = match (u32::try_from(start), u32::try_from(self.buf.len())) {
            (Ok(start), Ok(end)) => (start, end),
            _ => panic!("a block over 4 GiB"),
        };
        SharedLine {
            block: Rc::clone(&self.open),
            start,
            end,
        }
    }

    /// The bytes of a line, sealed or still in the open block (to frame a copy for WebSocket).
    pub fn bytes_of<'a>(&'a self, line: &'a SharedLine) -> &'a [u8] {
        let (start, end) = (line.start as usize, line.end as usize);
        match line.block.sealed() {
            Some(bytes) => &bytes[start..end],
            None => {
                assert!(
                    Rc::ptr_eq(&line.block, &self.open),
                    "a line of another buffer"
                );
                &self.buf[start..end]
            }
        }
    }

    /// Freezes the open block so its lines can be written, and opens the next one.
    pub fn seal(&mut self) {
        if self.buf.is_empty() {
            return; // nothing rendered since the last seal: the open block stays open
        }
        let bytes = self.buf.split().freeze();
        let sealed = std::mem::take(&mut self.open);
        sealed
            .0
            .set(bytes)
            .expect("the open block was not sealed before");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(buf: &mut BroadcastBuf, text: &str) -> SharedLine {
        buf.write(|b| b.extend_from_slice(text.as_bytes()))
    }

    #[test]
    fn lines_in_a_row_share_a_block_and_are_readable_once_sealed() {
        let mut buf = BroadcastBuf::new();
        let a = write(&mut buf, "one\r\n");
        let b = write(&mut buf, "two\r\n");
        assert!(Rc::ptr_eq(a.block(), b.block()));
        assert_eq!(a.range(), (0, 5));
        assert_eq!(b.range(), (5, 10));
        assert!(a.block().sealed().is_none(), "open until sealed");
        assert_eq!(buf.bytes_of(&b), b"two\r\n");
        buf.seal();
        assert_eq!(&a.block().sealed().unwrap()[..], b"one\r\ntwo\r\n");
        assert_eq!(buf.bytes_of(&a), b"one\r\n");
        let c = write(&mut buf, "three\r\n");
        assert!(
            !Rc::ptr_eq(a.block(), c.block()),
            "a sealed block takes no more lines"
        );
        assert_eq!(c.range(), (0, 7));
    }

    #[test]
    fn sealing_an_empty_block_keeps_it_open() {
        let mut buf = BroadcastBuf::new();
        buf.seal();
        let a = write(&mut buf, "x\n");
        buf.seal();
        buf.seal();
        assert_eq!(&a.block().sealed().unwrap()[..], b"x\n");
    }

    #[test]
    fn a_full_block_is_sealed_before_the_next_line() {
        let mut buf = BroadcastBuf::new();
        let line = "y".repeat(100);
        let first = write(&mut buf, &line);
        let mut last = first.clone();
        for _ in 0..(4 * BLOCK_SIZE / line.len()) {
            last = write(&mut buf, &line);
        }
        assert!(
            first.block().sealed().is_some(),
            "the first block filled up and was sealed"
        );
        assert!(!Rc::ptr_eq(first.block(), last.block()));
        assert_eq!(first.block().sealed().unwrap().len() % line.len(), 0);
        assert!(first.block().sealed().unwrap().len() <= BLOCK_SIZE);
        buf.seal();
        assert_eq!(buf.bytes_of(&last), line.as_bytes());
    }

    #[test]
    fn a_line_longer_than_a_block_gets_a_block_of_its_own_size() {
        let mut buf = BroadcastBuf::new();
        let long = "z".repeat(3 * BLOCK_SIZE);
        let line = write(&mut buf, &long);
        buf.seal();
        assert_eq!(buf.bytes_of(&line), long.as_bytes());
    }
}
