//! A connection's output queue: shared `Bytes` chunks written with vectored writes, bounded like
//! Redis's client-output-buffer-limit (a hard cap that trips at once, a soft cap that trips when held).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};

/// How many chunks one `writev` carries at most (Linux's IOV_MAX is 1024; 64 already fills a socket buffer).
const MAX_IOVECS: usize = 64;

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

/// Pending output of one connection. Chunks are reference-counted, so one broadcast line sits in
/// memory once however many queues hold it.
///
/// File payloads are queued as *shared* chunks: the same buffer is in every recipient's queue and in
/// the file store, so they cost a recipient no memory of its own and do not count against the caps
/// (which guard per-connection memory). Their bytes are tracked apart, in positions of the output
/// stream, so a connection's file backlog can be bounded on its own.
#[derive(Debug, Default)]
pub struct OutQueue {
    chunks: VecDeque<Bytes>,
    len: usize,
    over_soft_since: Option<Instant>,
    /// Stream positions `[start, end)` of shared chunks not yet fully written.
    shared: VecDeque<(u64, u64)>,
    shared_len: usize,
    /// Bytes ever queued and ever written: stream positions for `shared`.
    pushed_total: u64,
    written_total: u64,
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

    /// Appends a chunk (a cheap reference-count bump for shared broadcast buffers).
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        self.pushed_total += chunk.len() as u64;
        self.chunks.push_back(chunk);
    }

    /// Appends a file payload held elsewhere too: written like any chunk, in order, but not counted
    /// against the caps (see the type's docs).
    pub fn push_shared(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        let start = self.pushed_total;
        self.push(chunk);
        self.shared.push_back((start, self.pushed_total));
        self.shared_len += (self.pushed_total - start) as usize;
    }

    /// Bytes of shared file payloads still to be written.
    pub fn shared_len(&self) -> usize {
        self.shared_len
    }

    /// Checks the limits after output was queued, or periodically; remembers when the soft cap was first exceeded.
    pub fn check(&mut self, limits: &QueueLimits, now: Instant) -> QueueVerdict {
        let own = self.len - self.shared_len;
        if own > limits.hard {
            return QueueVerdict::OverHard;
        }
        if own > limits.soft {
            let since = *self.over_soft_since.get_or_insert(now);
            if now.duration_since(since) >= limits.soft_for {
                return QueueVerdict::OverSoftTooLong;
            }
        } else {
            self.over_soft_since = None;
        }
        QueueVerdict::Ok
    }

    /// Drops everything queued (the connection is going away and nothing more is sent to it).
    pub fn clear(&mut self) {
        self.chunks = VecDeque::new();
        self.len = 0;
        self.over_soft_since = None;
        self.shared = VecDeque::new();
        self.shared_len = 0;
        self.written_total = self.pushed_total;
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
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = self.chunks.len().min(MAX_IOVECS);
            for (slot, chunk) in slices.iter_mut().zip(self.chunks.iter()) {
                *slot = IoSlice::new(chunk);
            }
            match sink.write_vectored(&slices[..count]) {
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
        // An idle connection should cost nearly nothing: give back the ring's memory once drained.
        if self.chunks.capacity() > 16 {
            self.chunks = VecDeque::new();
        }
        self.over_soft_since = None;
        Ok((Flush::Drained, written))
    }

    fn consume(&mut self, mut n: usize) {
        self.len -= n;
        if !self.shared.is_empty() {
            self.consume_shared(n as u64);
        }
        self.written_total += n as u64;
        while n > 0 {
            let front = self.chunks.front_mut().expect("consumed more than queued");
            if n >= front.len() {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }
}

impl OutQueue {
    /// Accounts for `n` bytes written from `written_total` on, against the shared segments.
    fn consume_shared(&mut self, n: u64) {
        let (from, to) = (self.written_total, self.written_total + n);
        for &(start, end) in &self.shared {
            if start >= to {
                break;
            }
            let overlap = end.min(to).saturating_sub(start.max(from));
            self.shared_len -= overlap as usize;
        }
        while self.shared.front().is_some_and(|&(_, end)| end <= to) {
            self.shared.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that accepts at most `per_call` bytes per write and then blocks after `capacity` in total.
    struct Trickle {
        out: Vec<u8>,
        per_call: usize,
        capacity: usize,
        calls: usize,
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
        let mut sink = Trickle {
            out: Vec::new(),
            per_call: usize::MAX,
            capacity: usize::MAX / 2,
            calls: 0,
        };
        q.write_to(&mut sink, usize::MAX).unwrap();
        assert_eq!(sink.calls, 1);
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
        assert_eq!(a.chunks[0].as_ptr(), b.chunks[0].as_ptr());
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
    fn shared_payloads_are_written_in_order_but_not_counted_against_the_caps() {
        let limits = QueueLimits {
            hard: 10,
            soft: 5,
            soft_for: Duration::from_secs(10),
        };
        let mut q = OutQueue::new();
        q.push(Bytes::from_static(b"=file\r\n"));
        q.push_shared(Bytes::from(vec![b'x'; 1000]));
        q.push(Bytes::from_static(b"hi\r\n"));
        assert_eq!(q.len(), 7 + 1000 + 4);
        assert_eq!(q.shared_len(), 1000);
        assert_eq!(q.check(&limits, Instant::now()), QueueVerdict::OverHard);
        let mut sink = Trickle {
            out: Vec::new(),
            per_call: 100,
            capacity: 500,
            calls: 0,
        };
        assert_eq!(q.write_to(&mut sink, usize::MAX).unwrap().0, Flush::Blocked);
        assert_eq!(q.shared_len(), 1000 - (500 - 7));
        sink.capacity = 2000;
        assert_eq!(q.write_to(&mut sink, usize::MAX).unwrap().0, Flush::Drained);
        assert_eq!(q.shared_len(), 0);
        let mut want = b"=file\r\n".to_vec();
        want.extend(vec![b'x'; 1000]);
        want.extend_from_slice(b"hi\r\n");
        assert_eq!(sink.out, want);
        // Only the lines count: a big file alone never trips a cap.
        q.push_shared(Bytes::from(vec![b'y'; 100_000]));
        assert_eq!(q.check(&limits, Instant::now()), QueueVerdict::Ok);
    }
}
