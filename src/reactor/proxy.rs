//! Real client addresses behind a proxy: the PROXY protocol header (v1 text, v2 binary, parsed
//! by the `ppp` crate) that a trusted proxy puts before its client's bytes, and the `Forwarded`
//! (RFC 7239) or `X-Forwarded-For` header of a trusted proxy's HTTP request (`codec::forwarded`):
//! a WebSocket's user moves to the address it names, and `/metrics` is judged by it.
//!
//! A connection from a `--trusted-proxy` address is admitted under the proxy's address, exempt
//! from the per-address rules, and waits for its header before anything else is read; the
//! header's source address then becomes the connection's address, and the per-address rules
//! (`--max-per-ip`, the waiting budget's share, bans) are applied to it as they would have been
//! at accept. The held-name reclaim, `/ban` by address and the logs all see the real address
//! from then on, because the chat core is told the connection anew. From anyone else a PROXY
//! header is refused: it would let a client claim any address.

use std::net::{IpAddr, SocketAddr};

use log::{debug, info, warn};
use ppp::{v1, v2, HeaderResult, PartialResult};

use super::Reactor;
use crate::chat::{Bye, ConnId, Event, Peer};
use crate::codec::forwarded::{self, Malformed};
use crate::codec::http::HttpRequest;
use crate::config::ProxyProtocol;

/// The v2 header's signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The v1 header's start.
const V1_START: &[u8; 6] = b"PROXY ";
/// Longest header held while it arrives: a v1 header is at most 107 bytes, and v2 TLVs beyond
/// this are not something a proxy in front of a chat server sends.
const MAX_HEADER: usize = 1024;

/// Whether `data` is, as far as it goes, the start of a PROXY header.
pub(super) fn may_be_header(data: &[u8]) -> bool {
    let n = data.len().min(V2_SIGNATURE.len());
    let m = data.len().min(V1_START.len());
    data[..n] == V2_SIGNATURE[..n] || data[..m] == V1_START[..m]
}

/// What a complete header says: the client's address (`None` for a proxy's own health check,
/// `LOCAL` or `UNKNOWN`), and how many bytes it took.
fn parse(buf: &[u8]) -> Result<Option<(Option<IpAddr>, usize)>, String> {
    // A v1 header is one line, parsed once its end has come (the parser takes a line cut in a
    // number for a bad number); at most 107 bytes.
    let header = if buf.len() <= V1_START.len() && V1_START.starts_with(buf) {
        return Ok(None);
    } else if buf.starts_with(V1_START) {
        match buf.windows(2).position(|w| w == b"\r\n") {
            Some(at) => HeaderResult::parse(&buf[..at + 2]),
            None if buf.len() > 107 => return Err("a PROXY v1 header longer than 107 bytes".into()),
            None => return Ok(None),
        }
    } else {
        let header = HeaderResult::parse(buf);
        if header.is_incomplete() {
            return Ok(None);
        }
        header
    };
    match header {
        HeaderResult::V1(Ok(h)) => {
            let ip = match h.addresses {
                v1::Addresses::Tcp4(a) => Some(IpAddr::V4(a.source_address)),
                v1::Addresses::Tcp6(a) => Some(IpAddr::V6(a.source_address)),
                v1::Addresses::Unknown => None,
            };
            Ok(Some((ip, h.header.len())))
        }
        HeaderResult::V2(Ok(h)) => {
            let ip = match (h.command, h.addresses) {
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => Some(IpAddr::V4(a.source_address)),
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => Some(IpAddr::V6(a.source_address)),
                _ => None,
            };
            Ok(Some((ip, h.len())))
        }
        HeaderResult::V1(Err(e)) => Err(format!("bad PROXY v1 header: {e}")),
        HeaderResult::V2(Err(e)) => Err(format!("bad PROXY v2 header: {e}")),
    }
}

impl Reactor {
    /// Bytes from a trusted proxy's connection whose header has not come yet.
    pub(super) fn on_proxy_bytes(&mut self, key: usize, data: &[u8]) {
        let Some(buf) = self.conns[key].proxy_header.as_mut() else {
            return;
        };
        buf.extend_from_slice(data);
        if !may_be_header(buf) {
            // No header: the proxy's own connection, or one it forwards without.
            let held = *self.conns[key].proxy_header.take().unwrap_or_default();
            if self.cfg.proxy_protocol == ProxyProtocol::Required {
                return self.refuse_proxied(key, "no PROXY header (--proxy-protocol required)");
            }
            return self.on_bytes(key, &held);
        }
        let parsed = parse(buf);
        let too_long = buf.len() > MAX_HEADER;
        match parsed {
            Ok(None) if too_long => self.refuse_proxied(key, "a PROXY header too long"),
            Ok(None) => {} // more to come
            Err(why) => self.refuse_proxied(key, &why),
            Ok(Some((ip, consumed))) => {
                let held = *self.conns[key].proxy_header.take().unwrap_or_default();
                // Only a header that names an address names a client: v1 UNKNOWN, or v2 with
                // no IP address, leaves the connection as the proxy's own.
                self.conns[key].client_named = ip.is_some();
                // An IPv4 client may come as ::ffff:a.b.c.d from an IPv6 proxy.
                if let Some(ip) = ip.map(|ip| ip.to_canonical()) {
                    if let Err(bye) = self.move_peer(key, ip) {
                        info!(ip:% = ip, through:% = self.conns[key].peer, bye = bye.code(); "refused");
                        self.queue_event(key, &Event::Bye(bye));
                        let close_at = self.clock.now() + self.cfg.linger();
                        return self.begin_close(key, close_at);
                    }
                }
                if consumed < held.len() {
                    self.on_bytes(key, &held[consumed..]);
                }
            }
        }
    }

    fn refuse_proxied(&mut self, key: usize, why: &str) {
        warn!(peer:% = self.conns[key].peer, why; "proxy header refused, closed");
        self.stats.proxy_refused += 1;
        let close_at = self.clock.now();
        self.begin_close(key, close_at);
    }

    /// A PROXY header from an address that is not a trusted proxy: refused, as it would let
    /// anyone claim any address.
    pub(super) fn refuse_untrusted_header(&mut self, key: usize) {
        self.refuse_proxied(key, "a PROXY header from an address not in --trusted-proxy");
    }

    /// The connection's real client is at `ip` (a PROXY header or `X-Forwarded-For`): the
    /// per-address rules are applied to it, its counts move there, and the chat core knows the
    /// connection by it from now on.
    pub(super) fn move_peer(&mut self, key: usize, ip: IpAddr) -> Result<(), Bye> {
        let conn = &self.conns[key];
        let old = conn.peer.ip();
        if old == ip {
            return Ok(());
        }
        if self.ip_is_limited(ip)
            && self.per_ip.get(&ip).copied().unwrap_or(0) >= self.cfg.max_per_ip
        {
            self.stats.refused_per_ip += 1;
            return Err(Bye::TooManyFromAddress {
                max: self.cfg.max_per_ip,
            });
        }
        if let Some(minutes_left) = self.chat.address_banned(ip, self.clock.now()) {
            self.stats.refused_banned += 1;
            return Err(Bye::Banned { minutes_left });
        }
        if conn.waiting
            && self.unregistered.admission(ip) == super::admission::Admission::RefuseAddress
        {
            self.stats.refused_unregistered += 1;
            return Err(Bye::TooManyWaitingFromAddress {
                max: self.cfg.max_unregistered_per_ip,
            });
        }
        let waiting = conn.waiting;
        let counted = conn.counted;
        if waiting {
            self.unregistered.remove(old, key);
            self.unregistered.add(ip, key);
        }
        if counted {
            if let Some(n) = self.per_ip.get_mut(&old) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&old);
                }
            }
            *self.per_ip.entry(ip).or_insert(0) += 1;
        }
        let conn = &mut self.conns[key];
        info!(peer:% = conn.peer, client:% = ip; "client through a trusted proxy");
        conn.peer = SocketAddr::new(ip, conn.peer.port());
        if conn.via.is_chat() && !self.chat.is_logged_in(ConnId(key)) {
            self.chat.connect(ConnId(key), Peer { ip });
        }
        Ok(())
    }

    /// The client a trusted proxy's HTTP request names: its `Forwarded` header and its
    /// `X-Forwarded-For` (one that does not parse is ignored). `Ok(None)` from anyone else, whose
    /// headers could claim any address, and when they name nobody.
    ///
    /// # Errors
    ///
    /// Both headers are there and name different clients: most proxies write one of them and
    /// pass the other on as the client sent it, so which to believe cannot be told, and neither is.
    pub(super) fn forwarded_client(
        &self,
        key: usize,
        req: &HttpRequest,
    ) -> Result<Option<IpAddr>, String> {
        let peer = self.conns[key].peer;
        if !self.cfg.is_trusted_proxy(peer.ip()) {
            return Ok(None);
        }
        let trusted = |ip| self.cfg.is_trusted_proxy(ip);
        // Several lines of one header are one value joined with commas (RFC 9110 §5.3).
        let joined = |name: &str| {
            let values: Vec<&str> = req
                .headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect();
            (!values.is_empty()).then(|| values.join(","))
        };
        let standard = joined("forwarded").map(|value| {
            forwarded::parse_forwarded(&value).map(|nodes| forwarded::client(&nodes, trusted))
        });
        let legacy = joined("x-forwarded-for").map(|value| {
            forwarded::parse_x_forwarded_for(&value).map(|nodes| forwarded::client(&nodes, trusted))
        });
        let (standard, legacy) = match (standard, legacy) {
            // Beside the other header a malformed one is not ignored: a proxy that appends its
            // hop to the client's own `Forwarded: x` makes the whole value malformed, and the
            // client's X-Forwarded-For, passed on untouched, would decide alone.
            (Some(Err(Malformed(why))), Some(_)) | (Some(_), Some(Err(Malformed(why)))) => {
                return Err(format!("a malformed header beside the other: {why}"));
            }
            (Some(Err(Malformed(why))), None) => {
                debug!(peer:% = peer, why:% = why; "Forwarded header ignored");
                (None, None)
            }
            (None, Some(Err(Malformed(why)))) => {
                debug!(peer:% = peer, why:% = why; "X-Forwarded-For header ignored");
                (None, None)
            }
            (standard, legacy) => (standard.and_then(Result::ok), legacy.and_then(Result::ok)),
        };
        let name = |ip: Option<IpAddr>| ip.map_or("nobody".to_string(), |ip| ip.to_string());
        match (standard, legacy) {
            (Some(a), Some(b)) if a != b => Err(format!(
                "its Forwarded names {} and its X-Forwarded-For {}",
                name(a),
                name(b)
            )),
            (Some(client), _) | (None, Some(client)) => Ok(client),
            (None, None) => Ok(None),
        }
    }

    /// Who an HTTP request is from, as far as can be told: the connection's address, unless it
    /// is a trusted proxy's, which must name its client (a header, or its PROXY header). `None`
    /// for a trusted proxy's request that names nobody: it may be forwarding anyone.
    pub(super) fn request_client(&self, key: usize, req: &HttpRequest) -> Option<IpAddr> {
        let conn = &self.conns[key];
        let peer = conn.peer.ip();
        if !self.cfg.is_trusted_proxy(peer) {
            return Some(peer);
        }
        match self.forwarded_client(key, req) {
            Ok(Some(ip)) => Some(ip),
            Ok(None) => conn.client_named.then_some(peer),
            Err(why) => {
                info!(peer:% = conn.peer, why:% = why; "proxy headers not believed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_header(src: [u8; 4], rest: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend_from_slice(&[0x21, 0x11, 0, 12]);
        h.extend_from_slice(&src);
        h.extend_from_slice(&[127, 0, 0, 1]);
        h.extend_from_slice(&[0x15, 0xb3, 0x1f, 0x90]);
        h.extend_from_slice(rest);
        h
    }

    #[test]
    fn both_versions_give_the_client_and_the_bytes_they_took_at_every_split() {
        let v1 = b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 8080\r\nalice\n".to_vec();
        let v2 = v2_header([198, 51, 100, 9], b"bob\n");
        for (input, ip, rest) in [
            (&v1, "203.0.113.7", &b"alice\n"[..]),
            (&v2, "198.51.100.9", &b"bob\n"[..]),
        ] {
            let header_len = input.len() - rest.len();
            for cut in 0..header_len {
                assert!(may_be_header(&input[..cut]), "a header's start at {cut}");
                assert_eq!(parse(&input[..cut]), Ok(None), "incomplete at {cut}");
            }
            let (got, consumed) = parse(input).unwrap().unwrap();
            assert_eq!((got, consumed), (Some(ip.parse().unwrap()), header_len));
        }
    }

    #[test]
    fn what_is_not_a_header_is_told_apart_and_a_bad_one_refused() {
        assert!(!may_be_header(b"alice\n"));
        assert!(!may_be_header(b"GET / HTTP/1.1"));
        assert!(may_be_header(b"PRO"));
        assert!(parse(b"PROXY TCP4 nonsense\r\n").is_err());
        assert_eq!(parse(b"PROXY UNKNOWN\r\n"), Ok(Some((None, 15))));
    }
}
