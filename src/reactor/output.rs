//! Output: applying what the chat core asked for, rendering its events, queueing them for each
//! recipient in its wire format, and the output caps checked as they are queued.

use std::time::Instant;

use bytes::Bytes;
use log::{debug, info};

use super::broadcast;
use super::close::lost_reason_for;
use super::conn::{Conn, Proto};
use super::outqueue::{OutQueue, QueueVerdict};
use super::web;
use super::Reactor;
use crate::chat::{ConnId, Event, FileNotice, LostReason, Output};
use crate::codec::file::FileDecoder;

impl Reactor {
    /// Applies what the chat core asked for, then empties the outbox.
    pub(super) fn apply_outbox(&mut self) {
        let mut outbox = std::mem::take(&mut self.outbox);
        for output in outbox.items.drain(..) {
            match output {
                Output::ToConn { conn, event } => self.queue_event(conn.0, &event),
                Output::ToMany { start, end, event } => {
                    self.stats.deliveries += (end - start) as u64;
                    let recipients = &outbox.recipients[start..end];
                    match file_payload(&event) {
                        Some(payload) => {
                            let header = self.render(&event);
                            for conn in recipients {
                                self.queue_file(conn.0, &header, payload);
                            }
                        }
                        None => self.queue_broadcast(recipients, &event),
                    }
                }
                Output::ReceiveFile { conn, size, keep } => {
                    if let Some(c) = self.conns.get_mut(conn.0) {
                        let after_cr = c.decoder.after_cr();
                        c.upload = Some(Box::new(FileDecoder::new(size, keep, after_cr)));
                    }
                }
                Output::LoggedIn { conn } => {
                    if let Some(c) = self.conns.get_mut(conn.0) {
                        c.logged_in = true;
                        c.timeout_from = Instant::now(); // from now on, the idle timeout's
                        c.decoder.set_max_line(self.cfg.max_line);
                    }
                }
                Output::Close { conn, bye } => {
                    if self.conns.contains(conn.0) {
                        if let Some(bye) = bye {
                            self.queue_event(conn.0, &Event::Bye(bye));
                        }
                        self.begin_close(conn.0, Instant::now() + self.cfg.linger());
                    }
                }
                Output::Store(event) => self.store(event),
                Output::Query { conn, query } => self.query(conn.0, query),
            }
        }
        outbox.clear();
        self.outbox = outbox;
    }

    /// Renders output for one connection (or a file's header line) into a block shared with the
    /// other recent lines: one allocation serves many lines, each `Bytes` keeps only its block
    /// alive. Blocks are sized as broadcast blocks are, for the same reason.
    fn render(&mut self, event: &Event) -> Bytes {
        if self.render_buf.capacity() - self.render_buf.len() < broadcast::MIN_ROOM {
            self.render_buf.reserve(broadcast::BLOCK_SIZE);
        }
        self.renderer.render(event, &mut self.render_buf);
        self.render_buf.split().freeze()
    }

    /// Renders a broadcast once, into the open block; line clients take a non-atomic reference to
    /// it, WebSocket clients share one framed copy made on first need.
    fn queue_broadcast(&mut self, recipients: &[ConnId], event: &Event) {
        let renderer = &self.renderer;
        let line = self.broadcast.write(|buf| renderer.render(event, buf));
        let mut framed: Option<Bytes> = None;
        for conn in recipients {
            if self.conns.get(conn.0).is_some_and(Conn::is_websocket) {
                let frame = framed
                    .get_or_insert_with(|| web::text_frame(self.broadcast.bytes_of(&line)))
                    .clone();
                self.queue_raw(conn.0, frame);
            } else {
                self.queue_with(conn.0, |q| q.push_shared(&line));
            }
        }
    }

    /// Queues one event for one connection.
    pub(super) fn queue_event(&mut self, key: usize, event: &Event) {
        if self.conns.get(key).is_some_and(Conn::accepts_output) {
            self.stats.deliveries += 1;
            let bytes = self.render(event);
            match file_payload(event) {
                Some(payload) => self.queue_file(key, &bytes, payload),
                None => self.queue_bytes(key, bytes),
            }
        }
    }

    /// Queues a file's header line and then its payload, the one buffer every recipient shares.
    /// A connection that still has `file_backlog` bytes of files on their way gets a refusal
    /// instead, so a client that takes files and never reads them cannot pin payload after
    /// payload in memory.
    fn queue_file(&mut self, key: usize, header: &Bytes, payload: &Bytes) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        let queued = conn.out.file_len();
        if queued > 0 && queued + payload.len() > self.file_backlog {
            self.stats.files_busy += 1;
            let busy = FileNotice::Busy {
                queued: queued as u64,
            };
            self.queue_event(key, &Event::File(busy));
            return;
        }
        self.queue_bytes(key, header.clone());
        if self.conns.get(key).is_some_and(Conn::is_websocket) {
            // The payload travels as one binary message; only its frame head is new bytes.
            self.queue_raw(key, web::binary_head(payload.len()));
        }
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.accepts_output() {
                conn.out.push_file(payload.clone());
                self.stats.files_out += 1;
            }
        }
    }

    /// Queues rendered protocol lines in the connection's wire format: as they are for line
    /// clients, as a WebSocket text message for browsers, and not at all for an HTTP request
    /// (chat lines never go into an HTTP response).
    fn queue_bytes(&mut self, key: usize, lines: Bytes) {
        match self.conns.get(key).map(|c| &c.proto) {
            Some(Proto::WebSocket(_)) => self.queue_raw(key, web::text_frame(&lines)),
            Some(Proto::Http(_)) | None => {}
            Some(_) => self.queue_raw(key, lines),
        }
    }

    /// Queues wire bytes for a connection and enforces the output limits.
    pub(super) fn queue_raw(&mut self, key: usize, bytes: Bytes) {
        self.queue_with(key, |q| q.push(bytes));
    }

    /// Queues output for a connection through `push`, then applies the caps and puts the
    /// connection on the write list.
    fn queue_with(&mut self, key: usize, push: impl FnOnce(&mut OutQueue)) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if !conn.accepts_output() {
            return;
        }
        push(&mut conn.out);
        // Goodbye lines of closing connections are queued before the phase changes, so they
        // always fit; everything else obeys the caps.
        let mut verdict = conn.out.check(&self.limits, self.turn_began);
        if verdict == QueueVerdict::OverHard {
            // Within one loop turn many senders may queue lines for this connection before the
            // flush step runs. Before calling it a slow reader, let its socket take what it can:
            // a client that reads keeps up through its kernel buffer; one that does not stays
            // over the cap and is dropped.
            self.broadcast.seal();
            match conn.out.write_to(&mut conn.stream, usize::MAX) {
                Ok((_, n)) => self.stats.bytes_out += n as u64,
                Err(e) => {
                    debug!("write to {}: {e}", conn.peer);
                    self.mark_dead(key, lost_reason_for(&e, LostReason::WriteError));
                    return;
                }
            }
            verdict = conn.out.check(&self.limits, Instant::now());
        }
        if verdict != QueueVerdict::Ok {
            self.drop_for_queue(key, verdict);
            return;
        }
        self.pending_writes.add(key, &mut conn.write_listed);
    }

    /// Drops a connection over its output caps: its queue is cleared, it is marked dead.
    pub(super) fn drop_for_queue(&mut self, key: usize, verdict: QueueVerdict) {
        let conn = &mut self.conns[key];
        match verdict {
            QueueVerdict::OverHard => self.stats.queue_hard_drops += 1,
            QueueVerdict::OverSoftTooLong => self.stats.queue_soft_drops += 1,
            QueueVerdict::Ok => return,
        }
        info!(
            "dropping {}: output queue {} bytes ({:?})",
            conn.peer,
            conn.out.len(),
            verdict
        );
        conn.out.clear();
        self.mark_dead(key, LostReason::SendQueueExceeded);
    }
}

/// The payload of a file delivery, which is queued after its rendered header.
fn file_payload(event: &Event) -> Option<&Bytes> {
    match event {
        Event::File(FileNotice::Data { payload, .. }) => Some(payload),
        _ => None,
    }
}
