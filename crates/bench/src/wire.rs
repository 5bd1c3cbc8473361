//! What a bench message looks like on the wire, both ways: the stamp a sender writes into its text
//! and the parse a receiver runs on every delivered line.
//!
//! A sender's text is `~` + sender id (8 hex) + sequence number (8 hex) + send time (12 hex,
//! nanoseconds since the run's epoch) + `.` padding up to `--size` bytes. Fixed-width hex keeps
//! both sides branch-light and allocation-free, survives the server's text cleaning unchanged, and
//! 12 hex digits of nanoseconds cover 78 hours. The server delivers it as
//! `[HH:MM] nick: ~...` (PROTOCOL.md, "Chatting"); [`parse_delivery`] finds the stamp in that line
//! without copying it.

/// The byte that starts every stamp.
pub const MARKER: u8 = b'~';
/// Bytes of the stamp itself: marker, sender, sequence, time.
pub const STAMP_LEN: usize = 1 + 8 + 8 + 12;
/// Largest send time a stamp holds (48 bits of nanoseconds).
const TIME_MASK: u64 = (1 << 48) - 1;

/// What a receiver learns from one delivered bench message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub sender: u32,
    pub seq: u32,
    /// Nanoseconds since the run's epoch when the sender wrote it.
    pub sent_ns: u64,
}

/// Appends one message line (text padded to `size` bytes, then `\n`) to `out`.
///
/// `size` below [`STAMP_LEN`] is treated as `STAMP_LEN`: the stamp is never cut.
pub fn encode(out: &mut Vec<u8>, stamp: Stamp, size: usize) {
    let start = out.len();
    out.push(MARKER);
    put_hex(out, u64::from(stamp.sender), 8);
    put_hex(out, u64::from(stamp.seq), 8);
    put_hex(out, stamp.sent_ns & TIME_MASK, 12);
    let pad = size.saturating_sub(out.len() - start);
    out.resize(out.len() + pad, b'.');
    out.push(b'\n');
}

/// Appends one Redis `PUBLISH r<room> text` command (RESP), the text as [`encode`] makes it.
/// Written in place, like [`encode`]: no allocation per message.
pub fn encode_publish(out: &mut Vec<u8>, room: usize, stamp: Stamp, size: usize) {
    use std::io::Write;
    let len = size.max(STAMP_LEN);
    let channel_len = 2 + room.checked_ilog10().unwrap_or(0) as usize; // "r" and the digits
                                                                       // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "*3\r\n$7\r\nPUBLISH\r\n${channel_len}\r\nr{room}\r\n${len}\r\n"
    );
    encode(out, stamp, size);
    out.pop(); // encode's `\n`
    out.extend_from_slice(b"\r\n");
}

fn put_hex(out: &mut Vec<u8>, value: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(HEX[((value >> (i * 4)) & 0xf) as usize]);
    }
}

/// Finds the stamp in a delivered line (without its line ending).
///
/// The line must be a room message, `[HH:MM] nick: text`, whose text starts with a stamp. Anything
/// else (presence notices, replies, another client's chatter) is `None`. Nicknames cannot contain
/// `:` (PROTOCOL.md, login), so the first `:` after the time stamp ends the nick.
pub fn parse_delivery(line: &[u8]) -> Option<Stamp> {
    if line.len() < 10 + STAMP_LEN || line[0] != b'[' || line[6] != b']' || line[7] != b' ' {
        return None;
    }
    // A plain loop: nicknames are short, and a vector search's setup costs more than it saves.
    let colon = 8 + line[8..].iter().position(|&b| b == b':')?;
    match line.get(colon + 1..)? {
        [b' ', text @ ..] => parse_stamp(text),
        _ => None,
    }
}

/// Reads the stamp at the start of a message's text: a delivered line's text, or on its own line
/// the payload of a Redis pub/sub message.
pub fn parse_stamp(text: &[u8]) -> Option<Stamp> {
    let [MARKER, digits @ ..] = text.get(..STAMP_LEN)? else {
        return None;
    };
    let part = |at: usize| -> Option<u32> { hex8(digits[at..at + 8].try_into().ok()?) };
    // The 12 digits of the time are the 8 at 16 and the last 4 of the 8 at 20.
    let (time_high, time_low) = (part(16)?, part(20)?);
    Some(Stamp {
        sender: part(0)?,
        seq: part(8)?,
        sent_ns: u64::from(time_high) << 16 | u64::from(time_low & 0xffff),
    })
}

/// Eight lowercase hex digits, most significant first, or `None` if any byte is not one.
///
/// Parsed eight at a time in a `u64` (this runs for every delivered line, and a loop with a
/// branch per digit was a quarter of the bench's time at 9 M deliveries/s): each byte's nibble
/// is its low four bits, plus 9 for the letters (which have bit 6 set); the nibbles are then
/// folded pairwise into one number. A byte is valid exactly when its nibble is at most 15 and
/// writing the nibble back as a digit gives the byte again.
fn hex8(digits: &[u8; 8]) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let bytes = u64::from_le_bytes(*digits);
    let nibbles = (bytes & (0x0f * ONES)) + 9 * ((bytes >> 6) & ONES);
    let letters = ((nibbles + 6 * ONES) >> 4) & ONES; // nibble ≥ 10
    let written = nibbles + 0x30 * ONES + 0x27 * letters;
    if nibbles & (0xf0 * ONES) != 0 || written != bytes {
        return None;
    }
    // Little-endian load: the first (most significant) digit is the lowest byte.
    let pairs = (nibbles & (0x0f * 0x0001_0001_0001_0001)) << 4
        | (nibbles >> 8) & (0x0f * 0x0001_0001_0001_0001);
    let quads = (pairs & 0x0000_00ff_0000_00ff) << 8 | (pairs >> 16) & 0x0000_00ff_0000_00ff;
    let all = (quads & 0xffff) << 16 | (quads >> 32) & 0xffff;
    Some(all as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious parse, digit by digit, that [`hex8`] must agree with.
    fn hex8_by_digit(digits: &[u8; 8]) -> Option<u32> {
        digits.iter().try_fold(0u32, |value, &d| {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                _ => return None,
            };
            Some(value << 4 | u32::from(v))
        })
    }

    #[test]
    fn hex8_agrees_with_the_digit_by_digit_parse_for_every_byte_at_every_place() {
        for base in [*b"00000000", *b"0123abcd", *b"ffffffff", *b"9a8b7c6d"] {
            assert_eq!(hex8(&base), hex8_by_digit(&base));
            for place in 0..8 {
                for byte in 0..=255u8 {
                    let mut digits = base;
                    digits[place] = byte;
                    assert_eq!(hex8(&digits), hex8_by_digit(&digits), "{digits:?}");
                }
            }
        }
        assert_eq!(hex8(b"deadbeef"), Some(0xdead_beef));
        assert_eq!(
            hex8(b"DEADBEEF"),
            None,
            "upper case is not what the bench writes"
        );
    }

    fn delivered(nick: &str, sent: &[u8]) -> Vec<u8> {
        let mut line = format!("[12:34] {nick}: ").into_bytes();
        line.extend_from_slice(&sent[..sent.len() - 1]); // the server drops our `\n`
        line
    }

    #[test]
    fn round_trip_through_a_delivered_line() {
        let stamp = Stamp {
            sender: 0xdead_beef,
            seq: 7,
            sent_ns: 123_456_789_012,
        };
        let mut out = Vec::new();
        encode(&mut out, stamp, 64);
        assert_eq!(out.len(), 65);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(parse_delivery(&delivered("b3k7", &out)), Some(stamp));
    }

    #[test]
    fn a_small_size_never_cuts_the_stamp() {
        let stamp = Stamp {
            sender: 1,
            seq: 2,
            sent_ns: 3,
        };
        let mut out = Vec::new();
        encode(&mut out, stamp, 1);
        assert_eq!(out.len(), STAMP_LEN + 1);
        assert_eq!(parse_delivery(&delivered("x", &out)), Some(stamp));
    }

    #[test]
    fn appends_after_what_is_already_queued() {
        let mut out = b"partial".to_vec();
        let stamp = Stamp {
            sender: 9,
            seq: 9,
            sent_ns: 9,
        };
        encode(&mut out, stamp, 40);
        assert_eq!(&out[..7], b"partial");
        assert_eq!(out.len(), 7 + 41);
    }

    #[test]
    fn time_wraps_to_48_bits() {
        let mut out = Vec::new();
        let stamp = Stamp {
            sender: 0,
            seq: 0,
            sent_ns: u64::MAX,
        };
        encode(&mut out, stamp, 0);
        let got = parse_delivery(&delivered("n", &out)).unwrap();
        assert_eq!(got.sent_ns, (1 << 48) - 1);
    }

    #[test]
    fn other_lines_are_not_deliveries() {
        for line in [
            &b"[12:34] * alice joined"[..],
            b"-- Welcome, alice! You are in room lobby.",
            b"[12:34] alice: hello there, this is an ordinary line of chat",
            b"[12:34] alice: ~0000000g00000000000000000000 bad hex",
            b"[12:34] alice: ~00000001",
            b"",
            b"[12:34]",
        ] {
            assert_eq!(
                parse_delivery(line),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn a_publish_carries_the_same_text_as_a_bulk_string() {
        let stamp = Stamp {
            sender: 3,
            seq: 41,
            sent_ns: 5,
        };
        let mut line = Vec::new();
        encode(&mut line, stamp, 64);
        let mut out = Vec::new();
        encode_publish(&mut out, 0, stamp, 64);
        let text = &line[..line.len() - 1];
        let mut want = b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nr0\r\n$64\r\n".to_vec();
        want.extend_from_slice(text);
        want.extend_from_slice(b"\r\n");
        assert_eq!(out, want);
        // What a subscriber gets is that text on a line of its own.
        assert_eq!(parse_stamp(text), Some(stamp));
        assert_eq!(parse_stamp(b"message"), None);
        assert_eq!(parse_stamp(b"$64"), None);
        // The channel's length counts every digit of the room.
        let mut out = Vec::new();
        encode_publish(&mut out, 10, stamp, 64);
        assert!(out.starts_with(b"*3\r\n$7\r\nPUBLISH\r\n$3\r\nr10\r\n$64\r\n"));
    }

    #[test]
    fn a_korean_nick_is_fine() {
        let stamp = Stamp {
            sender: 4,
            seq: 5,
            sent_ns: 6,
        };
        let mut out = Vec::new();
        encode(&mut out, stamp, 64);
        assert_eq!(parse_delivery(&delivered("김철수", &out)), Some(stamp));
    }
}
