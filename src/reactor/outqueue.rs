//! A connection's output queue: shared chunks written with vectored writes, bounded like
//! Redis's client-output-buffer-limit (a hard cap that trips at once, a soft cap that trips when held).
//!
//! A broadcast line is queued for every recipient, so the per-recipient cost of queueing it is the
//! server's hot path. `Bytes` counts its references atomically, and an atomic increment per
//! recipient (then a decrement when written) is most of that cost: each locked instruction also
//! waits for the stores before it, so the cache misses of a thousand queues are paid one after
//! another. The reactor is one thread, so a [`SharedLine`] is a range of a block rendered once
//! and shared by plain, non-atomic references; lines of the same block that follow one another
//! in a queue are one entry ([`OutQueue::push_shared`], and the [`broadcast`](super::broadcast)
//! module for why). The reactor checks the caps against the time its loop turn began, since a
//! clock read per recipient costs as much as the queueing itself.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};

use super::broadcast::Block;
pub use super::broadcast::SharedLine;

/// How many chunks one `writev` carries at most: Linux's IOV_MAX. A queue of a thousand chat lines
/// (about 90 KiB, more than a turn's write budget) then goes out in one system call, where 64
/// slices per call took a dozen.
const MAX_IOVECS: usize = 1024;

/// Slices for a write of at most this many chunks are gathered on the stack; a longer queue
/// gathers them in a vector, an allocation shared by the many lines of that one call.
const STACK_IOVECS: usize = 64;

/// Stands in for a soft-cap grace too long to add to the clock: a century.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The verdict of a limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueVerdict {
    Ok,
    /// Over the hard cap: drop the client now.
    OverHard,
    /// Over the soft cap for longer than allowed: drop the client.
    OverSoftTooLong,
}

/// Limits applied to every connection's queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub hard: usize,
    pub soft: usize,
    pub soft_for: Duration,
}

/// One queued piece of output, with how much of it is already written.
#[derive(Debug)]
enum Chunk {
    /// Output for this connection alone (replies, its own welcome).
    Own(Bytes),
    /// Broadcast lines: bytes `start..end` of a block, `start` moving as they are written.
    Shared {
        block: Rc<Block>,
        start: u32,
        end: u32,
    },
}

impl Chunk {
    fn len(&self) -> usize {
        match self {
            Chunk::Own(b) => b.len(),
            Chunk::Shared { start, end, .. } => (end - start) as usize,
        }
    }

    /// The bytes still to write, or `None` while the block is open (the reactor seals it before
    /// writing, so this is a safety net, not a path).
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Chunk::Own(b) => Some(b),
            Chunk::Shared { block, start, end } => {
                Some(&block.sealed()?[*start as usize..*end as usize])
            }
        }
    }

    /// Marks the first `n` bytes (fewer than its length) written.
    fn advance(&mut self, n: usize) {
        match self {
            Chunk::Own(b) => b.advance(n),
            Chunk::Shared { start, .. } => *start += n as u32,
        }
    }
}

/// Pending output of one connection. Chunks are reference-counted, so one broadcast line sits in
/// memory once however many queues hold it.
///
/// File payloads are queued with [`OutQueue::push_file`]: the same buffer is in every
/// recipient's queue and in the file store, so they cost a recipient no memory of its own and do
/// not count against the caps (which guard per-connection memory). Their bytes are tracked apart,
/// as positions in the output stream, so a connection's file backlog can be bounded on its own.
///
/// Every connection has one, so it is kept small: 64 bytes, no heap memory once drained, and the
/// file bookkeeping boxed because few connections ever have a file on its way.
#[derive(Debug, Default)]
pub struct OutQueue {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// When a queue over its soft cap since then must be dropped: a deadline rather than a
    /// start, so the check on every push is a compare, not a subtraction.
    over_soft_until: Option<Instant>,
    files: Option<Box<FileSpans>>,
}

/// Where the file payloads are in a queue's output stream.
#[derive(Debug, Default)]
struct FileSpans {
    /// Stream positions `[start, end)` of file payloads not yet fully written.
    spans: VecDeque<(u64, u64)>,
    /// Their bytes not yet written.
    len: usize,
    /// Bytes queued and written since this bookkeeping started: the positions `spans` is in.
    pushed: u64,
    written: u64,
}

/// What a `write_to` call achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Flush {
    /// The queue is empty.
    Drained,
    /// The socket would block; wait for writable readiness.
    Blocked,
    /// The per-turn budget ran out with data left; try again next turn.
    Budget,
}

impl OutQueue {
    pub fn new() -> Self {
        OutQueue::default()
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes waiting that are this queue's own: all but file payloads, which are held once for
    /// every recipient (what the caps and `--max-output-memory` count).
    pub fn own_len(&self) -> usize {
        self.len - self.file_len()
    }

    /// Appends a chunk of this connection's own output.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.pushed(chunk.len());
        self.chunks.push_back(Chunk::Own(chunk));
    }

    fn pushed(&mut self, n: usize) {
        self.len += n;
        if let Some(files) = &mut self.files {
            files.pushed += n as u64;
        }
    }

    /// Appends a file payload held elsewhere too: written like any chunk, in order, but not
    /// counted against the caps (see the type's docs).
    pub fn push_file(&mut self, payload: Bytes) {
        if payload.is_empty() {
            return;
        }
        let queued = self.len as u64;
        let files = self.files.get_or_insert_with(|| {
            // Positions count from the first byte still queued now.
            Box::new(FileSpans {
                pushed: queued,
                ..FileSpans::default()
            })
        });
        let start = files.pushed;
        let size = payload.len();
        files.spans.push_back((start, start + size as u64));
        files.len += size;
        self.push(payload);
    }

    /// Bytes of file payloads still to be written.
    pub fn file_len(&self) -> usize {
        self.files.as_ref().map_or(0, |f| f.len)
    }

    /// Appends a broadcast line: a non-atomic reference-count bump, no copy; or, when the line
    /// follows the last one queued in the same block, no new entry at all.
    pub fn push_shared(&mut self, line: &SharedLine) {
        if line.is_empty() {
            return;
        }
        self.pushed(line.len());
        let (start, end) = line.range();
        if let Some(Chunk::Shared {
            block,
            end: last_end,
            ..
        }) = self.chunks.back_mut()
        {
            if *last_end == start && Rc::ptr_eq(block, line.block()) {
                *last_end = end;
                return;
            }
        }
        self.chunks.push_back(Chunk::Shared {
            block: Rc::clone(line.block()),
            start,
            end,
        });
    }

    /// Checks the limits after output was queued, or periodically; remembers when the soft cap
    /// was first exceeded (as the deadline it sets).
    pub fn check(&mut self, limits: &QueueLimits, now: Instant) -> QueueVerdict {
        let own = self.len - self.file_len();
        if own > limits.hard {
            return QueueVerdict::OverHard;
        }
        if own > limits.soft {
            let until = *self.over_soft_until.get_or_insert_with(|| {
                // A grace too long to add to the clock (`--soft-queue-secs` near 2^64) never ends.
                now.checked_add(limits.soft_for)
                    .unwrap_or_else(|| now + NEVER)
            });
            if now >= until {
                return QueueVerdict::OverSoftTooLong;
            }
        } else {
            self.over_soft_until = None;
        }
        QueueVerdict::Ok
    }

    /// Drops everything queued (the connection is going away and nothing more is sent to it).
    pub fn clear(&mut self) {
        self.chunks = VecDeque::new();
        self.len = 0;
        self.over_soft_until = None;
        self.files = None;
    }

    /// Writes queued chunks with vectored writes until the queue is empty, the socket would block,
    /// or `budget` bytes have been written. Partial writes resume at the right byte next time.
    pub fn write_to<W: Write>(
        &mut self,
        sink: &mut W,
        budget: usize,
    ) -> io::Result<(Flush, usize)> {
        let mut written = 0;
        while self.len > 0 {
            if written >= budget {
                return Ok((Flush::Budget, written));
            }
            let result = if self.chunks.len() <= STACK_IOVECS {
                let mut slices = [IoSlice::new(&[]); STACK_IOVECS];
                let mut n = 0;
                for (slot, bytes) in slices.iter_mut().zip(self.writable()) {
                    *slot = IoSlice::new(bytes);
                    n += 1;
                }
                if n == 0 {
                    return Ok((Flush::Budget, written));
                }
                sink.write_vectored(&slices[..n])
            } else {
                let slices: Vec<IoSlice<'_>> = self.writable().map(IoSlice::new).collect();
                if slices.is_empty() {
                    return Ok((Flush::Budget, written));
                }
                sink.write_vectored(&slices)
            };
            match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    written += n;
                    self.consume(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((Flush::Blocked, written))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        // Memory only while there is output (as Redis does): the ring goes as soon as it is
        // drained, so its block is reused by the next connection's output at once instead of
        // every connection keeping one.
        self.chunks = VecDeque::new();
        self.over_soft_until = None;
        Ok((Flush::Drained, written))
    }

    /// The bytes of the chunks one write can carry: up to [`MAX_IOVECS`], stopping at a block
    /// not yet sealed (nothing after it may go out before it).
    fn writable(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().take(MAX_IOVECS).map_while(Chunk::bytes)
    }

    fn consume(&mut self, mut n: usize) {
        self.len -= n;
        if let Some(files) = &mut self.files {
            if files.consume(n as u64) {
                self.files = None; // no file left on its way
            }
        }
        while n > 0 {
            let front = self.chunks.front_mut().expect("consumed more than queued");
            let len = front.len();
            if n >= len {
                n -= len;
                self.chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }
}

impl FileSpans {
    /// Accounts for `n` more bytes written, against the file spans; true when none is left.
    fn consume(&mut self, n: u64) -> bool {
        let (from, to) = (self.written, self.written + n);
        for &(start, end) in &self.spans {
            if start >= to {
                break;
            }
            let overlap = end.min(to).saturating_sub(start.max(from));
            self.len -= overlap as usize;
        }
        while self.spans.front().is_some_and(|&(_, end)| end <= to) {
            self.spans.pop_front();
        }
        self.written = to;
        self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::broadcast::BroadcastBuf;
    use super::*;

    /// A sink that accepts at most `per_call` bytes per write and then blocks after `capacity` in total.
    struct Trickle {
        out: Vec<u8>,
        per_call: usize,
        capacity: usize,
        calls: usize,
    }

    impl Trickle {
        /// A sink that takes everything in one call.
        fn open() -> Self {
            Trickle {
                out: Vec::new(),
                per_call: usize::MAX,
                capacity: usize::MAX / 2,
                calls: 0,
            }
        }
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            let room = self.capacity - self.out.len();
            if room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut left = self.per_call.min(room);
            let mut n = 0;
            for b in bufs {
                let take = left.min(b.len());
                self.out.extend_from_slice(&b[..take]);
                left -= take;
                n += take;
                if left == 0 {
                    break;
                }
            }
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn queue_of(lines: &[&str]) -> OutQueue {
        let mut q = OutQueue::new();
        for l in lines {
            q.push(Bytes::copy_from_slice(l.as_bytes()));
        }
        q
    }

    #[test]
    fn partial_writes_resume_at_the_right_byte() {
        let lines = ["one\r\n", "two\r\n", "three\r\n", "four\r\n"];
        for per_call in 1..=8 {
            let mut q = queue_of(&lines);
            let mut sink = Trickle {
                out: Vec::new(),
                per_call,
                capacity: usize::MAX / 2,
                calls: 0,
            };
            let (flush, n) = q.write_to(&mut sink, usize::MAX).unwrap();
            assert_eq!(flush, Flush::Drained);
            assert_eq!(n, lines.concat().len());
            assert_eq!(sink.out, lines.concat().as_bytes());
            assert!(q.is_empty());
        }
    }

    #[test]
    fn one_write_carries_many_lines() {
        let mut q = queue_of(&["a\r\n"; 50]);
        let mut sink = Trickle::open();
        q.write_to(&mut sink, usize::MAX).unwrap();
        assert_eq!(sink.calls, 1);
    }

    #[test]
    fn a_long_queue_goes_out_in_one_call() {
        let mut q = queue_of(&["a\r\n"; MAX_IOVECS]);
        let mut sink = Trickle::open();
        q.write_to(&mut sink, usize::MAX).unwrap();
        assert_eq!(sink.calls, 1);
        assert_eq!(sink.out.len(), 3 * MAX_IOVECS);
        // One more than a call carries takes a second call.
        let mut q = queue_of(&["b\r\n"; MAX_IOVECS + 1]);
        q.write_to(&mut sink, usize::MAX).unwrap();
        assert_eq!(sink.calls, 3);
    }

    #[test]
    fn blocks_then_resumes() {
        let mut q = queue_of(&["hello\r\n", "world\r\n"]);
        let mut sink = Trickle {
            out: Vec::new(),
            per_call: 100,
            capacity: 9,
            calls: 0,
        };
        assert_eq!(
            q.write_to(&mut sink, usize::MAX).unwrap(),
            (Flush::Blocked, 9)
        );
        assert_eq!(q.len(), 5);
        sink.capacity = 100;
        assert_eq!(
            q.write_to(&mut sink, usize::MAX).unwrap(),
            (Flush::Drained, 5)
        );
        assert_eq!(sink.out, b"hello\r\nworld\r\n");
    }

    #[test]
    fn budget_stops_early() {
        let mut q = queue_of(&["0123456789"; 10]);
        let mut sink = Trickle {
            out: Vec::new(),
            per_call: 10,
            capacity: 1000,
            calls: 0,
        };
        assert_eq!(q.write_to(&mut sink, 25).unwrap(), (Flush::Budget, 30));
        assert_eq!(q.len(), 70);
    }

    #[test]
    fn shared_chunk_is_not_copied() {
        let line = Bytes::from_static(b"broadcast\r\n");
        let mut a = OutQueue::new();
        let mut b = OutQueue::new();
        a.push(line.clone());
        b.push(line.clone());
        let at = |q: &OutQueue, i: usize| q.chunks[i].bytes().unwrap().as_ptr();
        assert_eq!(at(&a, 0), at(&b, 0));
        let shared = SharedLine::new(line);
        a.push_shared(&shared);
        b.push_shared(&shared);
        assert_eq!(at(&a, 1), at(&b, 1));
        assert_eq!(a.len(), 22);
    }

    /// Lines rendered one after another into `buf`, as the reactor renders a turn's broadcasts.
    fn render_all(buf: &mut BroadcastBuf, lines: &[&str]) -> Vec<SharedLine> {
        lines
            .iter()
            .map(|l| buf.write(|b| b.extend_from_slice(l.as_bytes())))
            .collect()
    }

    #[test]
    fn a_run_of_lines_from_one_block_is_one_entry() {
        let mut buf = BroadcastBuf::new();
        let lines = ["one\r\n", "two\r\n", "three\r\n", "four\r\n"];
        let shared = render_all(&mut buf, &lines);
        // `everyone` gets every line; `skipper` not the second (its own), which splits its run;
        // `mixed` gets a reply of its own between the first two.
        let (mut everyone, mut skipper, mut mixed) =
            (OutQueue::new(), OutQueue::new(), OutQueue::new());
        for (i, line) in shared.iter().enumerate() {
            everyone.push_shared(line);
            if i != 1 {
                skipper.push_shared(line);
            }
            mixed.push_shared(line);
            if i == 0 {
                mixed.push(Bytes::from_static(b"reply\r\n"));
            }
        }
        assert_eq!(everyone.chunks.len(), 1);
        assert_eq!(skipper.chunks.len(), 2);
        assert_eq!(mixed.chunks.len(), 3);
        assert_eq!(everyone.len(), lines.concat().len());

        // Nothing goes out while the block is open, not even the reply queued behind it.
        let mut sink = Trickle::open();
        assert_eq!(
            mixed.write_to(&mut sink, usize::MAX).unwrap(),
            (Flush::Budget, 0)
        );
        assert_eq!(sink.calls, 0);

        buf.seal();
        for (q, want) in [
            (&mut everyone, lines.concat()),
            (&mut skipper, "one\r\nthree\r\nfour\r\n".to_string()),
            (
                &mut mixed,
                "one\r\nreply\r\ntwo\r\nthree\r\nfour\r\n".to_string(),
            ),
        ] {
            let mut sink = Trickle::open();
            assert_eq!(q.write_to(&mut sink, usize::MAX).unwrap().0, Flush::Drained);
            assert_eq!(sink.calls, 1, "one writev for the whole queue");
            assert_eq!(String::from_utf8(sink.out).unwrap(), want);
        }
    }

    #[test]
    fn a_run_resumes_at_the_right_byte_and_grows_after_a_partial_write() {
        for per_call in 1..=12 {
            let mut buf = BroadcastBuf::new();
            let first = render_all(&mut buf, &["one\r\n", "two\r\n"]);
            let mut q = OutQueue::new();
            for line in &first {
                q.push_shared(line);
            }
            buf.seal();
            let mut sink = Trickle {
                out: Vec::new(),
                per_call,
                capacity: usize::MAX / 2,
                calls: 0,
            };
            q.write_to(&mut sink, 1).unwrap(); // one call: part of the run is written
                                               // Lines of the next block start a new entry; the half-written one stays as it is.
            let next = render_all(&mut buf, &["three\r\n", "four\r\n"]);
            for line in &next {
                q.push_shared(line);
            }
            buf.seal();
            q.write_to(&mut sink, usize::MAX).unwrap();
            assert_eq!(sink.out, b"one\r\ntwo\r\nthree\r\nfour\r\n");
            assert!(q.is_empty());
        }
    }

    #[test]
    fn shared_lines_resume_at_the_right_byte_in_each_queue() {
        let lines = ["one\r\n", "two\r\n", "three\r\n"];
        let shared: Vec<SharedLine> = lines
            .iter()
            .map(|l| SharedLine::new(Bytes::copy_from_slice(l.as_bytes())))
            .collect();
        // Two queues holding the same lines, written at different speeds, each see the whole text.
        for per_call in 1..=6 {
            let mut fast = OutQueue::new();
            let mut slow = OutQueue::new();
            fast.push(Bytes::from_static(b">"));
            for line in &shared {
                fast.push_shared(line);
                slow.push_shared(line);
            }
            let mut fast_sink = Trickle {
                out: Vec::new(),
                per_call: usize::MAX,
                capacity: usize::MAX / 2,
                calls: 0,
            };
            let mut slow_sink = Trickle {
                out: Vec::new(),
                per_call,
                capacity: usize::MAX / 2,
                calls: 0,
            };
            slow.write_to(&mut slow_sink, 3).unwrap();
            fast.write_to(&mut fast_sink, usize::MAX).unwrap();
            slow.write_to(&mut slow_sink, usize::MAX).unwrap();
            assert_eq!(fast_sink.out, format!(">{}", lines.concat()).as_bytes());
            assert_eq!(slow_sink.out, lines.concat().as_bytes());
            assert!(fast.is_empty() && slow.is_empty());
        }
    }

    #[test]
    fn hard_and_soft_caps() {
        let limits = QueueLimits {
            hard: 100,
            soft: 50,
            soft_for: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        let mut q = OutQueue::new();
        q.push(Bytes::from(vec![b'x'; 40]));
        assert_eq!(q.check(&limits, t0), QueueVerdict::Ok);
        q.push(Bytes::from(vec![b'x'; 20]));
        assert_eq!(q.check(&limits, t0), QueueVerdict::Ok);
        assert_eq!(
            q.check(&limits, t0 + Duration::from_secs(9)),
            QueueVerdict::Ok
        );
        assert_eq!(
            q.check(&limits, t0 + Duration::from_secs(10)),
            QueueVerdict::OverSoftTooLong
        );
        q.push(Bytes::from(vec![b'x'; 41]));
        assert_eq!(q.check(&limits, t0), QueueVerdict::OverHard);
    }

    #[test]
    fn an_endless_soft_grace_never_trips() {
        let limits = QueueLimits {
            hard: 100,
            soft: 5,
            soft_for: Duration::MAX,
        };
        let t0 = Instant::now();
        let mut q = queue_of(&["0123456789"]);
        assert_eq!(q.check(&limits, t0), QueueVerdict::Ok);
        assert_eq!(
            q.check(&limits, t0 + Duration::from_secs(3600)),
            QueueVerdict::Ok
        );
    }

    #[test]
    fn draining_below_soft_resets_the_clock() {
        let limits = QueueLimits {
            hard: 100,
            soft: 5,
            soft_for: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        let mut q = queue_of(&["0123456789"]);
        assert_eq!(q.check(&limits, t0), QueueVerdict::Ok);
        let mut sink = Trickle {
            out: Vec::new(),
            per_call: 100,
            capacity: 100,
            calls: 0,
        };
        q.write_to(&mut sink, usize::MAX).unwrap();
        q.push(Bytes::from_static(b"0123456789"));
        assert_eq!(
            q.check(&limits, t0 + Duration::from_secs(11)),
            QueueVerdict::Ok
        );
    }
    #[test]
    fn file_payloads_are_written_in_order_but_not_counted_against_the_caps() {
        let limits = QueueLimits {
            hard: 10,
            soft: 5,
            soft_for: Duration::from_secs(10),
        };
        let mut q = OutQueue::new();
        q.push(Bytes::from_static(b"=file\r\n"));
        q.push_file(Bytes::from(vec![b'x'; 1000]));
        q.push_shared(&SharedLine::new(Bytes::from_static(b"hi\r\n")));
        assert_eq!(q.len(), 7 + 1000 + 4);
        assert_eq!(q.file_len(), 1000);
        assert_eq!(q.check(&limits, Instant::now()), QueueVerdict::OverHard);
        let mut sink = Trickle {
            out: Vec::new(),
            per_call: 100,
            capacity: 500,
            calls: 0,
        };
        assert_eq!(q.write_to(&mut sink, usize::MAX).unwrap().0, Flush::Blocked);
        assert_eq!(q.file_len(), 1000 - (500 - 7));
        sink.capacity = 2000;
        assert_eq!(q.write_to(&mut sink, usize::MAX).unwrap().0, Flush::Drained);
        assert_eq!(q.file_len(), 0);
        let mut want = b"=file\r\n".to_vec();
        want.extend(vec![b'x'; 1000]);
        want.extend_from_slice(b"hi\r\n");
        assert_eq!(sink.out, want);
        // Only the lines count: a big file alone never trips a cap.
        q.push_file(Bytes::from(vec![b'y'; 100_000]));
        assert_eq!(q.check(&limits, Instant::now()), QueueVerdict::Ok);
    }

    #[test]
    fn file_accounting_starts_mid_stream_and_ends_with_the_last_file() {
        let mut q = queue_of(&["0123456789"]);
        let mut sink = Trickle {
            out: Vec::new(),
            per_call: 4,
            capacity: 4,
            calls: 0,
        };
        q.write_to(&mut sink, usize::MAX).unwrap(); // 6 bytes of the line left
        q.push_file(Bytes::from(vec![b'a'; 10]));
        q.push(Bytes::from_static(b"--\r\n"));
        q.push_file(Bytes::from(vec![b'b'; 5]));
        assert_eq!((q.len(), q.file_len()), (6 + 10 + 4 + 5, 15));
        for (capacity, file_left) in [(10, 15), (12, 13), (20, 5), (26, 3), (29, 0)] {
            sink.capacity = capacity;
            let _ = q.write_to(&mut sink, usize::MAX).unwrap();
            assert_eq!(q.file_len(), file_left, "after {capacity} bytes");
        }
        assert!(
            q.files.is_none(),
            "no bookkeeping once no file is on its way"
        );
        q.push_file(Bytes::from(vec![b'c'; 3]));
        assert_eq!(q.file_len(), 3);
    }

    #[test]
    fn a_drained_queue_holds_no_memory() {
        let mut q = queue_of(&["a", "b", "c"]);
        let mut sink = Trickle {
            out: Vec::new(),
            per_call: 2,
            capacity: 2,
            calls: 0,
        };
        assert_eq!(q.write_to(&mut sink, usize::MAX).unwrap().0, Flush::Blocked);
        assert!(q.chunks.capacity() > 0, "not while it holds output");
        sink.capacity = 100;
        assert_eq!(q.write_to(&mut sink, usize::MAX).unwrap().0, Flush::Drained);
        assert_eq!(q.chunks.capacity(), 0);
        assert_eq!(std::mem::size_of::<OutQueue>(), 64);
    }
}
