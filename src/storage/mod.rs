//! The storage thread: chat history, and the bans, topics and operators kept across restarts,
//! on disk without the reactor ever waiting for the disk.
//!
//! The reactor collects what the chat core asks for in one loop turn (room events to store,
//! changes to the bans, topics and operators it keeps, and history queries) and sends them as one
//! batch over a channel ([`Storage::send_batch`]). The
//! storage thread owns the database ([`store::Store`]): it inserts events as they arrive into an
//! open transaction and commits it at most `--flush-ms` after its first line, so a line reaches the
//! disk within `--flush-ms` and each commit (one fsync) covers many lines. Queries run on the same
//! connection, so they see lines not yet committed. Answers go back over a second channel, and a
//! `mio::Waker` registered on the reactor's `Poll` wakes the loop to read them (Redis's `bio.c`
//! does the same with a pipe). Retention pruning runs on this thread too, at start and hourly.
//!
//! Indexing full blocks for `/search` is most of what storing costs, and it can wait: while lines
//! arrive slower than `--index-defer-above` a second the thread indexes as soon as it is free;
//! during a faster burst it leaves the blocks (up to `--max-unindexed` lines) and indexes them,
//! a slice at a time between batches, once the burst is over. Searches read what waits directly.
//!
//! On shutdown [`Storage::finish`] sends what is left, tells the thread to commit and stop, and
//! joins it: nothing acknowledged to a room is lost on SIGTERM.

pub mod store;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::{debug, error, info, warn};
use mio::Waker;

use crate::chat::event::{HistoryAnswer, HistoryError, HistoryQuery};
use crate::chat::kept::Kept;
use crate::chat::Event;
use store::Store;

/// Most lines one transaction holds, whatever the time: keeps a commit (and the memory of a
/// rolled-back batch) bounded under a flood of lines.
const MAX_BATCH: usize = 20_000;
/// Longest a stored line waits in the event loop before its batch goes to the storage thread.
/// Every batch wakes the sleeping thread (a futex call, a context switch, and on two cores a
/// thread competing with the event loop for its core): at 5 ms `saturate` relayed 2.8 M/s with
/// history on, at 50 ms 4.5 to 5.2 M/s. A line is on disk within `--flush-ms` plus this.
pub const SEND_EVERY: Duration = Duration::from_millis(50);
/// A batch this large goes out at once, whatever its age.
const SEND_AT: usize = 4096;
/// How often retention pruning runs (it also runs at start).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often a thread with blocks waiting for the index and nothing to store looks whether the
/// burst is over.
const INDEX_RECHECK: Duration = Duration::from_millis(500);
/// Blocks indexed at a time when indexing in a calm moment (about 16,000 lines, a few ms),
/// between looks at the channel.
const INDEX_SLICE: usize = 128;

/// What the reactor asks of the storage thread.
#[derive(Debug)]
pub enum Request {
    Store(Event),
    /// A change to the bans, topics or operators, written in the same transactions as lines.
    Keep(Kept),
    /// A query for the connection `conn`; `serial` tells a reused slab key from the asker.
    Query {
        conn: usize,
        serial: u64,
        query: HistoryQuery,
    },
}

enum Message {
    Batch(Vec<Request>),
    Shutdown,
}

/// An answer for the reactor to hand to the chat core if the connection is still the asker.
#[derive(Debug)]
pub struct Answer {
    pub conn: usize,
    pub serial: u64,
    pub answer: HistoryAnswer,
}

/// How the storage thread runs.
#[derive(Debug, Clone, Copy)]
pub struct StorageSettings {
    /// `--flush-ms`: most time between a line's arrival and its commit.
    pub flush: Duration,
    /// `--history-days`: lines older than this are pruned; `None` keeps everything.
    pub retention: Option<Duration>,
    /// `--index-defer-above`: lines a second above which indexing waits for the burst to end
    /// (0: never). Below it, full blocks are indexed as soon as the thread is free, which costs
    /// at most a few percent of a core; above it the relay is near its peak, and storing costs it
    /// least with the index left for later.
    pub index_defer_above: usize,
    /// `--max-unindexed`: most lines left waiting for the index; past it, blocks are indexed
    /// during the burst too (at the `saturate` bench's rate, 4,000,000 is 15 s of lines).
    pub max_unindexed: usize,
    /// `--search-max-unindexed` and `--search-max-examined`.
    pub search: store::SearchLimits,
    /// `--history-max-waiting`: most lines handed to the storage thread and not yet written.
    /// Beyond it the disk (or the CPU) is not keeping up, and further lines are not stored
    /// (counted and logged) rather than growing memory without bound; chat goes on.
    pub max_waiting: usize,
}

/// Counters of the storage thread, reported when it stops.
#[derive(Debug, Default, Clone, Copy)]
pub struct StorageStats {
    pub stored: u64,
    pub commits: u64,
    pub queries: u64,
    pub failed_lines: u64,
    /// Lines added to the full-text index (when it had waited for a calm moment).
    pub indexed: u64,
    /// Changes to the bans, topics and operators written, and those that failed.
    pub kept: u64,
    pub failed_kept: u64,
    pub failed_queries: u64,
    pub pruned: u64,
    /// CPU time the storage thread used, in milliseconds (what history costs the machine).
    pub cpu_ms: u64,
}

impl StorageStats {
    /// Every counter by name, for the log line the thread's end writes.
    pub fn fields(&self) -> Vec<(String, u64)> {
        let StorageStats {
            stored,
            commits,
            queries,
            failed_lines,
            indexed,
            kept,
            failed_kept,
            failed_queries,
            pruned,
            cpu_ms,
        } = *self;
        [
            ("stored", stored),
            ("commits", commits),
            ("queries", queries),
            ("failed_lines", failed_lines),
            ("indexed", indexed),
            ("kept", kept),
            ("failed_kept", failed_kept),
            ("failed_queries", failed_queries),
            ("pruned", pruned),
            ("cpu_ms", cpu_ms),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// What the storage thread has done so far, read by `/metrics` while it runs.
#[derive(Debug, Default)]
pub struct StorageProgress {
    /// Lines committed.
    pub stored: AtomicU64,
    /// CPU time the thread has used, in microseconds (updated at each commit).
    pub cpu_us: AtomicU64,
    /// Lines stored and waiting for the full-text index.
    pub unindexed: AtomicU64,
}

/// The reactor's handle on the storage thread.
pub struct Storage {
    tx: Sender<Message>,
    answers: Receiver<Answer>,
    batch: Vec<Request>,
    /// When the oldest request of `batch` was added: the batch goes out by `SEND_EVERY` after it.
    batch_since: Option<Instant>,
    /// The batch holds a query: someone is waiting for an answer, so it goes out this turn.
    batch_has_query: bool,
    /// Lines in `batch`: added to `in_flight` when it is sent, so the counter shared with the
    /// storage thread changes once a batch, not once a line (a line moving between the two
    /// cores' caches at every chat line costs the relay more than the count itself).
    batch_lines: usize,
    in_flight: Arc<AtomicUsize>,
    progress: Arc<StorageProgress>,
    /// `--history-max-waiting`.
    max_waiting: usize,
    /// Lines not stored because the storage thread was too far behind.
    pub dropped: u64,
    thread: Option<JoinHandle<StorageStats>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("batch", &self.batch.len())
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .finish()
    }
}

impl Storage {
    /// Starts the storage thread on an opened store. `waker` wakes the reactor when answers wait.
    pub fn start(
        store: Store,
        settings: StorageSettings,
        waker: Waker,
    ) -> std::io::Result<Storage> {
        let (tx, rx) = mpsc::channel();
        let (answer_tx, answers) = mpsc::channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let progress = Arc::new(StorageProgress::default());
        let worker = Worker {
            store,
            settings,
            answers: answer_tx,
            waker,
            in_flight: in_flight.clone(),
            progress: progress.clone(),
            rate: LineRate::default(),
            index_paused_until: None,
            stats: StorageStats::default(),
            batch_started: None,
            uncommitted: 0,
            uncommitted_kept: 0,
        };
        let thread = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || worker.run(rx))?;
        Ok(Storage {
            tx,
            answers,
            batch: Vec::new(),
            batch_since: None,
            batch_has_query: false,
            batch_lines: 0,
            in_flight,
            progress,
            max_waiting: settings.max_waiting,
            dropped: 0,
            thread: Some(thread),
        })
    }

    /// Lines handed to the storage thread (or queued for it) and not written yet.
    pub fn waiting(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed) + self.batch_lines
    }

    /// Lines committed so far, the storage thread's CPU time in seconds, and lines waiting for
    /// the full-text index.
    pub fn progress(&self) -> (u64, f64, u64) {
        (
            self.progress.stored.load(Ordering::Relaxed),
            self.progress.cpu_us.load(Ordering::Relaxed) as f64 / 1e6,
            self.progress.unindexed.load(Ordering::Relaxed),
        )
    }

    /// Queues a room event for this turn's batch (dropped, and counted, if the disk is far behind).
    pub fn store(&mut self, event: Event) {
        if self.waiting() >= self.max_waiting {
            if self.dropped.is_multiple_of(10_000) {
                warn!(behind = self.max_waiting; "history: storage is behind, lines are not being stored");
            }
            self.dropped += 1;
            return;
        }
        self.batch_lines += 1;
        if self.batch_since.is_none() {
            self.batch_since = Some(Instant::now());
        }
        self.batch.push(Request::Store(event));
    }

    /// Queues a change to what is kept for this turn's batch. Never dropped for being behind, as
    /// lines are past `--history-max-waiting`: a lost change is a ban or an operator forgotten. They come
    /// from operators' actions and `/topic`, which flood control paces like any line.
    pub fn keep(&mut self, change: Kept) {
        self.batch_since.get_or_insert_with(Instant::now);
        self.batch.push(Request::Keep(change));
    }

    /// Queues a query for this turn's batch.
    pub fn query(&mut self, conn: usize, serial: u64, query: HistoryQuery) {
        self.batch_has_query = true;
        self.batch_since.get_or_insert_with(Instant::now);
        self.batch.push(Request::Query {
            conn,
            serial,
            query,
        });
    }

    /// Sends the batch if it is due: it holds a query, or `SEND_AT` requests, or its oldest
    /// request is `SEND_EVERY` old. Called once per loop turn; never blocks.
    pub fn send_if_due(&mut self, now: Instant) {
        let due = self.batch_has_query
            || self.batch.len() >= SEND_AT
            || self
                .batch_since
                .is_some_and(|since| now.duration_since(since) >= SEND_EVERY);
        if due {
            self.send_batch();
        }
    }

    /// When the waiting batch must go out, for the loop's poll timeout.
    pub fn next_send(&self) -> Option<Instant> {
        self.batch_since.map(|since| since + SEND_EVERY)
    }

    /// Sends the batch, if any, in one channel message. Never blocks.
    pub fn send_batch(&mut self) {
        self.batch_since = None;
        self.batch_has_query = false;
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        self.in_flight
            .fetch_add(std::mem::take(&mut self.batch_lines), Ordering::Relaxed);
        if self.tx.send(Message::Batch(batch)).is_err() {
            // The thread is gone (it logged why); chat goes on without history.
            debug!("history: the storage thread has stopped; batch dropped");
        }
    }

    /// The answers that have arrived, without waiting.
    pub fn answers(&self) -> Vec<Answer> {
        self.answers.try_iter().collect()
    }

    /// Sends what is left, has the thread commit everything and stop, and waits for it.
    pub fn finish(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.send_batch();
        let _ = self.tx.send(Message::Shutdown);
        match thread.join() {
            Ok(stats) => {
                let mut fields = stats.fields();
                fields.push(("dropped".to_string(), self.dropped));
                crate::logging::info_fields("history: stopped", &fields);
            }
            Err(_) => error!("history: the storage thread panicked"),
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The storage thread's state.
struct Worker {
    store: Store,
    settings: StorageSettings,
    answers: Sender<Answer>,
    waker: Waker,
    in_flight: Arc<AtomicUsize>,
    progress: Arc<StorageProgress>,
    /// How fast lines arrive: indexing waits while it is a burst's pace.
    rate: LineRate,
    /// After an indexing error, when to try again (not in a hot loop).
    index_paused_until: Option<Instant>,
    stats: StorageStats,
    /// When the open transaction got its first line.
    batch_started: Option<Instant>,
    uncommitted: usize,
    /// Kept changes in the open transaction.
    uncommitted_kept: u64,
}

impl Worker {
    fn run(mut self, rx: Receiver<Message>) -> StorageStats {
        lower_priority();
        self.store.set_search_limits(self.settings.search);
        self.progress
            .unindexed
            .store(self.store.unindexed_lines() as u64, Ordering::Relaxed);
        // Without a retention there is nothing to prune, and no deadline: with no batch open the
        // thread sleeps until the reactor sends something (a deadline in the past would spin).
        let mut next_prune = self.settings.retention.map(|_| Instant::now());
        loop {
            let now = Instant::now();
            if next_prune.is_some_and(|at| now >= at) {
                self.prune();
                next_prune = Some(now + PRUNE_EVERY);
            }
            let commit_at = self.batch_started.map(|t| t + self.settings.flush);
            // Blocks waiting for the index: look again in a while, for the burst may be over.
            let index_at = (self.store.unindexed_lines() > 0).then(|| now + INDEX_RECHECK);
            let deadline = [next_prune, commit_at, index_at]
                .into_iter()
                .flatten()
                .min();
            let received = if self.index_due(now) {
                // Work waits for the index: do a slice of it unless a batch is waiting.
                match rx.try_recv() {
                    Ok(message) => Ok(message),
                    Err(mpsc::TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                    Err(mpsc::TryRecvError::Empty) => {
                        self.index_slice(now);
                        Err(RecvTimeoutError::Timeout)
                    }
                }
            } else {
                match deadline {
                    Some(deadline) => rx.recv_timeout(deadline.saturating_duration_since(now)),
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                }
            };
            match received {
                Ok(Message::Batch(requests)) => {
                    self.handle(requests);
                    // Take every batch already waiting before looking at the clock again: under
                    // load the clock reads, not the inserts, were this thread's cost.
                    if !self.drain(&rx) {
                        break;
                    }
                }
                Ok(Message::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let due = self
                .batch_started
                .is_some_and(|t| t.elapsed() >= self.settings.flush);
            if due || self.uncommitted >= MAX_BATCH {
                self.commit();
            }
        }
        // Anything still queued behind the shutdown message was sent before it: nothing is.
        self.commit();
        self.stats.cpu_ms = thread_cpu_us() / 1000;
        self.stats
    }

    /// Whether to index now: blocks wait, lines arrive at a chat's pace (or too many wait), and
    /// no earlier failure asks for a pause.
    fn index_due(&mut self, now: Instant) -> bool {
        let waiting = self.store.unindexed_lines();
        waiting > 0
            && self.index_paused_until.is_none_or(|until| now >= until)
            && (waiting > self.settings.max_unindexed
                || self.rate.calm(now, self.settings.index_defer_above))
    }

    /// Indexes one slice of the waiting blocks (in the open batch, if one is open).
    fn index_slice(&mut self, now: Instant) {
        match self.store.index_pending(INDEX_SLICE) {
            Ok(lines) => {
                self.stats.indexed += lines as u64;
                self.progress
                    .unindexed
                    .store(self.store.unindexed_lines() as u64, Ordering::Relaxed);
                self.progress
                    .cpu_us
                    .store(thread_cpu_us(), Ordering::Relaxed);
            }
            Err(store::StoreError::BatchLost) => {
                self.batch_failed(&store::StoreError::BatchLost, 0);
                self.index_paused_until = Some(now + Duration::from_secs(60));
            }
            Err(e) => {
                error!(error:% = e; "history: indexing failed; /search reads the unindexed lines directly meanwhile");
                self.index_paused_until = Some(now + Duration::from_secs(60));
            }
        }
    }

    /// Handles the batches already queued, without waiting; false when the reactor said stop.
    fn drain(&mut self, rx: &Receiver<Message>) -> bool {
        loop {
            match rx.try_recv() {
                Ok(Message::Batch(requests)) => {
                    self.handle(requests);
                    if self.uncommitted >= MAX_BATCH {
                        self.commit();
                    }
                }
                Ok(Message::Shutdown) | Err(mpsc::TryRecvError::Disconnected) => return false,
                Err(mpsc::TryRecvError::Empty) => return true,
            }
        }
    }

    fn handle(&mut self, requests: Vec<Request>) {
        let mut answered = false;
        let mut lines = 0;
        for request in requests {
            match request {
                Request::Store(event) => {
                    lines += 1;
                    self.insert(&event);
                }
                Request::Keep(change) => self.keep(&change),
                Request::Query {
                    conn,
                    serial,
                    query,
                } => {
                    self.stats.queries += 1;
                    let result = self.store.query(&query).map_err(|e| {
                        self.stats.failed_queries += 1;
                        warn!(error:% = e; "history: a query failed");
                        HistoryError::Failed
                    });
                    let answer = HistoryAnswer { query, result };
                    answered |= self
                        .answers
                        .send(Answer {
                            conn,
                            serial,
                            answer,
                        })
                        .is_ok();
                }
            }
        }
        self.in_flight.fetch_sub(lines, Ordering::Relaxed);
        self.rate.add(lines, Instant::now());
        if answered {
            if let Err(e) = self.waker.wake() {
                error!(error:% = e; "history: cannot wake the reactor");
            }
        }
    }

    fn insert(&mut self, event: &Event) {
        if self.batch_started.is_none() {
            if let Err(e) = self.store.begin() {
                self.fail_line(&e);
                return;
            }
            self.batch_started = Some(Instant::now());
        }
        match self.store.insert(event) {
            Ok(_) => self.uncommitted += 1,
            // The store rolled the batch back: this line and the batch's others are lost.
            Err(e) => self.batch_failed(&e, 1),
        }
    }

    /// Writes a change to what is kept in the open transaction (opening one if need be), so it
    /// is committed with the lines, within `--flush-ms`.
    fn keep(&mut self, change: &Kept) {
        if self.batch_started.is_none() {
            if let Err(e) = self.store.begin() {
                error!(change = change.kind(), error:% = e; "storage: a kept change failed");
                self.stats.failed_kept += 1;
                return;
            }
            self.batch_started = Some(Instant::now());
        }
        match self.store.keep(change) {
            // Counted once committed: a rolled-back batch takes it with its lines.
            Ok(()) => self.uncommitted_kept += 1,
            Err(e) => {
                error!(change = change.kind(), error:% = e; "storage: a kept change failed");
                self.stats.failed_kept += 1;
                // A failed statement may have taken the transaction with it (a full disk):
                // the batch is dropped whole rather than committed in part.
                self.store.rollback();
                self.batch_failed(&e, 0);
            }
        }
    }

    /// Counts a rolled-back batch: its lines and kept changes, and `more` lines that failed
    /// with it. The next line begins a new batch.
    fn batch_failed(&mut self, e: &store::StoreError, more: usize) {
        let lines = std::mem::take(&mut self.uncommitted) + more;
        let kept = std::mem::take(&mut self.uncommitted_kept);
        self.batch_started = None;
        if lines + kept as usize > 0 {
            error!(lines, kept, error:% = e; "history: a batch was rolled back, its lines and kept changes are lost");
        }
        self.stats.failed_lines += lines as u64;
        self.stats.failed_kept += kept;
    }

    fn fail_line(&mut self, e: &store::StoreError) {
        if self.stats.failed_lines.is_multiple_of(1000) {
            error!(error:% = e; "history: a line could not be stored");
        }
        self.stats.failed_lines += 1;
    }

    fn commit(&mut self) {
        if self.batch_started.take().is_none() {
            return;
        }
        let lines = std::mem::take(&mut self.uncommitted);
        let kept = std::mem::take(&mut self.uncommitted_kept);
        match self.store.commit() {
            Ok(()) => {
                self.stats.commits += 1;
                self.stats.stored += lines as u64;
                self.stats.kept += kept;
                self.progress
                    .stored
                    .store(self.stats.stored, Ordering::Relaxed);
                self.progress
                    .cpu_us
                    .store(thread_cpu_us(), Ordering::Relaxed);
                self.progress
                    .unindexed
                    .store(self.store.unindexed_lines() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                // Kept changes (bans, topics, operators) are named apart: losing one matters
                // more than losing a line.
                error!(lines, kept, error:% = e; "history: a commit failed, its lines and kept changes are lost");
                self.store.rollback();
                self.stats.failed_lines += lines as u64;
                self.stats.failed_kept += kept;
            }
        }
    }

    fn prune(&mut self) {
        let Some(keep) = self.settings.retention else {
            return;
        };
        self.commit();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        match self.store.prune_before(store::cutoff(now_ms, keep)) {
            Ok(0) => {}
            Ok(n) => {
                self.stats.pruned += n as u64;
                info!(lines = n, days = keep.as_secs() / 86_400; "history: pruned");
            }
            Err(e) => error!(error:% = e; "history: pruning failed"),
        }
    }
}

/// Lines stored per second, over the last whole second and the one under way.
#[derive(Debug)]
struct LineRate {
    since: Instant,
    this_second: usize,
    last_second: usize,
}

impl Default for LineRate {
    fn default() -> Self {
        LineRate {
            since: Instant::now(),
            this_second: 0,
            last_second: 0,
        }
    }
}

impl LineRate {
    fn roll(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed >= Duration::from_secs(1) {
            // A second or more with no lines counted is a rate of nothing.
            self.last_second = if elapsed < Duration::from_secs(2) {
                self.this_second
            } else {
                0
            };
            self.this_second = 0;
            self.since = now;
        }
    }

    fn add(&mut self, lines: usize, now: Instant) {
        self.roll(now);
        self.this_second += lines;
    }

    /// Lines arrive slower than a burst: below `burst` a second last second and so far this
    /// one (a `burst` of 0: always calm).
    fn calm(&mut self, now: Instant, burst: usize) -> bool {
        self.roll(now);
        burst == 0 || (self.last_second < burst && self.this_second < burst)
    }
}

/// CPU time used by the calling thread, in microseconds.
fn thread_cpu_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass and reads nothing else.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// How much lower than the reactor the storage thread is scheduled (a nice value).
const STORAGE_NICENESS: libc::c_int = 10;

/// Lowers this thread's CPU priority. When the cores are saturated, relaying chat keeps the CPU
/// and storing waits: lines queue (bounded by `--history-max-waiting`) and reach the disk once there is
/// CPU to spare. With a core to spare, nothing changes and `--flush-ms` holds.
fn lower_priority() {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    let result = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, STORAGE_NICENESS)
    };
    if result != 0 {
        debug!("history: could not lower the storage thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_history_max_waiting_are_dropped_and_counted_and_the_rest_stored() {
        let poll = mio::Poll::new().unwrap();
        let waker = Waker::new(poll.registry(), mio::Token(0)).unwrap();
        let settings = StorageSettings {
            flush: Duration::from_millis(10),
            retention: None,
            index_defer_above: 100_000,
            max_unindexed: 4_000_000,
            search: store::SearchLimits::default(),
            max_waiting: 10,
        };
        let dir = tempfile::tempdir().unwrap();
        let mut storage =
            Storage::start(Store::open(dir.path()).unwrap(), settings, waker).unwrap();
        let mut ids = crate::chat::id::IdGen::new(1);
        let line = |ids: &mut crate::chat::id::IdGen, i: u64| Event::Message {
            id: ids.next(1_704_112_496_000 + i),
            at: 1_704_112_496_000 + i,
            room: Arc::from("lobby"),
            from: Arc::from("alice"),
            text: Arc::from(format!("line {i}")),
        };
        // Twenty lines in one loop turn: ten wait, ten are past the bound.
        for i in 0..20 {
            storage.store(line(&mut ids, i));
        }
        assert_eq!((storage.waiting(), storage.dropped), (10, 10));
        storage.send_batch();
        storage.finish();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.count().unwrap(), 10);
    }

    #[test]
    fn the_line_rate_is_calm_below_the_threshold_and_again_once_a_burst_is_over() {
        // The default --index-defer-above.
        const CALM_LINES_PER_SEC: usize = 100_000;
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut rate = LineRate {
            since: t0,
            this_second: 0,
            last_second: 0,
        };
        assert!(rate.calm(at(0), CALM_LINES_PER_SEC));
        rate.add(CALM_LINES_PER_SEC / 2, at(100));
        assert!(rate.calm(at(200), CALM_LINES_PER_SEC));
        // A burst: not calm while it lasts, nor the second after.
        rate.add(CALM_LINES_PER_SEC, at(300));
        assert!(!rate.calm(at(400), CALM_LINES_PER_SEC));
        rate.add(CALM_LINES_PER_SEC * 2, at(1100));
        assert!(!rate.calm(at(1500), CALM_LINES_PER_SEC));
        assert!(
            !rate.calm(at(2200), CALM_LINES_PER_SEC),
            "the second after the burst still counts it"
        );
        // Then a second with nothing counted.
        assert!(rate.calm(at(3300), CALM_LINES_PER_SEC));
        // A long silence after a burst is calm at once.
        rate.add(CALM_LINES_PER_SEC * 3, at(3400));
        assert!(rate.calm(at(9000), CALM_LINES_PER_SEC));
        // --index-defer-above 0: never a burst.
        rate.add(CALM_LINES_PER_SEC * 3, at(9100));
        assert!(rate.calm(at(9200), 0));
        assert!(!rate.calm(at(9200), CALM_LINES_PER_SEC));
    }
}
