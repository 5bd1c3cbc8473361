//! Output: applying what the chat core asked for, rendering its events, queueing them for each
//! recipient in its wire format ([`wire`](super::wire)), and the output caps checked as they are
//! queued.

use std::sync::Arc;

use bytes::Bytes;
use log::{debug, info};

use super::broadcast::SharedLine;
use super::broadcast::{self, BroadcastBuf};
use super::close::lost_reason_for;
use super::conn::Conn;
use super::outqueue::QueueVerdict;
use super::wire::{LineBytes, Pushed, Rendered, Wire};
use super::Reactor;
use crate::chat::Chat;
use crate::chat::{ConnId, Event, FileNotice, LostReason, Output};
use crate::codec::file::FileDecoder;
use crate::render::irc::IrcRenderer;
use crate::render::line::Renderer;
use bytes::BytesMut;

impl Reactor {
    /// Applies what the chat core asked for, then empties the outbox.
    pub(super) fn apply_outbox(&mut self) {
        let mut outbox = std::mem::take(&mut self.outbox);
        for output in outbox.items.drain(..) {
            match output {
                Output::ToConn { conn, event } => self.queue_event(conn.0, &event),
                Output::ToMany { start, end, event } => {
                    self.stats.deliveries += (end - start) as u64;
                    self.queue_broadcast(&outbox.recipients[start..end], &event);
                }
                Output::ReceiveFile { conn, size, keep } => {
                    if let Some(c) = self.conns.get_mut(conn.0) {
                        let after_cr = c.decoder.after_cr();
                        c.upload = Some(Box::new(FileDecoder::new(size, keep, after_cr)));
                    }
                }
                Output::LoggedIn { conn } => {
                    self.stop_waiting(conn.0);
                    if let Some(c) = self.conns.get_mut(conn.0) {
                        c.logged_in = true;
                        c.timeout_from = self.clock.now(); // from now on, the idle timeout's
                        c.decoder.set_max_line(self.cfg.max_line);
                    }
                }
                Output::Close { conn, bye } => {
                    if self.conns.contains(conn.0) {
                        if let Some(bye) = bye {
                            self.queue_event(conn.0, &Event::Bye(bye));
                        }
                        self.begin_close(conn.0, self.clock.now() + self.cfg.linger());
                    }
                }
                Output::Store(event) => self.store(event),
                Output::Publish(event) => self.publish(&event),
                Output::ClaimNick {
                    conn,
                    claim,
                    key,
                    nick,
                    resume,
                } => self.claim_nick(conn, claim, key, &nick, resume),
                Output::ReleaseNick { key } => self.release_nick(&key),
                Output::WhisperElsewhere { conn, key, event } => {
                    self.whisper_elsewhere(conn, &key, event);
                }
                Output::Keep(change) => self.keep(change),
                Output::Share(change) => self.share(change),
                Output::KickElsewhere { conn, key, kick } => self.kick_elsewhere(conn, &key, kick),
                Output::TellElsewhere { node, to, event } => self.tell_elsewhere(node, &to, &event),
                Output::WhoisElsewhere {
                    conn,
                    key,
                    asker,
                    target,
                } => self.whois_elsewhere(conn, &key, asker, target),
                Output::ReplyElsewhere { node, to, event } => {
                    self.reply_elsewhere(node, &to, &event);
                }
                Output::InviteElsewhere {
                    conn,
                    key,
                    from,
                    target,
                    room,
                } => self.invite_elsewhere(conn, &key, from, target, room),
                Output::ListRoomsElsewhere { conn } => self.list_rooms_elsewhere(conn),
                Output::Query { conn, query } => self.query(conn.0, query),
            }
        }
        outbox.clear();
        self.outbox = outbox;
        self.told_once.clear();
        // Departed users' addresses were kept for rendering this outbox's lines about them.
        self.chat.forget_departed();
    }

    /// Queues one event for one connection.
    pub(super) fn queue_event(&mut self, key: usize, event: &Event) {
        if self.conns.get(key).is_some_and(Conn::accepts_output) {
            self.stats.deliveries += 1;
            if let Some(Wire::Irc(_)) = self.conns[key].wire() {
                // Numerics name their recipient: rendered for it alone.
                return self.queue_irc_event(key, event);
            }
            let base = self.link_base_for(key, event);
            let rendered = Rendered::new(self.render_with_base(event, base), event);
            self.queue_for_each(&[ConnId(key)], rendered, file_payload(event));
        }
    }

    /// The address a download link in `event` must start with for connection `key`, when links
    /// follow the address each user connected to (and, with TLS, its scheme); `None` when the
    /// renderer's base serves.
    pub(super) fn link_base_for(&self, key: usize, event: &Event) -> Option<Arc<str>> {
        if !self.links_per_conn || !carries_link(event) {
            return None;
        }
        let conn = self.conns.get(key)?;
        let reached = conn.stream.local_addr().ok()?;
        // On a dual-stack socket an IPv4 user reached ::ffff:a.b.c.d: its link names a.b.c.d.
        let reached = std::net::SocketAddr::new(reached.ip().to_canonical(), reached.port());
        let scheme = if conn.tls.is_some() { "https" } else { "http" };
        Some(Arc::from(format!("{scheme}://{reached}")))
    }

    /// Renders with download links starting with `base`, if given (see `link_base_for`).
    fn render_with_base(&mut self, event: &Event, base: Option<Arc<str>>) -> Bytes {
        self.with_link_base(base, |r| r.render(event))
    }

    /// Runs `render` with the renderers' download links starting with `base`, if given, and
    /// puts the usual base back after.
    pub(super) fn with_link_base<T>(
        &mut self,
        base: Option<Arc<str>>,
        render: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let Some(base) = base else {
            return render(self);
        };
        let usual = std::mem::replace(&mut self.renderer.link_base, base);
        let made = render(self);
        self.renderer.link_base = usual;
        made
    }

    /// Queues one event for many connections. A line is rendered after the turn's earlier
    /// broadcasts in the open broadcast block, so a member's run of them is one queue entry; a
    /// file's header is rendered on its own, since the payload queued after it ends the run.
    fn queue_broadcast(&mut self, recipients: &[ConnId], event: &Event) {
        if self.links_per_conn && carries_link(event) {
            // A file offer's link names the address each recipient reached: rendered once per
            // address among them (offers are rare; most servers have one or two addresses).
            let mut by_base: Vec<(Arc<str>, Vec<ConnId>)> = Vec::new();
            for &conn in recipients {
                let Some(base) = self.link_base_for(conn.0, event) else {
                    continue;
                };
                match by_base.iter_mut().find(|(b, _)| *b == base) {
                    Some((_, conns)) => conns.push(conn),
                    None => by_base.push((base, vec![conn])),
                }
            }
            for (base, conns) in by_base {
                let line = self.render_with_base(event, Some(base.clone()));
                let rendered = Rendered::new(line, event).with_link_base(Some(base));
                self.queue_for_each(&conns, rendered, None);
            }
            return;
        }
        match file_payload(event) {
            Some(payload) => {
                let header = Rendered::new(self.render(event), event);
                self.queue_for_each(recipients, header, Some(payload));
            }
            None => {
                // Into the open broadcast block, each wire format's bytes for its first recipient.
                let rendered: Rendered<'_, SharedLine> = Rendered::lazy(event);
                self.queue_for_each(recipients, rendered, None);
            }
        }
    }

    /// Queues a rendered event for each recipient in its own wire format, and for a file
    /// delivery its payload after it.
    fn queue_for_each<L: MadeHere>(
        &mut self,
        recipients: &[ConnId],
        mut rendered: Rendered<'_, L>,
        payload: Option<&Bytes>,
    ) {
        match payload {
            None if once_per_user(rendered.event()).is_some() => {
                // A QUIT or NICK is about a user, not a room: an IRC client sharing several of
                // the user's rooms is told once (the rooms' announcements come in one outbox).
                let who = once_per_user(rendered.event()).cloned();
                for conn in recipients {
                    let irc = matches!(
                        self.conns.get(conn.0).and_then(Conn::wire),
                        Some(Wire::Irc(_))
                    );
                    if irc {
                        if let Some(who) = &who {
                            if !self.told_once.insert((conn.0, who.clone())) {
                                continue;
                            }
                        }
                    }
                    self.queue_rendered(conn.0, &mut rendered);
                }
            }
            None => {
                for conn in recipients {
                    self.queue_rendered(conn.0, &mut rendered);
                }
            }
            Some(payload) => {
                for conn in recipients {
                    self.queue_file(conn.0, &mut rendered, payload);
                }
            }
        }
    }

    /// Renders output for one connection (or a file's header line) into a block shared with the
    /// other recent lines: one allocation serves many lines, each `Bytes` keeps only its block
    /// alive. Blocks are sized as broadcast blocks are, for the same reason.
    pub(super) fn render(&mut self, event: &Event) -> Bytes {
        if self.render_buf.capacity() - self.render_buf.len() < broadcast::MIN_ROOM {
            self.render_buf.reserve(broadcast::BLOCK_SIZE);
        }
        self.renderer.render(event, &mut self.render_buf);
        self.render_buf.split().freeze()
    }

    /// Queues a file's header line and then its payload, the one buffer every recipient shares.
    /// A connection that still has `file_backlog` bytes of files on their way gets a refusal
    /// instead, so a client that takes files and never reads them cannot pin payload after
    /// payload in memory.
    fn queue_file<L: MadeHere>(
        &mut self,
        key: usize,
        header: &mut Rendered<'_, L>,
        payload: &Bytes,
    ) {
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
        let Some(wire) = conn.wire() else {
            return;
        };
        if let Wire::Irc(_) = wire {
            return; // IRC users take files by their download links
        }
        self.queue_rendered(key, header);
        if let Some(head) = wire.payload_head(payload.len()) {
            self.queue_raw(key, head);
        }
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.accepts_output() {
                conn.out.push_file(payload.clone());
                self.stats.files_out += 1;
            }
        }
    }

    /// Queues a rendered event for one connection in its wire format; nothing for an HTTP
    /// request (chat output never goes into an HTTP response).
    #[inline]
    fn queue_rendered<L: MadeHere>(&mut self, key: usize, rendered: &mut Rendered<'_, L>) {
        let mut needs = Pushed::Queued;
        self.queue_with(key, |conn, open| {
            needs = rendered.push_to(conn.wire(), &mut conn.out, open);
            needs == Pushed::Queued
        });
        if matches!(needs, Pushed::Queued | Pushed::Nothing) {
            return;
        }
        // The first recipient of this wire format (and IRC capabilities): rendered once, where
        // the other formats' bytes are, and shared by the recipients after it.
        let (event, base) = (rendered.event(), rendered.link_base().cloned());
        self.with_link_base(base, |r| match needs {
            Pushed::NeedsIrc(caps) => {
                let view = crate::render::irc::View::broadcast(caps);
                let bytes = L::make(r, |line, irc, chat, buf| {
                    irc.render(line, chat, event, view, buf);
                });
                rendered.set_irc(caps, bytes);
            }
            _ => {
                let bytes = L::make(r, |line, _, _, buf| line.render(event, buf));
                rendered.set_line(bytes);
            }
        });
        self.queue_with(key, |conn, open| {
            rendered.push_to(conn.wire(), &mut conn.out, open) == Pushed::Queued
        });
    }

    /// Queues wire bytes for a connection and enforces the output limits.
    pub(super) fn queue_raw(&mut self, key: usize, bytes: Bytes) {
        self.queue_with(key, |conn, _| {
            conn.out.push(bytes);
            true
        });
    }

    /// Queues output for a connection through `push`, which is handed the connection and the
    /// broadcast buffer and says whether it queued anything; then applies the caps and puts the
    /// connection on the write list.
    #[inline]
    fn queue_with(&mut self, key: usize, push: impl FnOnce(&mut Conn, &BroadcastBuf) -> bool) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let before = conn.out.own_len();
        if !conn.accepts_output() || !push(conn, &self.broadcast) {
            return;
        }
        self.output_bytes += conn.out.own_len() - before;
        // Goodbye lines of closing connections are queued before the phase changes, so they
        // always fit; everything else obeys the caps.
        let mut verdict = conn.out.check(&self.limits, self.turn_began);
        if verdict == QueueVerdict::OverHard {
            // Within one loop turn many senders may queue lines for this connection before the
            // flush step runs. Before calling it a slow reader, let its socket take what it can:
            // a client that reads keeps up through its kernel buffer; one that does not stays
            // over the cap and is dropped.
            self.broadcast.seal();
            match conn.write_out(usize::MAX, &mut self.output_bytes) {
                Ok((_, n)) => self.stats.bytes_out += n as u64,
                Err(e) => {
                    debug!(peer:% = conn.peer, error:% = e; "write failed");
                    self.mark_dead(key, lost_reason_for(&e, LostReason::WriteError));
                    return;
                }
            }
            verdict = conn.out.check(&self.limits, self.clock.now());
        }
        if verdict != QueueVerdict::Ok {
            self.drop_for_queue(key, verdict);
            return;
        }
        self.pending_writes.add(key, &mut conn.write_listed);
    }

    /// Output queued across all connections is over `--max-output-memory` even after this turn's
    /// writes: the connections furthest behind are dropped as slow readers until it is met. The
    /// sort is paid only then.
    pub(super) fn shed_output(&mut self) {
        let mut behind: Vec<(usize, usize)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.dead.is_none() && c.out.own_len() > 0)
            .map(|(key, c)| (c.out.own_len(), key))
            .collect();
        behind.sort_unstable_by(|a, b| b.cmp(a));
        for (queued, key) in behind {
            if self.output_bytes <= self.cfg.max_output_memory {
                break;
            }
            self.stats.output_memory_drops += 1;
            info!(
                peer:% = self.conns[key].peer,
                queued,
                all_queued = self.output_bytes;
                "dropped a slow reader: all output passes --max-output-memory"
            );
            self.conns[key].clear_out(&mut self.output_bytes);
            self.mark_dead(key, LostReason::SendQueueExceeded);
        }
    }

    /// Drops a connection over its output caps: its queue is cleared, it is marked dead.
    pub(super) fn drop_for_queue(&mut self, key: usize, verdict: QueueVerdict) {
        let conn = &mut self.conns[key];
        match verdict {
            QueueVerdict::OverHard => self.stats.queue_hard_drops += 1,
            QueueVerdict::OverSoftTooLong => self.stats.queue_soft_drops += 1,
            QueueVerdict::Ok => return,
        }
        let cap = match verdict {
            QueueVerdict::OverHard => "max-queue",
            _ => "soft-queue",
        };
        info!(
            peer:% = conn.peer,
            queued = conn.out.len(),
            cap;
            "dropped a slow reader: output queue over its cap"
        );
        conn.clear_out(&mut self.output_bytes);
        self.mark_dead(key, LostReason::SendQueueExceeded);
    }
}

/// The user a room event is about when IRC shows it once per user, not once per room: a QUIT
/// (a quit or a lost connection) or a NICK.
fn once_per_user(event: &Event) -> Option<&Arc<str>> {
    use crate::chat::Departure;
    match event {
        Event::Left {
            nick,
            how: Departure::Quit { .. } | Departure::Lost { .. },
            ..
        } => Some(nick),
        Event::Renamed { old, .. } => Some(old),
        _ => None,
    }
}

/// Whether `event` shows a file offer's download link (live, or from the recent lines).
fn carries_link(event: &Event) -> bool {
    match event {
        Event::File(FileNotice::Offered { pushed, .. }) => !pushed,
        Event::Past { event, .. } => carries_link(event),
        _ => false,
    }
}

/// The payload of a file delivery, which is queued after its rendered header.
fn file_payload(event: &Event) -> Option<&Bytes> {
    match event {
        Event::File(FileNotice::Data { payload, .. }) => Some(payload),
        _ => None,
    }
}

/// Bytes a wire format's rendering can be made into: the open broadcast block (a broadcast's
/// [`SharedLine`]), or a block of their own (`Bytes`, for replies and file headers).
pub(super) trait MadeHere: LineBytes + Sized {
    /// Renders with `fill`, handed the line renderer, the IRC renderer and the chat core (whose
    /// users' addresses IRC sources show).
    fn make(
        reactor: &mut Reactor,
        fill: impl FnOnce(&Renderer, &IrcRenderer, &Chat, &mut BytesMut),
    ) -> Self;
}

impl MadeHere for SharedLine {
    fn make(
        reactor: &mut Reactor,
        fill: impl FnOnce(&Renderer, &IrcRenderer, &Chat, &mut BytesMut),
    ) -> Self {
        let (line, irc, chat) = (&reactor.renderer, &reactor.irc_renderer, &reactor.chat);
        reactor.broadcast.write(|buf| fill(line, irc, chat, buf))
    }
}

impl MadeHere for Bytes {
    fn make(
        reactor: &mut Reactor,
        fill: impl FnOnce(&Renderer, &IrcRenderer, &Chat, &mut BytesMut),
    ) -> Self {
        let buf = &mut reactor.render_buf;
        if buf.capacity() - buf.len() < broadcast::MIN_ROOM {
            buf.reserve(broadcast::BLOCK_SIZE);
        }
        fill(&reactor.renderer, &reactor.irc_renderer, &reactor.chat, buf);
        buf.split().freeze()
    }
}
