//! Broadcast to 1,000 recipients in-process: the server's hot path without sockets.
//!
//! - `render_enqueue`: one message event rendered once into a shared `Bytes`, a clone pushed into
//!   each of 1,000 `OutQueue`s with the limit check the reactor runs after every push, then every
//!   queue drained with its vectored write into `io::sink()` (which stands in for the socket).
//! - `render_enqueue_hoisted_clock`: the same with one clock read per broadcast instead of one per
//!   recipient, to price `Instant::now()` on this path.
//! - `render_enqueue_shared`: the reactor's path: the line rendered into a `BroadcastBuf` block,
//!   `SharedLine` references (non-atomic counts) and the caps checked against the turn's start
//!   time: the per-recipient cost without atomics or clock reads.
//! - `render_per_recipient`: what sharing saves: the line formatted once per recipient.
//! - `window_16`: 16 broadcasts queued before one drain, as in a loop turn of `fanout1k` with 16
//!   messages in flight, rendered back to back into one block: each queue holds one entry for the
//!   16 lines and writes them with one slice.
//! - `window_16_block_per_line`: the same with every line in a block of its own, as before lines
//!   were rendered back to back: an entry and a slice per line.
//! - `chat_line`: the whole in-process path of a message in a 1,000-member room: `Chat::line`
//!   (clean, parse, fan-out list) into an `Outbox`, render once, push clones, drain.
//!
//! Throughput is in deliveries (elements), comparable with the bench client's deliveries/s.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use reactor_chat::chat::{Chat, ChatSettings, ConnId, Event, Now, Outbox, Output, Peer};
use reactor_chat::config::Lang;
use reactor_chat::reactor::broadcast::{BroadcastBuf, SharedLine};
use reactor_chat::reactor::outqueue::{OutQueue, QueueLimits, QueueVerdict};
use reactor_chat::render::line::Renderer;

const MEMBERS: usize = 1000;
const TEXT: &str = "~0000002a0000beef000012345678...................................";

/// The server's default output limits.
fn limits() -> QueueLimits {
    QueueLimits {
        hard: 256 * 1024,
        soft: 64 * 1024,
        soft_for: Duration::from_secs(10),
    }
}

fn now() -> Now {
    Now {
        mono: Instant::now(),
        wall: 1_704_112_496_000,
    }
}

/// A chat core with `MEMBERS` users logged in to the lobby, the outbox emptied.
fn full_room() -> (Chat, Outbox) {
    let mut chat = Chat::new(ChatSettings::default());
    let mut out = Outbox::default();
    for i in 0..MEMBERS {
        let conn = ConnId(i);
        chat.connect(
            conn,
            Peer {
                ip: IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8)),
            },
        );
        chat.line(conn, &format!("user{i}"), now(), &mut out);
        out.clear();
    }
    assert_eq!(chat.online(), MEMBERS);
    (chat, out)
}

/// The event a message in the full room produces, as the chat core builds it.
fn message_event() -> Event {
    let (mut chat, mut out) = full_room();
    chat.line(ConnId(0), TEXT, now(), &mut out);
    out.items
        .iter()
        .find_map(|o| match o {
            Output::ToMany { event, .. } => Some(event.clone()),
            _ => None,
        })
        .expect("a message fans out")
}

/// Renders as the reactor does: into a block, split off and frozen.
fn render(renderer: &Renderer, buf: &mut BytesMut, event: &Event) -> Bytes {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(16 * 1024);
    }
    renderer.render(event, buf);
    buf.split().freeze()
}

/// Queues a broadcast line for every recipient as the reactor does: a shared reference, then
/// the caps checked against the turn's start.
fn queue_for_all(queues: &mut [OutQueue], line: &SharedLine, limits: &QueueLimits, at: Instant) {
    for q in queues {
        q.push_shared(line);
        assert_eq!(q.check(limits, at), QueueVerdict::Ok);
    }
}

fn drain(queues: &mut [OutQueue]) {
    let mut sink = io::sink();
    for q in queues {
        black_box(
            q.write_to(&mut sink, 64 * 1024)
                .expect("a sink never fails"),
        );
    }
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout");
    group.sample_size(30);
    group.throughput(Throughput::Elements(MEMBERS as u64));
    let renderer = Renderer::new(Lang::En, true);
    let limits = limits();
    let event = message_event();

    group.bench_function(BenchmarkId::new("render_enqueue", MEMBERS), |b| {
        let mut buf = BytesMut::new();
        let mut queues: Vec<OutQueue> = (0..MEMBERS).map(|_| OutQueue::new()).collect();
        b.iter(|| {
            let line = render(&renderer, &mut buf, &event);
            for q in queues.iter_mut() {
                q.push(line.clone());
                // The reactor reads the clock per recipient for the soft-cap timer.
                assert_eq!(q.check(&limits, Instant::now()), QueueVerdict::Ok);
            }
            drain(&mut queues);
        });
    });

    group.bench_function(
        BenchmarkId::new("render_enqueue_hoisted_clock", MEMBERS),
        |b| {
            let mut buf = BytesMut::new();
            let mut queues: Vec<OutQueue> = (0..MEMBERS).map(|_| OutQueue::new()).collect();
            b.iter(|| {
                let line = render(&renderer, &mut buf, &event);
                let at = Instant::now();
                for q in queues.iter_mut() {
                    q.push(line.clone());
                    assert_eq!(q.check(&limits, at), QueueVerdict::Ok);
                }
                drain(&mut queues);
            });
        },
    );

    group.bench_function(BenchmarkId::new("render_enqueue_shared", MEMBERS), |b| {
        let mut lines = BroadcastBuf::new();
        let mut queues: Vec<OutQueue> = (0..MEMBERS).map(|_| OutQueue::new()).collect();
        b.iter(|| {
            let turn_began = Instant::now();
            let line = lines.write(|buf| renderer.render(&event, buf));
            queue_for_all(&mut queues, &line, &limits, turn_began);
            lines.seal();
            drain(&mut queues);
        });
    });

    group.throughput(Throughput::Elements(16 * MEMBERS as u64));
    group.bench_function(BenchmarkId::new("window_16", MEMBERS), |b| {
        let mut lines = BroadcastBuf::new();
        let mut queues: Vec<OutQueue> = (0..MEMBERS).map(|_| OutQueue::new()).collect();
        b.iter(|| {
            let turn_began = Instant::now();
            for _ in 0..16 {
                let line = lines.write(|buf| renderer.render(&event, buf));
                queue_for_all(&mut queues, &line, &limits, turn_began);
            }
            lines.seal();
            drain(&mut queues);
        });
    });
    group.bench_function(BenchmarkId::new("window_16_block_per_line", MEMBERS), |b| {
        let mut buf = BytesMut::new();
        let mut queues: Vec<OutQueue> = (0..MEMBERS).map(|_| OutQueue::new()).collect();
        b.iter(|| {
            let turn_began = Instant::now();
            for _ in 0..16 {
                let line = SharedLine::new(render(&renderer, &mut buf, &event));
                queue_for_all(&mut queues, &line, &limits, turn_began);
            }
            drain(&mut queues);
        });
    });
    group.throughput(Throughput::Elements(MEMBERS as u64));

    group.bench_function(BenchmarkId::new("render_per_recipient", MEMBERS), |b| {
        let mut buf = BytesMut::new();
        let mut queues: Vec<OutQueue> = (0..MEMBERS).map(|_| OutQueue::new()).collect();
        b.iter(|| {
            let at = Instant::now();
            for q in queues.iter_mut() {
                q.push(render(&renderer, &mut buf, &event));
                assert_eq!(q.check(&limits, at), QueueVerdict::Ok);
            }
            drain(&mut queues);
        });
    });

    group.bench_function(BenchmarkId::new("chat_line", MEMBERS), |b| {
        let (mut chat, mut out) = full_room();
        let mut buf = BytesMut::new();
        let mut queues: Vec<OutQueue> = (0..MEMBERS).map(|_| OutQueue::new()).collect();
        b.iter(|| {
            out.clear();
            chat.line(ConnId(0), black_box(TEXT), now(), &mut out);
            for item in &out.items {
                if let Output::ToMany { start, end, event } = item {
                    let line = render(&renderer, &mut buf, event);
                    for conn in &out.recipients[*start..*end] {
                        queues[conn.0].push(line.clone());
                    }
                }
            }
            drain(&mut queues);
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = fanout
}
criterion_main!(benches);
