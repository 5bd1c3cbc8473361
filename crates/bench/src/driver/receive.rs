//! What the clients read: reads through the shared buffer, the lines in them (logins, refusals,
//! Redis replies, file headers, deliveries), order and latency.

use super::*;

impl Driver {
    pub(super) fn on_readable(&mut self, idx: usize, how: Readable) {
        for _ in 0..READS_PER_TURN {
            let client = &mut self.clients[idx];
            if client.state == State::Closed {
                return;
            }
            let read = match client.read_into(&mut self.buf) {
                Ok(read) if read.eof => {
                    return self.closed(idx, "the server closed the connection".into())
                }
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.closed(idx, format!("read: {e}")),
            };
            let now_ns = self.epoch.elapsed().as_nanos() as u64;
            if self.recording {
                self.counts.window_bytes += read.fresh as u64;
            }
            let mut ctx = LineCtx {
                idx,
                sc: &self.sc,
                senders: &mut self.senders,
                counts: &mut self.counts,
                latency: &mut self.latency,
                recording: self.recording,
                now_ns,
                failure: None,
            };
            let client = &mut self.clients[idx];
            let mut incoming = client.incoming.take();
            let tail = split_stream(&self.buf[..read.len], &mut incoming, |piece, incoming| {
                ctx.on_piece(client, piece, incoming)
            });
            client.incoming = incoming;
            client.keep_tail(tail);
            if let Some(why) = ctx.failure.take() {
                return self.fail(idx, why);
            }
            if client.has_output() {
                if let Err(e) = client.flush() {
                    return self.fail(idx, format!("write: {e}"));
                }
            }
            if read.drained && how == Readable::Yes {
                return; // half the read calls of a loaded run, spared
            }
        }
        // Budget used with data possibly left: read again next turn.
        let client = &mut self.clients[idx];
        if !client.read_listed {
            client.read_listed = true;
            self.ready_reads.push(idx);
        }
    }

    // ----- sending ---------------------------------------------------------------------------
}

/// What a line handler may touch: everything but the connection list and the read buffer, which
/// are borrowed elsewhere while lines are handled.
pub(super) struct LineCtx<'a> {
    idx: usize,
    sc: &'a Scenario,
    senders: &'a mut Vec<Sender>,
    counts: &'a mut Counts,
    latency: &'a mut Histogram<u64>,
    recording: bool,
    now_ns: u64,
    /// Set when the line ends the connection's chances (a refused login).
    failure: Option<String>,
}

impl LineCtx<'_> {
    fn on_piece(&mut self, client: &mut Client, piece: Piece<'_>, incoming: &mut Option<Incoming>) {
        match piece {
            Piece::Line(line) => self.on_line(client, line, incoming),
            Piece::File(file) => {
                let files = &mut self.counts.files;
                files.delivered += 1;
                files.bytes += file.size as u64;
                files.corrupted += u64::from(!file.intact);
            }
        }
    }

    fn on_line(&mut self, client: &mut Client, line: &[u8], incoming: &mut Option<Incoming>) {
        match self.sc.protocol {
            Protocol::Redis => return self.on_redis_line(client, line),
            Protocol::Irc => return self.on_irc_line(client, line),
            Protocol::ReactorChat => {}
        }
        match client.state {
            State::Ready if client.in_replay => {
                client.in_replay = !line.starts_with(b"-- End of ");
                self.counts.other_lines += 1;
            }
            State::Ready => match wire::parse_delivery(line) {
                Some(stamp) => self.on_delivery(client, stamp),
                None if self.sc.files > 0 && self.on_file_line(client, line, incoming) => {}
                None => {
                    if line.starts_with(b"-- bye ") {
                        self.failure = Some(String::from_utf8_lossy(line).into_owned());
                    }
                    client.in_replay = is_history_frame(line);
                    self.counts.other_lines += 1;
                }
            },
            State::LoggingIn => {
                if line.starts_with(b"-- Resume key:") {
                    if self.sc.rooms > 1 {
                        client
                            .out
                            .extend_from_slice(format!("/join r{}\n", client.room).as_bytes());
                        client.state = State::Joining;
                    } else {
                        self.ready(client);
                    }
                } else {
                    self.check_refusal(line);
                }
            }
            State::Joining => {
                if line.starts_with(b"-- You are now in room") {
                    self.ready(client);
                } else {
                    self.check_refusal(line);
                }
            }
            State::Connecting | State::Closed => {}
        }
    }

    /// `--redis`: every RESP element is a line of its own, so a pub/sub message's payload is a
    /// line that starts with the stamp; the framing lines around it are skipped. The client is
    /// ready once its SUBSCRIBE is confirmed (the `subscribe` push, then the count).
    fn on_redis_line(&mut self, client: &mut Client, line: &[u8]) {
        if line.starts_with(b"-") {
            // A RESP error: maxclients, or a refused command.
            self.failure = Some(String::from_utf8_lossy(line).into_owned());
            return;
        }
        match client.state {
            State::Ready => match wire::parse_stamp(line) {
                // Redis delivers a publisher's message to itself too; reactor-chat does not.
                Some(stamp) if stamp.sender as usize == self.idx => self.counts.other_lines += 1,
                Some(stamp) => self.on_delivery(client, stamp),
                None => {}
            },
            State::LoggingIn if line == b"subscribe" => client.state = State::Joining,
            State::Joining if line.starts_with(b":") => self.ready(client),
            _ => {}
        }
    }

    /// `--proto irc` (see [`crate::irc`]): `001` ends registration, then `JOIN` and that
    /// channel's `366` make the client ready (no channel when nobody sends); a `PING` is
    /// answered in every state; an error numeric or a line that is not IRC before ready, or
    /// an `ERROR` at any time, ends the connection with the server's words.
    fn on_irc_line(&mut self, client: &mut Client, line: &[u8]) {
        use crate::irc::{self, Line};
        if client.state == State::Ready {
            // The one line of a loaded run, tried first.
            if let Some(stamp) = irc::delivery(line) {
                // Servers send nobody their own PRIVMSG (no echo-message asked for); a copy
                // that came anyway is not a delivery, as with Redis.
                if stamp.sender as usize == self.idx {
                    self.counts.other_lines += 1;
                } else {
                    self.on_delivery(client, stamp);
                }
                return;
            }
        }
        match irc::parse(line) {
            Line::Ping(token) => irc::encode_pong(&mut client.out, token),
            Line::Error(_) => self.failure = Some(String::from_utf8_lossy(line).into_owned()),
            Line::Numeric { code, params } => match client.state {
                State::LoggingIn if code == irc::RPL_WELCOME => {
                    if self.sc.irc_joins() {
                        irc::encode_join(&mut client.out, client.room);
                        client.state = State::Joining;
                    } else {
                        self.ready(client);
                    }
                }
                State::Joining
                    if code == irc::RPL_ENDOFNAMES && irc::ends_names_of(params, client.room) =>
                {
                    self.ready(client)
                }
                State::LoggingIn | State::Joining if irc::is_refusal(code) => {
                    self.failure = Some(String::from_utf8_lossy(line).into_owned())
                }
                _ => {}
            },
            Line::NotIrc if matches!(client.state, State::LoggingIn | State::Joining) => {
                self.failure = Some(format!(
                    "the server does not speak IRC: {:?}",
                    String::from_utf8_lossy(line)
                ))
            }
            Line::Privmsg { .. } | Line::Other | Line::NotIrc => {}
        }
        self.counts.other_lines += 1;
    }

    /// `--files`: accepts every offer, starts reading every delivery, counts refusals. False
    /// for lines that are none of these.
    fn on_file_line(
        &mut self,
        client: &mut Client,
        line: &[u8],
        incoming: &mut Option<Incoming>,
    ) -> bool {
        if let Some(id) = filemix::parse_offer(line) {
            client
                .out
                .extend_from_slice(format!("/accept {id}\n").as_bytes());
            self.counts.files.accepts += 1;
        } else if let Some(size) = filemix::parse_header(line) {
            *incoming = Some(Incoming::new(size));
        } else if line.starts_with(b"! file-busy") || line.starts_with(b"! no-such-file") {
            self.counts.files.refused += 1;
        } else {
            return false;
        }
        self.counts.other_lines += 1;
        true
    }

    fn check_refusal(&mut self, line: &[u8]) {
        if line.starts_with(b"! ") || line.starts_with(b"-- bye ") {
            self.failure = Some(String::from_utf8_lossy(line).into_owned());
        }
    }

    fn ready(&mut self, client: &mut Client) {
        client.state = State::Ready;
        client.was_ready = true;
        self.counts.ready += 1;
        if client.joiner {
            self.counts.joiners_ready += 1;
        }
        self.counts.last_ready_at = Some(Instant::now());
    }

    fn on_delivery(&mut self, client: &mut Client, stamp: Stamp) {
        let sid = stamp.sender as usize;
        let Some(track) = client.tracks.get_mut(sid) else {
            // Not one of this run's senders.
            self.counts.other_lines += 1;
            return;
        };
        match track.observe(stamp.seq) {
            Seen::InOrder | Seen::Ahead(_) => {}
            Seen::Late => self.counts.out_of_order += 1,
            Seen::Duplicate => {
                self.counts.duplicated += 1;
                return;
            }
        }
        self.counts.delivered += 1;
        self.counts.last_delivery_ns = self.now_ns;
        if !client.joiner {
            self.counts.initial_unique += 1;
        }
        if self.recording {
            self.counts.window_delivered += 1;
            if !client.joiner {
                let ns = self.now_ns.saturating_sub(stamp.sent_ns).max(1);
                self.latency.saturating_record(ns);
            }
        }
        let sender = &mut self.senders[sid];
        if sender.receiver == Some(self.idx) && stamp.seq >= sender.acked {
            sender.acked = stamp.seq + 1;
        }
    }
}

/// The header of a history reply (PROTOCOL.md, "History"): the login backlog, `/history`,
/// `/search`. Their lines look like live ones and must not be counted as deliveries.
pub(super) fn is_history_frame(line: &[u8]) -> bool {
    [
        &b"-- Recent lines in "[..],
        b"-- History of ",
        b"-- Search of ",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}
