//! The IRC side of a bench client (`--proto irc`): what it writes (registration, `JOIN`,
//! `PRIVMSG` carrying the bench's stamp, `PONG`) and a parse of the lines it reads.
//!
//! A client registers with `NICK` and `USER` (no `CAP`, so no IRCv3 extensions: in particular
//! no echo-message, and like reactor-chat's line protocol the server never sends a sender its
//! own `PRIVMSG`), waits for `001`, joins `#r<room>` and waits for that channel's `366` (end of
//! NAMES). Its messages are `PRIVMSG #r<room> :<text>`, the text exactly as [`crate::wire`]
//! stamps it for the line protocol, so order, loss and latency are read the same way.
//!
//! The parse is the bench's own and deliberately tiny: it frames one line (CRLF already cut)
//! as RFC 1459 does, an optional `:prefix`, a command or three-digit numeric, then parameters,
//! and names only the lines a bench client acts on. It is pure and copies nothing, since it
//! runs for every one of millions of deliveries a second; a general IRC crate's message type
//! would allocate per line for parameters the bench never reads.

use std::io::Write as _;

use crate::wire::{self, Stamp};

/// `001`: registration is complete.
pub const RPL_WELCOME: u16 = 1;
/// `366`: the end of a channel's NAMES list, the last reply to a `JOIN`.
pub const RPL_ENDOFNAMES: u16 = 366;
/// `422`: no MOTD; an error numeric that is no refusal.
const ERR_NOMOTD: u16 = 422;

/// Longest `--size` with `--proto irc`. A relayed line is at most 512 bytes with its CRLF
/// (RFC 1459), and the server puts `:nick!user@host PRIVMSG #r<room> :` in front of the text:
/// up to 9 + 10 + 64 bytes of nick, user and host name, 17 of command and channel (up to five
/// digits of room), and 8 of framing. 400 leaves room for all of it.
pub const MAX_SIZE: usize = 400;

/// The lines a bench client acts on; everything else is [`Line::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// `PING <token>`: answered with `PONG :<token>` whatever the client is doing.
    Ping(&'a [u8]),
    /// `PRIVMSG <target> :<text>`, from whoever the prefix names.
    Privmsg { target: &'a [u8], text: &'a [u8] },
    /// A numeric reply, with the parameters after its first (the client's own nick).
    Numeric { code: u16, params: &'a [u8] },
    /// `ERROR :<reason>`: the server is closing the connection.
    Error(&'a [u8]),
    /// Anything else: `JOIN`s and `QUIT`s of others, `NOTICE`s, `MODE`s, the MOTD's lines;
    /// and empty lines, which IRC ignores.
    Other,
    /// Not an IRC line at all: no command after a prefix, or a "command" that is neither a
    /// word of letters nor three digits (reactor-chat's line protocol, `-- Welcome ...`, or
    /// telnet negotiation). Before registration it means the server does not speak IRC.
    NotIrc,
}

/// Reads one line (without its line ending).
pub fn parse(line: &[u8]) -> Line<'_> {
    let mut rest = line;
    if let [b':', after @ ..] = rest {
        // A plain loop: a prefix is a few dozen bytes, and a vector search's setup costs more.
        let Some(space) = after.iter().position(|&b| b == b' ') else {
            return Line::NotIrc;
        };
        rest = &after[space..];
    }
    let rest = skip_spaces(rest);
    let (command, params) = word(rest);
    match command {
        b"PRIVMSG" => {
            let (target, text) = word(params);
            if target.is_empty() {
                return Line::Other;
            }
            Line::Privmsg {
                target,
                text: trailing(text),
            }
        }
        b"PING" => Line::Ping(trailing(params)),
        b"ERROR" => Line::Error(trailing(params)),
        [a, b, c] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            // The first parameter is the target, the client's nick (or `*` before it has one).
            let (_, params) = word(params);
            Line::Numeric { code, params }
        }
        [] if line.is_empty() => Line::Other,
        word if !word.is_empty() && word.iter().all(u8::is_ascii_alphabetic) => Line::Other,
        _ => Line::NotIrc,
    }
}

/// The stamp of a bench message delivered in a channel, or `None` for any other line.
pub fn delivery(line: &[u8]) -> Option<Stamp> {
    match parse(line) {
        Line::Privmsg { target, text } if target.first() == Some(&b'#') => wire::parse_stamp(text),
        _ => None,
    }
}

/// Whether a numeric ends a registration or a join: an error reply (nick in use, banned,
/// channel full, ...), except `422` (no MOTD), which servers without a MOTD file send as a
/// matter of course.
pub fn is_refusal(code: u16) -> bool {
    (400..600).contains(&code) && code != ERR_NOMOTD
}

/// Whether a `366`'s parameters (after the nick) are for the channel of `room`. Channel names
/// compare without regard to ASCII case, as servers fold them.
pub fn ends_names_of(params: &[u8], room: usize) -> bool {
    let (channel, _) = word(params);
    match channel {
        [b'#', r, digits @ ..] if r.eq_ignore_ascii_case(&b'r') => {
            !digits.is_empty()
                && digits.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    == Some(room)
        }
        _ => false,
    }
}

/// Appends `NICK` and `USER` for `nick` (no `CAP`: no IRCv3 extensions are asked for).
pub fn encode_register(out: &mut Vec<u8>, nick: &str) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n");
}

/// Appends `JOIN #r<room>`.
pub fn encode_join(out: &mut Vec<u8>, room: usize) {
    let _ = write!(out, "JOIN #r{room}\r\n");
}

/// Appends the answer to a `PING`.
pub fn encode_pong(out: &mut Vec<u8>, token: &[u8]) {
    out.extend_from_slice(b"PONG :");
    out.extend_from_slice(token);
    out.extend_from_slice(b"\r\n");
}

/// Appends one message: `PRIVMSG #r<room> :` and the text as [`wire::encode`] makes it.
pub fn encode_privmsg(out: &mut Vec<u8>, room: usize, stamp: Stamp, size: usize) {
    let _ = write!(out, "PRIVMSG #r{room} :");
    wire::encode(out, stamp, size);
    out.pop(); // encode's `\n`
    out.extend_from_slice(b"\r\n");
}

/// The first space-separated parameter and what follows it (leading spaces skipped).
fn word(text: &[u8]) -> (&[u8], &[u8]) {
    let text = skip_spaces(text);
    match text.iter().position(|&b| b == b' ') {
        Some(end) => (&text[..end], skip_spaces(&text[end..])),
        None => (text, &[]),
    }
}

/// The last parameter: after a `:` everything to the end (spaces included), else one word.
fn trailing(params: &[u8]) -> &[u8] {
    match skip_spaces(params) {
        [b':', text @ ..] => text,
        other => word(other).0,
    }
}

fn skip_spaces(text: &[u8]) -> &[u8] {
    let start = text.iter().position(|&b| b != b' ').unwrap_or(text.len());
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{split_stream, Piece};

    fn stamp(seq: u32) -> Stamp {
        Stamp {
            sender: 7,
            seq,
            sent_ns: 1_234_567,
        }
    }

    /// What a server relays for `encode_privmsg`: the client's line behind a prefix.
    fn relayed(prefix: &str, room: usize, stamp: Stamp, size: usize) -> Vec<u8> {
        let mut sent = Vec::new();
        encode_privmsg(&mut sent, room, stamp, size);
        let mut line = format!(":{prefix} ").into_bytes();
        line.extend_from_slice(&sent);
        line
    }

    #[test]
    fn a_relayed_privmsg_carries_the_stamp() {
        let line = relayed("b0a12!~b0a12@127.0.3.5", 0, stamp(3), 64);
        let line = &line[..line.len() - 2]; // the CRLF, which split_stream cuts
        assert_eq!(delivery(line), Some(stamp(3)));
        match parse(line) {
            Line::Privmsg { target, text } => {
                assert_eq!(target, b"#r0");
                assert_eq!(text.len(), 64);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_a_client_writes() {
        let mut out = Vec::new();
        encode_register(&mut out, "b0a12");
        encode_join(&mut out, 12);
        encode_pong(&mut out, b"irc.example.net");
        assert_eq!(
            out,
            b"NICK b0a12\r\nUSER b0a12 0 * :b0a12\r\nJOIN #r12\r\nPONG :irc.example.net\r\n"
        );
        let mut out = Vec::new();
        encode_privmsg(&mut out, 3, stamp(1), 40);
        assert!(out.starts_with(b"PRIVMSG #r3 :~"), "{out:?}");
        assert!(out.ends_with(b"...\r\n"));
        assert_eq!(out.len(), "PRIVMSG #r3 :".len() + 40 + 2);
    }

    #[test]
    fn the_longest_text_fits_a_relayed_line() {
        let prefix = format!("b{}!~{}@{}", "z".repeat(8), "u".repeat(9), "h".repeat(64));
        let line = relayed(&prefix, 99_999, stamp(0), MAX_SIZE);
        assert!(line.len() <= 512, "{} bytes", line.len());
    }

    #[test]
    fn pings_numerics_and_errors() {
        assert_eq!(
            parse(b"PING :irc.example.net"),
            Line::Ping(b"irc.example.net")
        );
        assert_eq!(parse(b"PING token"), Line::Ping(b"token"));
        assert_eq!(parse(b":srv PING :t 1"), Line::Ping(b"t 1"));
        assert_eq!(
            parse(b":srv 001 b0a12 :Welcome to the Internet Relay Network b0a12"),
            Line::Numeric {
                code: 1,
                params: b":Welcome to the Internet Relay Network b0a12"
            }
        );
        let Line::Numeric { code, params } = parse(b":srv 366 b0a12 #r4 :End of NAMES list") else {
            panic!("not a numeric");
        };
        assert_eq!(code, RPL_ENDOFNAMES);
        assert!(ends_names_of(params, 4));
        assert!(!ends_names_of(params, 40));
        assert!(ends_names_of(b"#R4 :End", 4), "channels fold case");
        assert!(!ends_names_of(b"#bench :End", 0));
        assert!(!ends_names_of(b"#r :End", 0));
        assert_eq!(
            parse(b"ERROR :Closing link: (b@127.0.0.1) [Excess Flood]"),
            Line::Error(b"Closing link: (b@127.0.0.1) [Excess Flood]")
        );
        assert!(is_refusal(433) && is_refusal(471) && is_refusal(465));
        assert!(!is_refusal(422) && !is_refusal(1) && !is_refusal(366));
    }

    #[test]
    fn other_lines_are_not_deliveries() {
        for line in [
            &b":b0a1!~b0a1@127.0.3.2 JOIN :#r0"[..],
            b":srv NOTICE * :*** Looking up your hostname",
            b":b0a1!~b0a1@127.0.3.2 PRIVMSG b0a2 :~0000000700000000000000000000 a private one",
            b":b0a1!~b0a1@127.0.3.2 PRIVMSG #r0 :hello, a line of chat",
            b":b0a1!~b0a1@127.0.3.2 PRIVMSG #r0",
            b":srv 372 b0a1 :- ~0000000700000000000000000000",
            b":prefix-without-a-command",
            b"",
            b":",
            b"12",
        ] {
            assert_eq!(delivery(line), None, "{}", String::from_utf8_lossy(line));
        }
        assert_eq!(parse(b""), Line::Other, "IRC ignores empty lines");
        assert_eq!(
            parse(b"NOTICE AUTH :*** Looking up your hostname"),
            Line::Other
        );
    }

    #[test]
    fn what_is_not_irc_is_told_apart() {
        for line in [
            &b"-- Welcome to reactor-chat! Enter your nickname:"[..],
            b"! nick-invalid: spaces (U+0020) are not allowed in nicknames",
            b"\xff\xfb\x01 -- Enter your nickname:",
            b"[12:34] alice: hello",
            b":srv 37x b0a1 :x",
            b":srv 1234 b0a1 :x",
            b":prefix-without-a-command",
            b":srv ",
            b"12",
        ] {
            assert_eq!(
                parse(line),
                Line::NotIrc,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    /// Feeds `input` to `split_stream` in the given parts, as the driver's reads would, and
    /// names what each line is.
    fn lines(parts: &[&[u8]]) -> Vec<String> {
        let mut got = Vec::new();
        let mut carry = Vec::new();
        let mut incoming = None;
        for part in parts {
            let mut data = std::mem::take(&mut carry);
            data.extend_from_slice(part);
            let tail = split_stream(&data, &mut incoming, |piece, _| {
                let Piece::Line(line) = piece else {
                    panic!("no files over IRC");
                };
                got.push(match (parse(line), delivery(line)) {
                    (_, Some(s)) => format!("delivery {}:{}", s.sender, s.seq),
                    (Line::Ping(t), _) => format!("ping {}", String::from_utf8_lossy(t)),
                    (Line::Numeric { code, .. }, _) => format!("numeric {code}"),
                    (Line::Error(_), _) => "error".to_string(),
                    (Line::NotIrc, _) => "not irc".to_string(),
                    (Line::Privmsg { .. } | Line::Other, _) => "other".to_string(),
                });
            });
            carry = tail.to_vec();
        }
        assert!(carry.is_empty(), "a whole stream leaves no tail");
        got
    }

    #[test]
    fn every_split_of_a_stream_reads_the_same_lines() {
        let mut input = b":srv NOTICE * :*** Skipping host resolution\r\n".to_vec();
        input.extend_from_slice(b"PING :srv\r\n");
        input.extend_from_slice(b":srv 001 b0a12 :Welcome\r\n");
        input.extend_from_slice(b":srv 422 b0a12 :MOTD File is missing\r\n");
        input.extend_from_slice(b":b0a12!~b0a12@127.0.3.1 JOIN :#r0\r\n");
        input.extend_from_slice(b":srv 366 b0a12 #r0 :End of NAMES list\r\n");
        input.extend(relayed("b0a7!~b0a7@127.0.3.8", 0, stamp(0), 64));
        input.extend(relayed("b0a7!~b0a7@127.0.3.8", 0, stamp(1), 29));
        // A bare LF ends a line too.
        input.extend_from_slice(b"PING :srv2\n");
        input.extend_from_slice(b"ERROR :Closing link\r\n");
        let want = [
            "other",
            "ping srv",
            "numeric 1",
            "numeric 422",
            "other",
            "numeric 366",
            "delivery 7:0",
            "delivery 7:1",
            "ping srv2",
            "error",
        ];
        assert_eq!(lines(&[&input]), want);
        for split in 0..=input.len() {
            let parts: [&[u8]; 2] = [&input[..split], &input[split..]];
            assert_eq!(lines(&parts), want, "split at {split}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(lines(&bytes), want, "one byte at a time");
    }
}
