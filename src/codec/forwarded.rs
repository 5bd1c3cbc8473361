//! Who a proxied HTTP request is from: the `Forwarded` header (RFC 7239) and `X-Forwarded-For`.
//!
//! Both list the addresses a request passed through, the client's first and each proxy's
//! appended after. Only the entries added by proxies we trust can be believed, so the client is
//! the **rightmost address that is not itself a trusted proxy** ([`client`]); everything left of
//! it may have been written by the client. An entry that names no address (`for=unknown`, an
//! obfuscated `for=_hidden`, an element without `for=`) ends the walk with no answer: the proxy
//! that wrote it does not know the client either, and what lies left of it is not to be believed.
//!
//! A malformed header is an error the caller logs and ignores; nothing here panics on input.
//! What to do when a request carries both headers is the caller's (`reactor::proxy`: they must
//! agree).
//!
//! Parsed by hand: of the two crates for `Forwarded`, `rfc7239` is archived and
//! `forwarded-header-value` splits on `,` and `;` without regard to quoted strings (so
//! `host="a,b"` breaks an element in two). The grammar is small: RFC 7239 §4 (elements,
//! pairs, tokens and RFC 7230 quoted strings) and §6 (node names).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One hop's `for=` node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// An IP address (a port, if given, is of no use here and dropped).
    Ip(IpAddr),
    /// `unknown`, an obfuscated identifier (`_abc`), or no `for=` in the element.
    Unnamed,
}

/// Why a header was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

fn bad(why: impl Into<String>) -> Malformed {
    Malformed(why.into())
}

/// RFC 7230 tchar.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// The `for=` node of each element of a `Forwarded` header value (several header lines are
/// one value joined with commas), in order.
///
/// # Errors
///
/// [`Malformed`] when the value breaks the grammar: the whole header is then to be ignored.
pub fn parse_forwarded(value: &str) -> Result<Vec<Node>, Malformed> {
    let bytes = value.as_bytes();
    let mut at = 0;
    let mut nodes = Vec::new();
    let mut node: Option<Node> = None;
    let mut empty_element = true;
    let skip_ows = |at: &mut usize| {
        while *at < bytes.len() && matches!(bytes[*at], b' ' | b'\t') {
            *at += 1;
        }
    };
    loop {
        skip_ows(&mut at);
        match bytes.get(at) {
            None | Some(b',') => {
                // 1#element allows empty list elements (`a, , b`); they are no hop.
                if !empty_element {
                    nodes.push(node.take().unwrap_or(Node::Unnamed));
                }
                empty_element = true;
                if at >= bytes.len() {
                    break;
                }
                at += 1;
                continue;
            }
            Some(b';') => {
                at += 1;
                continue;
            }
            Some(_) => {}
        }
        // forwarded-pair = token "=" value
        let start = at;
        while at < bytes.len() && is_tchar(bytes[at]) {
            at += 1;
        }
        if start == at {
            return Err(bad(format!("expected a parameter name at byte {at}")));
        }
        let name = &value[start..at];
        if bytes.get(at) != Some(&b'=') {
            return Err(bad(format!("`{name}` without `=`")));
        }
        at += 1;
        let text = if bytes.get(at) == Some(&b'"') {
            let (text, end) = quoted(bytes, at)?;
            at = end;
            text
        } else {
            let start = at;
            while at < bytes.len() && is_tchar(bytes[at]) {
                at += 1;
            }
            if start == at {
                return Err(bad(format!("`{name}=` without a value")));
            }
            value[start..at].to_string()
        };
        // Only whitespace, `;` or `,` may follow a pair.
        skip_ows(&mut at);
        if !matches!(bytes.get(at), None | Some(b';' | b',')) {
            return Err(bad(format!("unexpected text after `{name}=`")));
        }
        empty_element = false;
        if name.eq_ignore_ascii_case("for") {
            if node.is_some() {
                return Err(bad("`for=` twice in one element"));
            }
            node = Some(node_of(&text)?);
        }
    }
    if nodes.is_empty() {
        return Err(bad("no element"));
    }
    Ok(nodes)
}

/// An RFC 7230 quoted-string starting at `bytes[at] == '"'`: its text and the index after it.
fn quoted(bytes: &[u8], mut at: usize) -> Result<(String, usize), Malformed> {
    at += 1;
    let mut text = Vec::new();
    while let Some(&c) = bytes.get(at) {
        match c {
            b'"' => {
                return String::from_utf8(text)
                    .map(|t| (t, at + 1))
                    .map_err(|_| bad("a quoted value that is not UTF-8"))
            }
            b'\\' => {
                let Some(&escaped) = bytes.get(at + 1) else {
                    break;
                };
                text.push(escaped);
                at += 2;
            }
            c if c == b'\t' || (c >= b' ' && c != 0x7f) => {
                text.push(c);
                at += 1;
            }
            _ => return Err(bad("a control character in a quoted value")),
        }
    }
    Err(bad("an unterminated quoted value"))
}

/// RFC 7239 §6: `node = nodename [ ":" node-port ]`, a nodename being an IPv4 address, a
/// bracketed IPv6 address, `unknown` or an obfuscated `_identifier`.
fn node_of(text: &str) -> Result<Node, Malformed> {
    let is_obfuscated = |s: &str| {
        s.len() > 1
            && s.starts_with('_')
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
    };
    let is_port = |p: &str| {
        ((1..=5).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit())) || is_obfuscated(p)
    };
    let (name, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(bad(format!("`{text}`: an unclosed [")));
        };
        let ip: Ipv6Addr = v6
            .parse()
            .map_err(|_| bad(format!("`{text}`: not an IPv6 address")))?;
        match after {
            "" => return Ok(Node::Ip(IpAddr::V6(ip).to_canonical())),
            port => match port.strip_prefix(':') {
                Some(p) if is_port(p) => return Ok(Node::Ip(IpAddr::V6(ip).to_canonical())),
                _ => return Err(bad(format!("`{text}`: a bad port"))),
            },
        }
    } else {
        match text.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (text, None),
        }
    };
    if port.is_some_and(|p| !is_port(p)) {
        return Err(bad(format!("`{text}`: a bad port")));
    }
    if name.eq_ignore_ascii_case("unknown") || is_obfuscated(name) {
        return Ok(Node::Unnamed);
    }
    name.parse::<Ipv4Addr>()
        .map(|ip| Node::Ip(IpAddr::V4(ip)))
        .map_err(|_| {
            bad(format!(
                "`{text}`: not a node (IPv4, \"[IPv6]\", unknown or _name)"
            ))
        })
}

/// The addresses of an `X-Forwarded-For` value (`client, proxy1, proxy2`), in order. An entry
/// that is not an address (some proxies write `unknown`) is [`Node::Unnamed`].
///
/// # Errors
///
/// [`Malformed`] for an empty value.
pub fn parse_x_forwarded_for(value: &str) -> Result<Vec<Node>, Malformed> {
    let nodes: Vec<Node> = value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            // Some proxies add the port: `203.0.113.7:4711`, `[2001:db8::1]:4711`.
            let ip = entry
                .parse::<IpAddr>()
                .ok()
                .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()));
            ip.map_or(Node::Unnamed, |ip| Node::Ip(ip.to_canonical()))
        })
        .collect();
    if nodes.is_empty() {
        return Err(bad("no address"));
    }
    Ok(nodes)
}

/// The client of a request that came through `nodes`: the rightmost address that is not a
/// trusted proxy, or the leftmost when all of them are (the proxy's own request, or a client on
/// the proxy's own network). `None` when an unnamed node is met first: nothing is known.
pub fn client(nodes: &[Node], is_trusted: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
    let mut leftmost = None;
    for node in nodes.iter().rev() {
        match *node {
            Node::Ip(ip) if is_trusted(ip) => leftmost = Some(ip),
            Node::Ip(ip) => return Some(ip),
            Node::Unnamed => return None,
        }
    }
    leftmost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Node {
        Node::Ip(s.parse().unwrap())
    }

    #[test]
    fn the_rfcs_examples_and_the_shapes_proxies_send() {
        for (value, nodes) in [
            ("for=\"_gazonk\"", vec![Node::Unnamed]),
            (
                "For=\"[2001:db8:cafe::17]:4711\"",
                vec![ip("2001:db8:cafe::17")],
            ),
            (
                "for=192.0.2.60;proto=http;by=203.0.113.43",
                vec![ip("192.0.2.60")],
            ),
            (
                "for=192.0.2.43, for=198.51.100.17",
                vec![ip("192.0.2.43"), ip("198.51.100.17")],
            ),
            ("for=\"[2001:db8::1]:4711\"", vec![ip("2001:db8::1")]),
            ("for=\"[2001:db8::1]\"", vec![ip("2001:db8::1")]),
            ("for=\"192.0.2.43:47011\"", vec![ip("192.0.2.43")]),
            ("for=\"192.0.2.43:_port\"", vec![ip("192.0.2.43")]),
            ("for=unknown", vec![Node::Unnamed]),
            ("for=\"unknown:1\"", vec![Node::Unnamed]),
            ("proto=https;host=example.org", vec![Node::Unnamed]),
            ("host=\"a,b;c\";for=10.0.0.1", vec![ip("10.0.0.1")]),
            ("for=\"\\1\\0.0.0.2\"", vec![ip("10.0.0.2")]),
            (
                " for=10.0.0.1 ;  by=10.0.0.2 ,for=10.0.0.3 ",
                vec![ip("10.0.0.1"), ip("10.0.0.3")],
            ),
            (
                "for=10.0.0.1,,for=10.0.0.3,",
                vec![ip("10.0.0.1"), ip("10.0.0.3")],
            ),
            ("for=10.0.0.1;", vec![ip("10.0.0.1")]),
            ("for=\"[::ffff:192.0.2.1]\"", vec![ip("192.0.2.1")]),
        ] {
            assert_eq!(parse_forwarded(value), Ok(nodes), "{value}");
        }
    }

    #[test]
    fn malformed_values_are_errors_never_panics() {
        for value in [
            "",
            " , ",
            "for",
            "for=",
            "=1.2.3.4",
            "for=\"1.2.3.4",
            "for=\"1.2.3.4\\",
            "for=1.2.3.4:80",      // ':' is not a token character: must be quoted
            "for=\"2001:db8::1\"", // IPv6 without brackets
            "for=\"[2001:db8::1\"",
            "for=\"[2001:db8::1]x\"",
            "for=\"[2001:db8::1]:123456\"",
            "for=\"[nonsense]\"",
            "for=example.org",
            "for=\"1.2.3.4:\"",
            "for=1.2.3.4 x",
            "for=1.2.3.4;for=5.6.7.8",
            "for=\"a\x01b\"",
            "for=_",
        ] {
            assert!(parse_forwarded(value).is_err(), "{value:?}");
        }
        // Every prefix and every byte removed of a good value: an answer or an error, no panic.
        let good = "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\";host=\"a,b\"";
        for cut in 0..=good.len() {
            let _ = parse_forwarded(&good[..cut]);
            let _ = parse_forwarded(&good[cut..]);
            let mut dropped = good.as_bytes().to_vec();
            if cut < dropped.len() {
                dropped.remove(cut);
            }
            let _ = parse_forwarded(&String::from_utf8_lossy(&dropped));
        }
    }

    #[test]
    fn a_value_split_into_header_lines_at_any_element_means_the_same() {
        // Several Forwarded lines are one value joined with commas, whatever the split.
        let elements = [
            "for=192.0.2.1",
            "for=\"[2001:db8::9]:80\";proto=https",
            "by=10.0.0.1;for=10.0.0.2",
        ];
        let whole = parse_forwarded(&elements.join(", ")).unwrap();
        for split in 1..elements.len() {
            let joined = format!(
                "{},{}",
                elements[..split].join(","),
                elements[split..].join(",")
            );
            assert_eq!(parse_forwarded(&joined).unwrap(), whole, "split at {split}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy() {
        let trusted = |ip: IpAddr| ip.is_loopback() || ip.to_string().starts_with("10.");
        let nodes = |v: &str| parse_forwarded(v).unwrap();
        // The client may write anything left of its own entry: only the right end is believed.
        assert_eq!(
            client(
                &nodes("for=6.6.6.6, for=203.0.113.7, for=10.0.0.5"),
                trusted
            ),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            client(&nodes("for=203.0.113.7"), trusted),
            Some("203.0.113.7".parse().unwrap())
        );
        // Every hop a trusted proxy: the leftmost is the client.
        assert_eq!(
            client(&nodes("for=127.0.0.1, for=10.0.0.5"), trusted),
            Some("127.0.0.1".parse().unwrap())
        );
        // An unnamed hop before any untrusted address: nothing known.
        assert_eq!(
            client(&nodes("for=203.0.113.7, for=unknown"), trusted),
            None
        );
        assert_eq!(
            client(&nodes("for=203.0.113.7, for=_hidden"), trusted),
            None
        );
        assert_eq!(
            client(&nodes("for=unknown, for=203.0.113.7"), trusted),
            Some("203.0.113.7".parse().unwrap())
        );
        let xff = |v: &str| parse_x_forwarded_for(v).unwrap();
        assert_eq!(
            client(&xff("6.6.6.6, 198.51.100.4, 10.1.1.1"), trusted),
            Some("198.51.100.4".parse().unwrap())
        );
        assert_eq!(
            client(&xff("198.51.100.4:5555"), trusted),
            Some("198.51.100.4".parse().unwrap())
        );
        assert_eq!(
            client(&xff("[2001:db8::1]:5555"), trusted),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(client(&xff("198.51.100.4, unknown"), trusted), None);
        assert!(parse_x_forwarded_for(" , ").is_err());
    }
}
