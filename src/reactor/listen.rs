//! The listening sockets: binding each configured listener (`config::listen` says how its
//! address is read), their poll tokens, and the download links' base they imply.
//!
//! One listener may be several sockets: `localhost:PORT` is 127.0.0.1 and ::1 (the second on the
//! port the first got, when the port is 0), and each socket is registered with a token of its
//! own, so an accept batch reads one socket. Every socket remembers the kind of its listener,
//! and so does every connection it accepts.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use log::info;
use mio::net::TcpListener;
use mio::Token;

use super::net::Listener;
use crate::config::listen::Optional;
use crate::config::{ListenAddr, ListenKind, ListenSpec};

/// Most listening sockets: far more than any deployment names, and the tokens below stay clear
/// of the connections' slab keys and the reactor's other tokens.
pub(super) const MAX_SOCKETS: usize = 64;
/// The first listening socket's token; the others follow it.
const FIRST: usize = usize::MAX - 8 - MAX_SOCKETS;

/// How every listening socket is set up (`--backlog`, `--reuse-port`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Options {
    pub backlog: i32,
    /// SO_REUSEPORT: other processes that set it too may listen on the same port.
    pub reuse_port: bool,
}

/// A listening socket.
pub(super) struct Bound {
    pub kind: ListenKind,
    /// What the listener was asked for (`:8080`), for logs and errors.
    pub asked: ListenAddr,
    /// The address actually bound (port 0 resolved).
    pub addr: SocketAddr,
    pub listener: Listener,
    /// Its accept batch ran out with connections possibly still waiting (loop step 4).
    pub more: bool,
}

pub(super) fn token(index: usize) -> Token {
    Token(FIRST + index)
}

/// The listening socket a token stands for, if it is one of `count`.
pub(super) fn index(token: Token, count: usize) -> Option<usize> {
    token
        .0
        .checked_sub(FIRST)
        .filter(|&i| i < count.min(MAX_SOCKETS))
}

/// Binds every socket of every listener, in order.
///
/// # Errors
///
/// The first socket that could not be bound, its error naming the listener and the address.
pub(super) fn bind_all(
    specs: &[ListenSpec],
    options: Options,
) -> io::Result<Vec<(ListenKind, ListenAddr, TcpListener)>> {
    let mut bound = Vec::new();
    for spec in specs {
        let mut port = spec.address.port();
        for (addr, optional) in spec.address.sockets() {
            // `localhost:0`: the second loopback gets the port the first was given.
            let addr = SocketAddr::new(addr.ip(), port);
            let named = |e: io::Error, addr: SocketAddr| {
                io::Error::new(e.kind(), format!("cannot listen on {spec} ({addr}): {e}"))
            };
            let listener = match (bind_one(addr, options), optional) {
                (Ok(l), _) => l,
                (Err(e), Optional::FallBackToV4) if family_missing(&e) => {
                    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
                    info!(listener:% = spec, error:% = e, address:% = v4; "no IPv6: listening on IPv4 only");
                    bind_one(v4, options).map_err(|e| named(e, v4))?
                }
                (Err(e), Optional::SkipIfMissing) if family_missing(&e) => {
                    info!(listener:% = spec, address:% = addr, error:% = e; "address not on this host, skipped");
                    continue;
                }
                (Err(e), _) => return Err(named(e, addr)),
            };
            if port == 0 {
                port = listener.local_addr().map_or(0, |a| a.port());
            }
            bound.push((spec.kind, spec.address, listener));
        }
    }
    if bound.len() > MAX_SOCKETS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("at most {MAX_SOCKETS} listening sockets"),
        ));
    }
    Ok(bound)
}

/// The host lacks the address or its family (IPv6 disabled, no ::1): what a `:PORT` or
/// `localhost` listener goes on without.
fn family_missing(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL | libc::EPROTONOSUPPORT)
    )
}

/// Binds with SO_REUSEADDR (restarts must not wait for TIME_WAIT), SO_REUSEPORT if asked, and
/// an explicit backlog; the IPv6 unspecified address takes IPv4 too where the OS allows
/// (IPV6_V6ONLY off).
fn bind_one(addr: SocketAddr, options: Options) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.ip().is_unspecified() && addr.is_ipv6() {
        // Some systems refuse dual-stack sockets (OpenBSD): then this is IPv6 only.
        let _ = socket.set_only_v6(false);
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(options.backlog)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// The base of download links when one fits every chat user: `None` when links must name the
/// address each user reached (several chat sockets, or one on every interface).
pub(super) fn common_link_base(bound: &[Bound]) -> Option<String> {
    let mut chat = bound.iter().filter(|b| b.kind.is_chat());
    let only = chat.next()?;
    if chat.next().is_some() || only.asked.is_every_interface() || only.addr.ip().is_unspecified() {
        return None;
    }
    Some(format!("http://{}", only.addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: Options = Options {
        backlog: 16,
        reuse_port: false,
    };

    fn spec(text: &str) -> ListenSpec {
        text.parse().unwrap()
    }

    #[test]
    fn tokens_round_trip_and_stay_apart_from_connections() {
        assert_eq!(index(token(0), 1), Some(0));
        assert_eq!(index(token(3), 4), Some(3));
        assert_eq!(index(token(3), 3), None);
        assert_eq!(index(Token(0), 4), None);
        assert_eq!(index(Token(12), 64), None);
    }

    #[test]
    fn localhost_port_0_is_one_port_on_both_loopbacks() {
        let bound = bind_all(&[spec("chat=localhost:0")], OPTIONS).unwrap();
        let ports: Vec<u16> = bound
            .iter()
            .map(|(_, _, l)| l.local_addr().unwrap().port())
            .collect();
        assert!(!ports.is_empty() && ports.len() <= 2, "{ports:?}");
        assert!(ports.iter().all(|&p| p == ports[0] && p != 0), "{ports:?}");
        assert!(bound[0].2.local_addr().unwrap().ip().is_loopback());
    }

    #[test]
    fn every_interface_binds_one_socket_and_a_taken_port_is_named() {
        let bound = bind_all(&[spec("chat=:0")], OPTIONS).unwrap();
        assert_eq!(bound.len(), 1);
        let addr = bound[0].2.local_addr().unwrap();
        assert!(addr.ip().is_unspecified(), "{addr}");
        let taken = bind_all(&[spec("chat=127.0.0.1:0")], OPTIONS).unwrap();
        let port = taken[0].2.local_addr().unwrap().port();
        let again = format!("metrics=127.0.0.1:{port}");
        let err = match bind_all(&[spec(&again)], OPTIONS) {
            Ok(_) => panic!("bound a taken port"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.starts_with(&format!("cannot listen on {again} (127.0.0.1:{port}): ")),
            "{err}"
        );
    }

    #[test]
    fn reuse_port_shares_a_port_only_between_sockets_that_all_set_it() {
        let shared = Options {
            reuse_port: true,
            ..OPTIONS
        };
        let first = bind_all(&[spec("chat=127.0.0.1:0")], shared).unwrap();
        let port = first[0].2.local_addr().unwrap().port();
        let same = spec(&format!("irc=127.0.0.1:{port}"));
        let second = bind_all(&[same], shared).unwrap();
        assert_eq!(second[0].2.local_addr().unwrap().port(), port);
        assert!(bind_all(&[same], OPTIONS).is_err(), "one without it");
    }
}
