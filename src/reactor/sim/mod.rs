//! The operating system simulated for the reactor: a kernel of sockets, readiness and time
//! ([`kernel`]) that stands behind [`super::net`]'s second variants, and the source of its
//! choices ([`entropy`]).

pub mod entropy;
pub mod kernel;

use std::io;
use std::sync::Arc;

use super::net::{Clock, Listener, Poller};
use super::{Parts, Reactor};
use crate::chat::game::words::WordBank;
use crate::config::Config;
use kernel::SimHandle;

impl Reactor {
    /// A reactor on the simulated kernel, without history (the storage thread is a channel,
    /// not a socket). `words` saves loading the game's words again for every run.
    pub fn simulated(
        cfg: Config,
        kernel: &SimHandle,
        words: Option<Arc<WordBank>>,
    ) -> io::Result<Reactor> {
        let parts = Parts {
            poll: Poller::Sim(kernel.clone()),
            listener: Listener::Sim(kernel.clone()),
            signals: None,
            clock: Clock::Sim(kernel.clone()),
            storage: None,
            words,
            from_disk: crate::chat::RecentRooms::default(),
        };
        Reactor::assemble(cfg, parts)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use clap::Parser;

    use super::entropy::Entropy;
    use super::kernel::{Faults, Kernel};
    use super::*;

    /// The seam carries a whole conversation: two clients log in on simulated sockets and one
    /// hears the other's line.
    #[test]
    fn a_line_crosses_the_simulated_kernel() {
        let kernel = Kernel::new(Entropy::seeded(1), Faults::NONE);
        let cfg = Config::parse_from(["reactor-chat", "--no-history", "--greet-delay-ms=0"]);
        let mut reactor = Reactor::simulated(cfg, &kernel, None).unwrap();
        let mut events = reactor.poll.events(64);
        let a = kernel
            .borrow_mut()
            .connect(SocketAddr::from(([10, 0, 0, 1], 1)));
        let b = kernel
            .borrow_mut()
            .connect(SocketAddr::from(([10, 0, 0, 2], 2)));
        kernel.borrow_mut().send(a, b"alice\n");
        kernel.borrow_mut().send(b, b"bob\n");
        let mut heard = Vec::new();
        for turn in 0..200 {
            if turn == 20 {
                kernel.borrow_mut().send(a, b"hello bob\n");
            }
            reactor.turn(&mut events).unwrap();
            kernel.borrow_mut().client_read(a, usize::MAX);
            heard.extend(kernel.borrow_mut().client_read(b, usize::MAX));
        }
        let heard = String::from_utf8_lossy(&heard);
        assert!(heard.contains("Welcome, bob!"), "{heard}");
        assert!(heard.contains("alice: hello bob\r\n"), "{heard}");
    }
}
