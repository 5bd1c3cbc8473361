//! The reactor's seam to the operating system: the slice of `mio`'s API it uses (a poller and
//! its registry, the listener's accept, a stream's reads, writes and shutdown) and the clock.
//!
//! Each type is an enum whose only variant in a server build is the real thing (`mio`, the
//! monotonic clock). Tests and the `sim` feature add a second variant backed by the simulated
//! kernel of `reactor::sim`, so the reactor's own code, unchanged, runs against simulated
//! sockets and time. A one-variant enum has no tag and its `match` has one arm, so the server's
//! reads, writes and clock reads compile to the direct calls they were: no indirection, no
//! allocation, no `dyn`. Call sites keep `mio`'s shapes (`poll.registry().register(&mut s, ..)`,
//! `stream.read(..)`), so the reactor reads as `mio` code.
//!
//! Readiness events are read through [`Readiness`], implemented by `mio`'s event and the
//! simulated one, so dispatching is monomorphised for each rather than converted.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::{Interest, Token};

use crate::clock::UnixMillis;

#[cfg(any(test, feature = "sim"))]
use super::sim::kernel::{SimEvent, SimHandle, SimStream};

/// What the reactor asks of a readiness event.
pub trait Readiness {
    fn token(&self) -> Token;
    fn is_readable(&self) -> bool;
    fn is_writable(&self) -> bool;
    fn is_read_closed(&self) -> bool;
    fn is_error(&self) -> bool;
    fn is_priority(&self) -> bool;
}

impl Readiness for mio::event::Event {
    #[inline]
    fn token(&self) -> Token {
        mio::event::Event::token(self)
    }
    #[inline]
    fn is_readable(&self) -> bool {
        mio::event::Event::is_readable(self)
    }
    #[inline]
    fn is_writable(&self) -> bool {
        mio::event::Event::is_writable(self)
    }
    #[inline]
    fn is_read_closed(&self) -> bool {
        mio::event::Event::is_read_closed(self)
    }
    #[inline]
    fn is_error(&self) -> bool {
        mio::event::Event::is_error(self)
    }
    #[inline]
    fn is_priority(&self) -> bool {
        mio::event::Event::is_priority(self)
    }
}

/// The poller: `mio::Poll`, or the simulated kernel's.
pub(super) enum Poller {
    Mio(mio::Poll),
    #[cfg(any(test, feature = "sim"))]
    Sim(SimHandle),
}

/// A registry to register sources with, borrowed from the poller as `mio::Poll::registry`.
pub(super) enum Registry<'a> {
    Mio(&'a mio::Registry),
    #[cfg(any(test, feature = "sim"))]
    Sim(&'a SimHandle),
}

/// The events one poll returns.
pub(super) enum Events {
    Mio(mio::Events),
    #[cfg(any(test, feature = "sim"))]
    Sim(Vec<SimEvent>),
}

/// Something that can be registered for readiness: the listener or a connection.
pub(super) trait Source {
    fn register(
        &mut self,
        registry: &Registry<'_>,
        token: Token,
        interest: Interest,
    ) -> io::Result<()>;
    fn deregister(&mut self, registry: &Registry<'_>) -> io::Result<()>;
}

/// A source and a registry from different worlds (a simulated socket on the real poller): a
/// programming error, reported as an error rather than a panic.
#[cfg(any(test, feature = "sim"))]
fn mismatch() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "source and poller differ")
}

impl Poller {
    pub fn registry(&self) -> Registry<'_> {
        match self {
            Poller::Mio(poll) => Registry::Mio(poll.registry()),
            #[cfg(any(test, feature = "sim"))]
            Poller::Sim(kernel) => Registry::Sim(kernel),
        }
    }

    /// An event buffer for this poller.
    pub fn events(&self, capacity: usize) -> Events {
        match self {
            Poller::Mio(_) => Events::Mio(mio::Events::with_capacity(capacity)),
            #[cfg(any(test, feature = "sim"))]
            Poller::Sim(_) => Events::Sim(Vec::with_capacity(capacity)),
        }
    }

    #[inline]
    pub fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        match (self, events) {
            (Poller::Mio(poll), Events::Mio(events)) => poll.poll(events, timeout),
            #[cfg(any(test, feature = "sim"))]
            (Poller::Sim(kernel), Events::Sim(events)) => {
                kernel.borrow_mut().poll(events, timeout);
                Ok(())
            }
            #[cfg(any(test, feature = "sim"))]
            _ => Err(mismatch()),
        }
    }
}

impl Registry<'_> {
    pub fn register<S: Source>(
        &self,
        source: &mut S,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        source.register(self, token, interest)
    }

    pub fn deregister<S: Source>(&self, source: &mut S) -> io::Result<()> {
        source.deregister(self)
    }
}

/// The listening socket.
pub(super) enum Listener {
    Tcp(mio::net::TcpListener),
    #[cfg(any(test, feature = "sim"))]
    Sim(SimHandle),
}

impl Listener {
    #[inline]
    pub fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        match self {
            Listener::Tcp(listener) => listener.accept().map(|(s, a)| (Stream::Tcp(s), a)),
            #[cfg(any(test, feature = "sim"))]
            Listener::Sim(kernel) => SimStream::accept(kernel).map(|(s, a)| (Stream::Sim(s), a)),
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr(),
            #[cfg(any(test, feature = "sim"))]
            Listener::Sim(kernel) => Ok(kernel.borrow().local_addr()),
        }
    }
}

impl Source for Listener {
    fn register(
        &mut self,
        registry: &Registry<'_>,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match (self, registry) {
            (Listener::Tcp(l), Registry::Mio(r)) => r.register(l, token, interest),
            #[cfg(any(test, feature = "sim"))]
            (Listener::Sim(_), Registry::Sim(k)) => {
                k.borrow_mut().register_listener(token);
                Ok(())
            }
            #[cfg(any(test, feature = "sim"))]
            _ => Err(mismatch()),
        }
    }

    fn deregister(&mut self, registry: &Registry<'_>) -> io::Result<()> {
        match (self, registry) {
            (Listener::Tcp(l), Registry::Mio(r)) => r.deregister(l),
            #[cfg(any(test, feature = "sim"))]
            (Listener::Sim(_), Registry::Sim(k)) => {
                k.borrow_mut().deregister_listener();
                Ok(())
            }
            #[cfg(any(test, feature = "sim"))]
            _ => Err(mismatch()),
        }
    }
}

/// One connection's socket.
#[derive(Debug)]
pub enum Stream {
    Tcp(mio::net::TcpStream),
    #[cfg(any(test, feature = "sim"))]
    Sim(SimStream),
}

impl Stream {
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(nodelay),
            #[cfg(any(test, feature = "sim"))]
            Stream::Sim(_) => Ok(()),
        }
    }

    pub fn set_tcp_keepalive(&self, keepalive: &socket2::TcpKeepalive) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => socket2::SockRef::from(s).set_tcp_keepalive(keepalive),
            #[cfg(any(test, feature = "sim"))]
            Stream::Sim(_) => Ok(()),
        }
    }

    /// The address the peer connected to (which of the host's addresses, with an unspecified
    /// bind).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr(),
            #[cfg(any(test, feature = "sim"))]
            Stream::Sim(s) => Ok(s.local_addr()),
        }
    }

    #[inline]
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            #[cfg(any(test, feature = "sim"))]
            Stream::Sim(s) => s.shutdown(how),
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(any(test, feature = "sim"))]
            Stream::Sim(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(any(test, feature = "sim"))]
            Stream::Sim(s) => s.write_vectored(&[IoSlice::new(buf)]),
        }
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            #[cfg(any(test, feature = "sim"))]
            Stream::Sim(s) => s.write_vectored(bufs),
        }
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            #[cfg(any(test, feature = "sim"))]
            Stream::Sim(_) => Ok(()),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry<'_>,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match (self, registry) {
            (Stream::Tcp(s), Registry::Mio(r)) => r.register(s, token, interest),
            #[cfg(any(test, feature = "sim"))]
            (Stream::Sim(s), Registry::Sim(_)) => {
                s.register(token);
                Ok(())
            }
            #[cfg(any(test, feature = "sim"))]
            _ => Err(mismatch()),
        }
    }

    fn deregister(&mut self, registry: &Registry<'_>) -> io::Result<()> {
        match (self, registry) {
            (Stream::Tcp(s), Registry::Mio(r)) => r.deregister(s),
            #[cfg(any(test, feature = "sim"))]
            (Stream::Sim(s), Registry::Sim(_)) => {
                s.deregister();
                Ok(())
            }
            #[cfg(any(test, feature = "sim"))]
            _ => Err(mismatch()),
        }
    }
}

/// The reactor's clock: every `Instant` the reactor uses, and the wall clock it gives the chat
/// core, come from here.
pub(super) enum Clock {
    System,
    #[cfg(any(test, feature = "sim"))]
    Sim(SimHandle),
}

impl Clock {
    /// The monotonic clock.
    #[inline]
    pub fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            #[cfg(any(test, feature = "sim"))]
            Clock::Sim(kernel) => kernel.borrow().now(),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn wall(&self) -> UnixMillis {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            #[cfg(any(test, feature = "sim"))]
            Clock::Sim(kernel) => kernel.borrow().wall(),
        }
    }
}
