//! Phase 1: opening the clients at `--connect-rate` with at most [`MAX_PENDING`] not yet logged
//! in, and the connect event that sends each its nickname.

use super::*;

impl Driver {
    pub(super) fn start_opening(&mut self, first: usize, end: usize, joiner: bool) {
        self.opening = Some(Opening {
            first,
            next: first,
            end,
            joiner,
            started: Instant::now(),
        });
    }

    /// Opened connections neither logged in nor failed.
    pub(super) fn pending(&self) -> u64 {
        self.counts.opened - self.counts.ready - self.counts.failed
    }

    /// Everything asked for is opened and has logged in or failed.
    pub(super) fn settled(&self) -> bool {
        self.opening.is_none() && self.pending() == 0
    }

    pub(super) fn open_more(&mut self) {
        let Some(op) = &self.opening else {
            return;
        };
        let allowed = if self.sc.connect_rate > 0.0 {
            let elapsed = op.started.elapsed().as_secs_f64();
            op.first + (elapsed * self.sc.connect_rate) as usize + 1
        } else {
            usize::MAX
        };
        let (mut next, end, joiner) = (op.next, op.end, op.joiner);
        let mut opened = 0;
        while next < end
            && next < allowed
            && opened < OPEN_BATCH
            && self.pending() < MAX_PENDING as u64
        {
            if let Err(e) = self.open(next, joiner) {
                // A connect that fails at once (out of descriptors or ports) will fail again:
                // give up on the rest rather than spin.
                self.note_error(format!("connect: {e}"));
                self.counts.failed += (end - next) as u64;
                self.counts.opened += (end - next) as u64;
                next = end;
                break;
            }
            next += 1;
            opened += 1;
        }
        if next >= end {
            self.opening = None;
        } else if let Some(op) = &mut self.opening {
            op.next = next;
        }
    }

    pub(super) fn open(&mut self, idx: usize, joiner: bool) -> io::Result<()> {
        debug_assert_eq!(idx, self.clients.len());
        let mut stream = TcpStream::connect(self.addr)?;
        // Without it Nagle holds a sender's next write until the previous one is acknowledged,
        // and every latency figure becomes a delayed-ACK timer.
        stream.set_nodelay(true)?;
        self.poll.registry().register(
            &mut stream,
            Token(idx),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut client = Client::new(stream, idx % self.sc.rooms, joiner);
        client.tracks = vec![
            if joiner {
                PairTrack::from_first_seen()
            } else {
                PairTrack::from_start()
            };
            self.sc.senders
        ];
        self.clients.push(client);
        self.counts.opened += 1;
        Ok(())
    }

    /// The connect phase is over: whoever has not logged in by now has failed.
    pub(super) fn abandon_unsettled(&mut self) {
        self.opening = None;
        for idx in 0..self.clients.len() {
            if !matches!(self.clients[idx].state, State::Ready | State::Closed) {
                self.fail(idx, "login timed out".into());
            }
        }
    }

    pub(super) fn on_connect_event(&mut self, idx: usize) {
        let client = &mut self.clients[idx];
        match client.stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return self.fail(idx, format!("connect: {e}")),
        }
        match client.stream.peer_addr() {
            Ok(_) => {}
            // Not connected yet: a spurious wake-up.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
            Err(e) => return self.fail(idx, format!("connect: {e}")),
        }
        client.state = State::LoggingIn;
        match self.sc.protocol {
            Protocol::ReactorChat => {
                client.out.extend_from_slice(self.tag.as_bytes());
                client.out.extend_from_slice(idx.to_string().as_bytes());
                client.out.push(b'\n');
            }
            // RESP3, so that a subscribed connection may still PUBLISH.
            Protocol::Redis => {
                let subscribe = format!("HELLO 3\r\nSUBSCRIBE r{}\r\n", client.room);
                client.out.extend_from_slice(subscribe.as_bytes());
            }
        }
        if let Err(e) = client.flush() {
            return self.fail(idx, format!("write: {e}"));
        }
        // The welcome may already be waiting, and edge-triggered readiness will not say so twice.
        self.on_readable(idx, Readable::ToTheEnd);
    }

    // ----- reading ---------------------------------------------------------------------------
}
