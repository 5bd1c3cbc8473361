//! Listeners as people type them: `--bind ADDRESS` (a chat listener) and `--listen KIND=ADDRESS`.
//!
//! An address is `:PORT` (every interface: IPv6 `[::]` taking IPv4 too, or `0.0.0.0` where the
//! host has no IPv6), `localhost:PORT` (both `127.0.0.1` and `::1`, where `::1` exists), or an IP
//! literal with a port (`127.0.0.1:8080`, `[::1]:8080`, `[::]:8080` dual-stack). Host names other
//! than `localhost` are refused: a name that resolves differently tomorrow is not what a listener
//! should silently follow. The text form is kept (`Display` gives it back) so `--print-config`
//! prints what was typed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// What a listener serves. The accept path dispatches on it and each connection remembers the
/// kind of the listener it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ListenKind {
    /// The chat: the line protocol, HTTP (the web client, downloads) and WebSocket.
    Chat,
    /// Only `/metrics`, `/status` and `/healthz` over HTTP, to whoever reaches it (Prometheus's
    /// convention of a port of its own, bound where only the scraper reaches it).
    Metrics,
    /// The chat inside TLS only (the 6697/443 convention): a connection that does not start a
    /// TLS handshake is refused as with `--tls-only`. Needs `--tls-cert`.
    Tls,
    /// IRC only, in clear (the 6667 convention): every connection speaks IRC from its first
    /// line, whatever it starts with.
    Irc,
    /// IRC only, inside TLS only (the 6697 convention). Needs `--tls-cert`.
    Ircs,
}

impl ListenKind {
    /// The name used on the command line, in the file and in logs.
    pub fn name(self) -> &'static str {
        match self {
            ListenKind::Chat => "chat",
            ListenKind::Metrics => "metrics",
            ListenKind::Tls => "tls",
            ListenKind::Irc => "irc",
            ListenKind::Ircs => "ircs",
        }
    }

    /// Whether it speaks IRC only.
    pub fn is_irc_only(self) -> bool {
        matches!(self, ListenKind::Irc | ListenKind::Ircs)
    }

    /// Whether it serves only TLS.
    pub fn is_tls_only(self) -> bool {
        matches!(self, ListenKind::Tls | ListenKind::Ircs)
    }

    /// Whether it serves the chat (in clear and TLS, or in TLS only).
    pub fn is_chat(self) -> bool {
        !matches!(self, ListenKind::Metrics)
    }

    fn parse(text: &str) -> Result<ListenKind, String> {
        match text {
            "chat" => Ok(ListenKind::Chat),
            "metrics" => Ok(ListenKind::Metrics),
            "tls" => Ok(ListenKind::Tls),
            "irc" => Ok(ListenKind::Irc),
            "ircs" => Ok(ListenKind::Ircs),
            other => Err(format!(
                "unknown listener kind `{other}` (the kinds are chat, tls, irc, ircs and metrics)"
            )),
        }
    }
}

impl FromStr for ListenKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ListenKind::parse(s)
    }
}

impl fmt::Display for ListenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a listener listens, as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenAddr {
    /// `:PORT`: every interface, IPv6 and IPv4.
    Any(u16),
    /// `localhost:PORT`: the loopback addresses of both families.
    Localhost(u16),
    /// An IP literal and a port.
    Ip(SocketAddr),
}

impl ListenAddr {
    pub fn port(self) -> u16 {
        match self {
            ListenAddr::Any(port) | ListenAddr::Localhost(port) => port,
            ListenAddr::Ip(addr) => addr.port(),
        }
    }

    /// Whether it takes connections to any of the host's addresses (so a download link must
    /// name the address each user reached).
    pub fn is_every_interface(self) -> bool {
        match self {
            ListenAddr::Any(_) => true,
            ListenAddr::Localhost(_) => false,
            ListenAddr::Ip(addr) => addr.ip().is_unspecified(),
        }
    }

    /// The socket addresses to bind, in order, each with whether failing to bind it because
    /// the host lacks that family is fine. `:PORT` is `[::]` first, `0.0.0.0` only as its
    /// fallback (see `reactor::listen`), so it is listed as one.
    pub fn sockets(self) -> Vec<(SocketAddr, Optional)> {
        match self {
            ListenAddr::Any(port) => vec![(
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
                Optional::FallBackToV4,
            )],
            ListenAddr::Localhost(port) => vec![
                (
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                    Optional::Required,
                ),
                (
                    SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
                    Optional::SkipIfMissing,
                ),
            ],
            ListenAddr::Ip(addr) => vec![(addr, Optional::Required)],
        }
    }
}

/// What to do when a socket of a listener cannot be bound because the host lacks its address
/// family or address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optional {
    /// An error, as for any other failure.
    Required,
    /// Bind the IPv4 unspecified address on the same port instead.
    FallBackToV4,
    /// Go on without it (`::1` on a host without IPv6).
    SkipIfMissing,
}

/// Why a text is not a listener address.
fn not_an_address(text: &str, why: &str) -> String {
    format!(
        "`{text}` is not an address to listen on ({why}); write :PORT, localhost:PORT, IPv4:PORT or [IPv6]:PORT"
    )
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let port_of = |port: &str| {
            port.parse::<u16>().map_err(|_| {
                not_an_address(text, &format!("`{port}` is not a port from 0 to 65535"))
            })
        };
        if let Some(port) = text.strip_prefix(':').filter(|p| !p.contains(':')) {
            return port_of(port).map(ListenAddr::Any);
        }
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(ListenAddr::Ip(addr));
        }
        let Some((host, port)) = text.rsplit_once(':') else {
            return Err(not_an_address(text, "no port"));
        };
        if host.eq_ignore_ascii_case("localhost") {
            return port_of(port).map(ListenAddr::Localhost);
        }
        port_of(port)?;
        if host.parse::<Ipv6Addr>().is_ok() || host.contains(':') {
            return Err(not_an_address(
                text,
                "an IPv6 address goes in brackets: [::1]:8080",
            ));
        }
        if host.starts_with('[') {
            return Err(not_an_address(text, "not an IPv6 address in the brackets"));
        }
        Err(not_an_address(
            text,
            "a host name other than localhost; give its IP address",
        ))
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Any(port) => write!(f, ":{port}"),
            ListenAddr::Localhost(port) => write!(f, "localhost:{port}"),
            ListenAddr::Ip(addr) => write!(f, "{addr}"),
        }
    }
}

/// One `--listen KIND=ADDRESS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenSpec {
    pub kind: ListenKind,
    pub address: ListenAddr,
}

impl FromStr for ListenSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((kind, address)) = text.split_once('=') else {
            return Err(format!(
                "`{text}` is not KIND=ADDRESS (chat=:8080, metrics=127.0.0.1:9100)"
            ));
        };
        Ok(ListenSpec {
            kind: kind.trim().parse()?,
            address: address.trim().parse()?,
        })
    }
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.kind, self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Result<ListenAddr, String> {
        text.parse()
    }

    #[test]
    fn addresses_as_people_type_them() {
        assert_eq!(addr(":8080"), Ok(ListenAddr::Any(8080)));
        assert_eq!(addr(":0"), Ok(ListenAddr::Any(0)));
        assert_eq!(addr("localhost:8081"), Ok(ListenAddr::Localhost(8081)));
        assert_eq!(addr("LocalHost:8081"), Ok(ListenAddr::Localhost(8081)));
        assert_eq!(
            addr("[::]:8080"),
            Ok(ListenAddr::Ip("[::]:8080".parse().unwrap()))
        );
        assert_eq!(
            addr("127.0.0.1:80"),
            Ok(ListenAddr::Ip("127.0.0.1:80".parse().unwrap()))
        );
        assert_eq!(
            addr("[::1]:9100"),
            Ok(ListenAddr::Ip("[::1]:9100".parse().unwrap()))
        );
    }

    #[test]
    fn each_form_prints_as_typed_and_parses_back() {
        for text in [
            ":8080",
            "localhost:8081",
            "[::]:8080",
            "0.0.0.0:1",
            "[::1]:0",
            "10.1.2.3:65535",
        ] {
            let parsed = addr(text).unwrap();
            assert_eq!(parsed.to_string(), text);
            assert_eq!(addr(&parsed.to_string()), Ok(parsed));
        }
    }

    #[test]
    fn what_is_not_an_address_is_refused_naming_it() {
        for (text, why) in [
            ("", "no port"),
            ("8080", "no port"),
            (":", "not a port"),
            (":http", "not a port"),
            (":65536", "not a port"),
            ("localhost", "no port"),
            ("localhost:", "not a port"),
            ("localhost:-1", "not a port"),
            ("::1:8080", "in brackets"),
            ("[::1]", "not a port"),
            ("[nope]:80", "not an IPv6 address"),
            ("example.org:80", "host name other than localhost"),
            ("127.0.0.1:99999", "not a port"),
            ("300.1.1.1:80", "host name"),
        ] {
            let err = addr(text).expect_err(text);
            assert!(err.contains(&format!("`{text}`")), "{text}: {err}");
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn every_interface_is_told_apart_from_one_address() {
        assert!(addr(":1").unwrap().is_every_interface());
        assert!(addr("[::]:1").unwrap().is_every_interface());
        assert!(addr("0.0.0.0:1").unwrap().is_every_interface());
        assert!(!addr("localhost:1").unwrap().is_every_interface());
        assert!(!addr("127.0.0.1:1").unwrap().is_every_interface());
    }

    #[test]
    fn localhost_is_both_loopbacks_and_only_the_v6_one_may_be_missing() {
        let sockets = addr("localhost:8081").unwrap().sockets();
        assert_eq!(
            sockets,
            [
                ("127.0.0.1:8081".parse().unwrap(), Optional::Required),
                ("[::1]:8081".parse().unwrap(), Optional::SkipIfMissing),
            ]
        );
        assert_eq!(
            addr(":8080").unwrap().sockets(),
            [("[::]:8080".parse().unwrap(), Optional::FallBackToV4)]
        );
    }

    #[test]
    fn a_listener_is_a_kind_and_an_address() {
        let spec: ListenSpec = "metrics=127.0.0.1:9100".parse().unwrap();
        assert_eq!(spec.kind, ListenKind::Metrics);
        assert_eq!(spec.to_string(), "metrics=127.0.0.1:9100");
        let spec: ListenSpec = "chat=:8080".parse().unwrap();
        assert_eq!(spec.address, ListenAddr::Any(8080));
        let spec: ListenSpec = "ircs=:6697".parse().unwrap();
        assert!(spec.kind.is_irc_only() && spec.kind.is_tls_only() && spec.kind.is_chat());
        assert!("gopher=:70"
            .parse::<ListenSpec>()
            .unwrap_err()
            .contains("unknown listener kind `gopher`"));
        assert!("chat"
            .parse::<ListenSpec>()
            .unwrap_err()
            .contains("KIND=ADDRESS"));
        assert!("chat=nowhere".parse::<ListenSpec>().is_err());
    }
}
