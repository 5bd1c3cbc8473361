//! The senders: paced at `--rate`, or unpaced with `--inflight` messages unacknowledged.

use super::*;

impl Driver {
    /// Senders are the first `--senders` clients; each gets its designated receiver.
    pub(super) fn setup_senders(&mut self) {
        let start = Instant::now();
        let (clients, rooms) = (self.sc.clients, self.sc.rooms);
        let interval = self.interval();
        self.senders = (0..self.sc.senders)
            .map(|s| {
                let mut receiver = s + rooms;
                if receiver >= clients {
                    receiver = s % rooms;
                }
                Sender {
                    seq: 0,
                    acked: 0,
                    receiver: (receiver != s).then_some(receiver),
                    // Staggered so paced senders do not all fire in the same turn.
                    next_due: start + interval.mul_f64(s as f64 / self.sc.senders as f64),
                    full_since: None,
                    since_file: 0,
                }
            })
            .collect();
    }

    pub(super) fn interval(&self) -> Duration {
        if self.sc.paced() {
            Duration::from_secs_f64(1.0 / self.sc.rate)
        } else {
            Duration::ZERO
        }
    }

    pub(super) fn next_paced_due(&self) -> Option<Instant> {
        if !self.sending || !self.sc.paced() {
            return None;
        }
        self.senders.iter().map(|s| s.next_due).min()
    }

    pub(super) fn feed_senders(&mut self) {
        let now = Instant::now();
        let now_ns = now.duration_since(self.epoch).as_nanos() as u64;
        let interval = self.interval();
        for sid in 0..self.senders.len() {
            let sender = &mut self.senders[sid];
            let client = &mut self.clients[sid];
            if client.state != State::Ready {
                continue;
            }
            let mut n = 0;
            if self.sc.paced() {
                if now.saturating_duration_since(sender.next_due) > PACING_SLACK {
                    sender.next_due = now;
                    self.counts.pacing_slips += 1;
                }
                while sender.next_due <= now && n < PACED_BURST {
                    sender.next_due += interval;
                    n += 1;
                }
                if client.out.len() > MAX_PENDING_OUTPUT {
                    n = 0;
                }
            } else {
                if client.has_output() {
                    continue;
                }
                let in_flight = sender.seq - sender.acked;
                if in_flight >= self.sc.inflight {
                    let since = *sender.full_since.get_or_insert(now);
                    if now.duration_since(since) >= ACK_TIMEOUT {
                        sender.acked = sender.seq;
                        sender.full_since = None;
                        self.counts.ack_timeouts += 1;
                    }
                    continue;
                }
                sender.full_since = None;
                n = self.sc.inflight - in_flight;
            }
            if n == 0 {
                continue;
            }
            for _ in 0..n {
                let stamp = Stamp {
                    sender: sid as u32,
                    seq: sender.seq,
                    sent_ns: now_ns,
                };
                match self.sc.protocol {
                    Protocol::ReactorChat => wire::encode(&mut client.out, stamp, self.sc.size),
                    Protocol::Irc => crate::irc::encode_privmsg(
                        &mut client.out,
                        client.room,
                        stamp,
                        self.sc.size,
                    ),
                    Protocol::Redis => {
                        wire::encode_publish(&mut client.out, client.room, stamp, self.sc.size)
                    }
                }
                sender.seq += 1;
                sender.since_file += 1;
                if self.sc.files > 0 && sender.since_file >= self.sc.files {
                    sender.since_file = 0;
                    let n = self.counts.files.uploads;
                    filemix::encode_upload(&mut client.out, sid, n, self.sc.file_size);
                    self.counts.files.uploads += 1;
                }
            }
            self.counts.sent += u64::from(n);
            if let Err(e) = client.flush() {
                self.closed(sid, format!("write: {e}"));
            }
        }
    }

    // ----- accounting ------------------------------------------------------------------------
}
