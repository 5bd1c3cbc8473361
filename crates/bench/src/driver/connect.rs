//! Phase 1: opening the clients at `--connect-rate` with at most `--max-pending` (by default
//! [`MAX_PENDING`]) not yet logged in, and the connect event that sends each its nickname.

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

    /// Connections that may be logging in at once: `--max-pending`, by default [`MAX_PENDING`],
    /// or with TLS [`MAX_PENDING_TLS`], so that no ClientHello meets the server's handshake cap.
    pub(super) fn max_pending(&self) -> usize {
        self.sc.max_pending
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
            && self.pending() < self.max_pending() as u64
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
        // Redis's protected mode takes only 127.0.0.1 for loopback; it has no login budget.
        // IRC servers cap connections per address too (ngIRCd at 5, InspIRCd at 3 by default):
        // spread, a run of up to 128 clients stays within even those defaults.
        let addr = self.targets.addr_for(idx);
        let mut stream = match self.sc.protocol {
            Protocol::ReactorChat | Protocol::Irc => connect_from(addr, idx)?,
            Protocol::Redis => TcpStream::connect(addr)?,
        };
        // Without it Nagle holds a sender's next write until the previous one is acknowledged,
        // and every latency figure becomes a delayed-ACK timer.
        stream.set_nodelay(true)?;
        self.poll.registry().register(
            &mut stream,
            Token(idx),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let stream = Link::new(self.tls.as_ref(), stream)?;
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
}

/// How many loopback source addresses the clients are spread over: a server caps connections
/// still logging in per address (`--max-unregistered-per-ip`, 16 by default), and up to
/// [`MAX_PENDING`] are logging in at once, so 128 addresses keep each well under it, as clients
/// from many hosts would be. Few enough that the server's per-address tables stay small.
const SOURCE_ADDRESSES: u32 = 128;

/// A non-blocking connect to `addr`; to a loopback server, from one of [`SOURCE_ADDRESSES`] in
/// 127.0.0.0/8 chosen by the client's index (Linux routes the whole block to loopback).
pub(crate) fn connect_from(addr: SocketAddr, idx: usize) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let std::net::IpAddr::V4(ip) = addr.ip() else {
        return TcpStream::connect(addr);
    };
    if !ip.is_loopback() {
        return TcpStream::connect(addr);
    }
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    let spread = u32::try_from(idx).unwrap_or(0) % SOURCE_ADDRESSES;
    let source = std::net::Ipv4Addr::new(127, 0, 3, 0).to_bits() + spread + 1;
    socket.bind(&SocketAddr::new(std::net::Ipv4Addr::from_bits(source).into(), 0).into())?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        // The connect has started; its completion is a writable event, as with mio's own.
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

impl Driver {
    /// Opens `--idle-flood` connections, spread over the addresses as the clients are, from 100
    /// loopback addresses (to an IPv4 server) and holds them: they never log in. A connection
    /// the server refuses or closes is simply held closed; what is measured is what the
    /// logged-in clients see meanwhile.
    pub(super) fn open_idle_flood(&mut self) {
        use socket2::{Domain, Socket, Type};
        for n in 0..self.sc.idle_flood {
            let addr = self.targets.addr_for(n);
            let socket = match Socket::new(Domain::for_address(addr), Type::STREAM, None) {
                Ok(s) => s,
                Err(e) => return self.note_error(format!("idle flood: {e}")),
            };
            // An IPv6 server sees them all from one address: there is one ::1.
            let bound = if addr.is_ipv4() {
                let source = std::net::Ipv4Addr::new(127, 0, 4, 1 + (n % 100) as u8);
                socket.bind(&SocketAddr::new(source.into(), 0).into())
            } else {
                Ok(())
            };
            match bound.and_then(|()| socket.connect(&addr.into())) {
                Ok(()) => self.idle.push(socket.into()),
                Err(e) => return self.note_error(format!("idle flood: {e}")),
            }
        }
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
        match client.stream.sock.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return self.fail(idx, format!("connect: {e}")),
        }
        match client.stream.sock.peer_addr() {
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
            Protocol::Irc => {
                let nick = format!("{}{idx}", self.tag);
                crate::irc::encode_register(&mut client.out, &nick);
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
