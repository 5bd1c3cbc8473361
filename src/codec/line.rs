//! The telnet-friendly line decoder: raw client bytes in, lines out (PROTOCOL.md, "Framing").
//!
//! Clients range from `nc` to a real telnet in line or character mode, so the decoder accepts every
//! line ending they produce (`\n`, `\r\n`, `\r\0`, bare `\r`), strips telnet negotiation, and applies
//! backspace/DEL the way a line-mode terminal would. It works byte by byte with all of its state in
//! the struct, so any split of the input across reads (one byte per read included) gives the same
//! lines as the whole input at once.
//!
//! Memory is bounded by the line cap: a line that grows past it is reported at once as
//! [`LineFrame::TooLong`] and the rest of it is read and thrown away, never buffered. Telnet
//! subnegotiation bytes are dropped as they arrive, so `IAC SB` cannot be used to grow a buffer
//! either. The partial-line buffer is allocated only when a line starts, so an idle connection holds
//! no heap memory here.

use super::{CodecError, Decoded};

/// Telnet "interpret as command": starts every telnet sequence.
const IAC: u8 = 255;
/// Telnet "subnegotiation end", valid only as `IAC SE`.
const SE: u8 = 240;
/// Telnet "subnegotiation begin": `IAC SB ... IAC SE`.
const SB: u8 = 250;
/// `IAC WILL/WONT/DO/DONT <option>` are three bytes long.
const WILL: u8 = 251;
const DONT: u8 = 254;
/// `IAC DO BINARY` (RFC 856): asks a telnet to send 8-bit data as it is. Without it common
/// telnets (Debian's inetutils `telnet`) compare input bytes with their high bit stripped
/// against the escape character `^]`, and UTF-8 text such as `을` (EC 9D 84) drops the user to
/// the `telnet>` prompt. Sent by the reactor only to a client whose line endings show it is a
/// telnet; what the telnet answers (`IAC WILL BINARY`) is stripped like any negotiation.
pub const TELNET_DO_BINARY: &[u8] = &[IAC, 253, 0];

/// The two bytes terminals send for "erase the last character".
const BACKSPACE: u8 = 0x08;
const DEL: u8 = 0x7f;

/// First capacity of the partial-line buffer: most chat lines fit, and it is capped by the line cap.
const INITIAL_CAPACITY: usize = 64;

/// One outcome of line decoding.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum LineFrame {
    /// A complete line without its ending; may be empty.
    Line(String),
    /// The line exceeded the cap. Reported as soon as the cap is crossed; the rest of that line,
    /// up to and including its ending, is discarded without producing another frame.
    TooLong,
    /// A complete line that is not valid UTF-8 (a literal `IAC IAC` byte 255 always lands here).
    /// `command`: its first word when that has a command's shape (ASCII letters and a space,
    /// after an IRC line's tags and source), for a refusal that names it (IRC's `FAIL PRIVMSG
    /// INVALID_UTF8`).
    InvalidUtf8 { command: Option<Box<str>> },
}

/// Where the decoder is inside a telnet command sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Telnet {
    /// Ordinary data.
    Data,
    /// Just read `IAC`.
    Iac,
    /// Read `IAC WILL/WONT/DO/DONT`; the next byte is the option code.
    Option,
    /// Inside `IAC SB ...`; bytes are dropped until `IAC SE`.
    Sub,
    /// Read `IAC` inside a subnegotiation.
    SubIac,
}

/// Incremental, sans-IO line decoder with a per-line byte cap.
#[derive(Debug)]
pub struct LineDecoder {
    /// The line being typed, without telnet sequences and with erasures applied.
    buf: Vec<u8>,
    /// Most bytes a line may hold, excluding its ending.
    max_line: usize,
    telnet: Telnet,
    /// The last data byte was a `\r` that ended a line, so a `\n` or `\0` right after it belongs to
    /// the same ending. Kept across calls because the ending may be split across reads.
    after_cr: bool,
    /// Throwing away the rest of an overlong line, up to its ending.
    discarding: bool,
}

impl LineDecoder {
    /// A decoder for lines of at most `max_line` bytes. Allocates nothing.
    #[must_use]
    pub fn new(max_line: usize) -> Self {
        LineDecoder {
            buf: Vec::new(),
            max_line,
            telnet: Telnet::Data,
            after_cr: false,
            discarding: false,
        }
    }

    /// Changes the line cap for bytes decoded from now on (the cap is raised after login).
    ///
    /// A partial line already longer than a lowered cap is reported as [`LineFrame::TooLong`] when
    /// its next byte or its ending arrives.
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line;
    }

    /// Decodes from `src` until one frame is complete or `src` runs out.
    ///
    /// On `Frame { consumed, .. }` the first `consumed` bytes of `src` (line ending included) were
    /// used; call again with the rest. On `Incomplete` all of `src` was used and any partial line is
    /// kept.
    ///
    /// # Errors
    ///
    /// None: every input is some sequence of lines. The `Result` is the shape all decoders share.
    pub fn decode(&mut self, src: &[u8]) -> Result<Decoded<LineFrame>, CodecError> {
        for (i, &byte) in src.iter().enumerate() {
            let Some(data) = self.telnet_filter(byte) else {
                continue;
            };
            if let Some(frame) = self.data_byte(data) {
                return Ok(Decoded::Frame {
                    frame,
                    consumed: i + 1,
                });
            }
        }
        Ok(Decoded::Incomplete)
    }

    /// Whether the last line ended with a bare `\r` whose possible `\n` or `\0` has not arrived
    /// yet. A decoder that takes over the stream after that line (a file upload) must skip it.
    #[must_use]
    pub fn after_cr(&self) -> bool {
        self.after_cr
    }

    /// Bytes of the partial line held, for memory accounting. Never more than the cap.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Releases the partial-line buffer's memory if no partial line is held, so a connection that
    /// goes idle costs nothing here.
    pub fn shrink(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
    }

    /// Runs one byte through the telnet state machine; returns it if it is line data.
    fn telnet_filter(&mut self, byte: u8) -> Option<u8> {
        match self.telnet {
            Telnet::Data => {
                if byte == IAC {
                    self.telnet = Telnet::Iac;
                    None
                } else {
                    Some(byte)
                }
            }
            Telnet::Iac => self.telnet_command(byte),
            Telnet::Option => {
                self.telnet = Telnet::Data;
                None
            }
            Telnet::Sub => {
                if byte == IAC {
                    self.telnet = Telnet::SubIac;
                }
                None
            }
            Telnet::SubIac => match byte {
                SE => {
                    self.telnet = Telnet::Data;
                    None
                }
                // An escaped 255 inside the subnegotiation: still part of it.
                IAC => {
                    self.telnet = Telnet::Sub;
                    None
                }
                // A malformed subnegotiation: end it and read the byte as an ordinary command, so a
                // client with a broken telnet stack is not silenced for the rest of the connection.
                _ => self.telnet_command(byte),
            },
        }
    }

    /// Handles the byte after an `IAC`.
    fn telnet_command(&mut self, byte: u8) -> Option<u8> {
        self.telnet = Telnet::Data;
        match byte {
            IAC => Some(IAC),
            WILL..=DONT => {
                self.telnet = Telnet::Option;
                None
            }
            SB => {
                self.telnet = Telnet::Sub;
                None
            }
            // Every other two-byte command (NOP, GA, AYT, a stray SE, ...) carries nothing for us.
            _ => None,
        }
    }

    /// Applies one data byte (telnet already stripped); returns a frame if it completes one.
    fn data_byte(&mut self, byte: u8) -> Option<LineFrame> {
        let after_cr = std::mem::replace(&mut self.after_cr, false);
        match byte {
            b'\n' | b'\0' if after_cr => None,
            b'\r' | b'\n' => {
                self.after_cr = byte == b'\r';
                self.end_line()
            }
            _ if self.discarding => None,
            BACKSPACE | DEL => {
                self.erase_char();
                None
            }
            _ => self.push(byte),
        }
    }

    fn end_line(&mut self) -> Option<LineFrame> {
        if std::mem::replace(&mut self.discarding, false) {
            // The overlong line was already reported when it crossed the cap.
            return None;
        }
        // Taking the buffer leaves no capacity behind on a connection that may now sit idle.
        let line = std::mem::take(&mut self.buf);
        if line.len() > self.max_line {
            // Only after the cap was lowered mid-line.
            return Some(LineFrame::TooLong);
        }
        Some(match String::from_utf8(line) {
            Ok(text) => LineFrame::Line(text),
            Err(e) => LineFrame::InvalidUtf8 {
                command: command_word(e.as_bytes()),
            },
        })
    }

    fn push(&mut self, byte: u8) -> Option<LineFrame> {
        if self.buf.len() >= self.max_line {
            self.buf = Vec::new();
            self.discarding = true;
            return Some(LineFrame::TooLong);
        }
        if self.buf.len() == self.buf.capacity() {
            // Grow by doubling, but never past the cap, so a line at the cap costs the cap and not
            // up to twice it.
            let capacity = self.buf.capacity();
            let target = if capacity == 0 {
                INITIAL_CAPACITY
            } else {
                capacity.saturating_mul(2)
            }
            .min(self.max_line);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.push(byte);
        None
    }

    /// Removes the last whole UTF-8 character: its continuation bytes, then its lead byte.
    fn erase_char(&mut self) {
        let mut continuations = 0;
        while continuations < 3 && matches!(self.buf.last(), Some(0x80..=0xBF)) {
            self.buf.pop();
            continuations += 1;
        }
        match self.buf.last() {
            // The lead byte of the character whose continuation bytes were just removed.
            Some(0xC0..=0xFF) if continuations > 0 => {
                self.buf.pop();
            }
            // A single-byte character (or a stray lead byte) when nothing was removed yet.
            Some(_) if continuations == 0 => {
                self.buf.pop();
            }
            // Stray continuation bytes alone were the "character".
            _ => {}
        }
    }
}

/// The first word of `line` when it has a command's shape: ASCII letters followed by a space,
/// after IRC's `@tags` and `:source` if the line has them.
fn command_word(line: &[u8]) -> Option<Box<str>> {
    let mut rest = line;
    for mark in [b'@', b':'] {
        if rest.first() == Some(&mark) {
            let space = rest.iter().position(|&b| b == b' ')?;
            rest = &rest[space + 1..];
        }
    }
    let end = rest.iter().position(|b| !b.is_ascii_alphabetic())?;
    if end == 0 || end > 32 || rest[end] != b' ' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok().map(Box::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> LineFrame {
        LineFrame::Line(text.to_string())
    }

    /// Feeds one chunk, collecting every frame, and checks the decoder's invariants after each call.
    fn feed(dec: &mut LineDecoder, chunk: &[u8], max_line: usize, out: &mut Vec<LineFrame>) {
        let mut rest = chunk;
        loop {
            let outcome = dec.decode(rest).expect("line decoding never fails");
            assert!(dec.buffered() <= max_line, "buffered beyond the cap");
            match outcome {
                Decoded::Incomplete => break,
                Decoded::Frame { frame, consumed } => {
                    assert!(consumed >= 1 && consumed <= rest.len(), "bad consumed");
                    out.push(frame);
                    rest = &rest[consumed..];
                }
            }
        }
    }

    /// Decodes `chunks` in order with a fresh decoder.
    fn decode_chunks(max_line: usize, chunks: &[&[u8]]) -> Vec<LineFrame> {
        let mut dec = LineDecoder::new(max_line);
        let mut out = Vec::new();
        for chunk in chunks {
            feed(&mut dec, chunk, max_line, &mut out);
        }
        out
    }

    fn decode_whole(max_line: usize, input: &[u8]) -> Vec<LineFrame> {
        decode_chunks(max_line, &[input])
    }

    fn decode_bytewise(max_line: usize, input: &[u8]) -> Vec<LineFrame> {
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        decode_chunks(max_line, &chunks)
    }

    /// (cap, input) pairs covering every rule; the split tests run over all of them.
    fn samples() -> Vec<(usize, Vec<u8>)> {
        vec![
            (64, b"hello\r\nworld\nfoo\rbar\r\0baz\r\nqux\n".to_vec()),
            (64, "안녕하세요\r\n김철수\n반가워요\r".as_bytes().to_vec()),
            (
                64,
                b"a\xff\xfb\x01b\xff\xfd\x03c\xff\xf1d\r\nx\xff\xfa\x18\x01\xff\xff\n\xff\xf0y\n"
                    .to_vec(),
            ),
            (64, b"q\xff\xffr\nok\n".to_vec()),
            (
                64,
                "abc\x08\x08d\n가나\x7f다\n\x08\x08x\n".as_bytes().to_vec(),
            ),
            (16, b"0123456789abcdefXYZ\r\nok\n".to_vec()),
            (16, b"0123456789abcdefg\xff\xfb\nstill\nok\n".to_vec()),
            (64, b"\xc3\x28\nfine\n".to_vec()),
            (64, b"one\r\ntwo\r\r\n\n\r\0three\n".to_vec()),
            (8, "가나다\n가나\x08다\r\n".as_bytes().to_vec()),
        ]
    }

    #[test]
    fn every_two_way_split_matches_whole_input() {
        for (max, input) in samples() {
            let whole = decode_whole(max, &input);
            for i in 0..=input.len() {
                let (a, b) = input.split_at(i);
                assert_eq!(
                    decode_chunks(max, &[a, b]),
                    whole,
                    "split at {i} of {input:?}"
                );
            }
        }
    }

    #[test]
    fn every_three_way_split_matches_whole_input() {
        for (max, input) in samples() {
            let whole = decode_whole(max, &input);
            for i in 0..=input.len() {
                for j in i..=input.len() {
                    let chunks = [&input[..i], &input[i..j], &input[j..]];
                    assert_eq!(decode_chunks(max, &chunks), whole, "split at {i},{j}");
                }
            }
        }
    }

    #[test]
    fn one_byte_at_a_time_matches_whole_input() {
        for (max, input) in samples() {
            assert_eq!(decode_bytewise(max, &input), decode_whole(max, &input));
        }
    }

    #[test]
    fn every_line_ending_ends_one_line() {
        assert_eq!(
            decode_whole(64, b"a\nb\r\nc\r\0d\re\n"),
            vec![line("a"), line("b"), line("c"), line("d"), line("e")]
        );
    }

    #[test]
    fn cr_split_from_its_lf_is_one_ending() {
        assert_eq!(
            decode_chunks(64, &[b"one\r", b"\ntwo\n"]),
            vec![line("one"), line("two")]
        );
        assert_eq!(
            decode_chunks(64, &[b"one\r", b"\0two\r", b"", b"\n"]),
            vec![line("one"), line("two")]
        );
    }

    #[test]
    fn only_one_lf_or_nul_after_cr_is_swallowed() {
        assert_eq!(
            decode_whole(64, b"a\r\n\nb\r\0\0c\n"),
            vec![line("a"), line(""), line("b"), line("\0c")]
        );
    }

    #[test]
    fn empty_lines_are_returned_empty() {
        assert_eq!(
            decode_whole(64, b"\n\r\n\r\r\n"),
            vec![line(""), line(""), line(""), line("")]
        );
    }

    #[test]
    fn korean_text_decodes() {
        assert_eq!(
            decode_whole(64, "안녕하세요, 김철수입니다\r\n".as_bytes()),
            vec![line("안녕하세요, 김철수입니다")]
        );
    }

    #[test]
    fn consumed_counts_the_ending_and_incomplete_keeps_the_rest() {
        let mut dec = LineDecoder::new(64);
        assert_eq!(
            dec.decode(b"ab\r\ncd").unwrap(),
            Decoded::Frame {
                frame: line("ab"),
                consumed: 3
            }
        );
        // The `\n` of the ending is swallowed at the start of the next call.
        assert_eq!(dec.decode(b"\ncd").unwrap(), Decoded::Incomplete);
        assert_eq!(dec.buffered(), 2);
        assert_eq!(dec.decode(b"").unwrap(), Decoded::Incomplete);
        assert_eq!(
            dec.decode(b"\n").unwrap(),
            Decoded::Frame {
                frame: line("cd"),
                consumed: 1
            }
        );
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn telnet_option_negotiation_is_stripped() {
        // WILL, WONT, DO, DONT each take one option byte, even one that looks like a line ending.
        assert_eq!(
            decode_whole(64, b"a\xff\xfb\x01b\xff\xfc\nc\xff\xfd\rd\xff\xfe\xffe\n"),
            vec![line("abcde")]
        );
    }

    #[test]
    fn telnet_two_byte_commands_are_stripped() {
        // NOP, AYT, GA and a stray SE.
        assert_eq!(
            decode_whole(64, b"a\xff\xf1b\xff\xf6c\xff\xf9d\xff\xf0e\n"),
            vec![line("abcde")]
        );
    }

    #[test]
    fn telnet_subnegotiation_is_dropped_with_escaped_iac_inside() {
        // NAWS-like payload containing an escaped 255 and a newline that must not end the line.
        assert_eq!(
            decode_whole(64, b"x\xff\xfa\x1f\x00\xff\xff\x00\n\r\xff\xf0y\n"),
            vec![line("xy")]
        );
    }

    #[test]
    fn malformed_subnegotiation_ends_at_the_next_command() {
        // `IAC NOP` inside SB ends it instead of silencing the connection.
        assert_eq!(
            decode_whole(64, b"x\xff\xfa\x18junk\xff\xf1y\n"),
            vec![line("xy")]
        );
        // `IAC WILL` inside SB ends it and still takes its option byte.
        assert_eq!(
            decode_whole(64, b"x\xff\xfajunk\xff\xfb\x01y\n"),
            vec![line("xy")]
        );
    }

    #[test]
    fn subnegotiation_bytes_are_not_buffered() {
        let mut dec = LineDecoder::new(16);
        let mut input = b"ab\xff\xfa".to_vec();
        input.extend_from_slice(&[b'z'; 10_000]);
        assert_eq!(dec.decode(&input).unwrap(), Decoded::Incomplete);
        assert_eq!(dec.buffered(), 2);
        assert_eq!(
            dec.decode(b"\xff\xf0c\n").unwrap(),
            Decoded::Frame {
                frame: line("abc"),
                consumed: 4
            }
        );
    }

    #[test]
    fn iac_iac_is_a_literal_255_and_makes_the_line_invalid() {
        assert_eq!(
            decode_whole(64, b"a\xff\xffb\nok\n"),
            vec![LineFrame::InvalidUtf8 { command: None }, line("ok")]
        );
        // Erasing the literal byte makes the line valid again.
        assert_eq!(decode_whole(64, b"a\xff\xff\x08b\n"), vec![line("ab")]);
    }

    #[test]
    fn backspace_and_del_erase_whole_characters() {
        assert_eq!(decode_whole(64, b"abc\x08\x08d\n"), vec![line("ad")]);
        assert_eq!(
            decode_whole(64, "김철수\x7f\x7f영희\n".as_bytes()),
            vec![line("김영희")]
        );
        // A four-byte character.
        assert_eq!(decode_whole(64, "a😀\x08b\n".as_bytes()), vec![line("ab")]);
        assert_eq!(decode_whole(64, "é\x08e\n".as_bytes()), vec![line("e")]);
    }

    #[test]
    fn backspace_on_an_empty_line_does_nothing() {
        assert_eq!(
            decode_whole(64, b"\x08\x7f\x08x\n\x08\n"),
            vec![line("x"), line("")]
        );
    }

    #[test]
    fn backspace_on_invalid_bytes_erases_only_the_garbage() {
        // Stray continuation bytes after an ASCII char: the ASCII char survives.
        assert_eq!(decode_whole(64, b"a\x80\x80\x08\n"), vec![line("a")]);
        // A stray lead byte alone.
        assert_eq!(decode_whole(64, b"a\xe0\x08\n"), vec![line("a")]);
    }

    #[test]
    fn other_control_bytes_pass_through() {
        assert_eq!(
            decode_whole(64, b"a\x1b[31mb\x00c\x07\td\n"),
            vec![line("a\x1b[31mb\0c\x07\td")]
        );
    }

    #[test]
    fn invalid_utf8_line_is_reported_and_the_next_line_decodes() {
        assert_eq!(
            decode_whole(64, b"\xc3\x28\n\xed\xa0\x80\nfine\n"),
            vec![
                LineFrame::InvalidUtf8 { command: None },
                LineFrame::InvalidUtf8 { command: None },
                line("fine")
            ]
        );
        let invalid = |command: &str| LineFrame::InvalidUtf8 {
            command: Some(command.into()),
        };
        assert_eq!(
            decode_whole(64, b"PRIVMSG #a :caf\xe9\n@t=1 :a!b@c NOTICE x :\xe9\n"),
            vec![invalid("PRIVMSG"), invalid("NOTICE")]
        );
    }

    #[test]
    fn line_exactly_at_the_cap_is_accepted() {
        assert_eq!(decode_whole(8, b"12345678\r\n"), vec![line("12345678")]);
    }

    #[test]
    fn too_long_is_reported_on_the_byte_that_crosses_the_cap() {
        let mut dec = LineDecoder::new(8);
        assert_eq!(
            dec.decode(b"123456789abc\r\nok\n").unwrap(),
            Decoded::Frame {
                frame: LineFrame::TooLong,
                consumed: 9
            }
        );
        assert_eq!(dec.buffered(), 0);
        // The tail and its ending produce nothing; the next line is normal.
        assert_eq!(
            dec.decode(b"abc\r\nok\n").unwrap(),
            Decoded::Frame {
                frame: line("ok"),
                consumed: 8
            }
        );
    }

    #[test]
    fn overlong_tail_is_discarded_across_calls_without_buffering() {
        let mut dec = LineDecoder::new(8);
        let mut frames = Vec::new();
        feed(&mut dec, b"0123456789", 8, &mut frames);
        for _ in 0..1000 {
            feed(
                &mut dec,
                b"more bytes of the same overlong line",
                8,
                &mut frames,
            );
            assert_eq!(dec.buffered(), 0);
        }
        feed(&mut dec, b"\r", 8, &mut frames);
        feed(&mut dec, b"\nnext\n", 8, &mut frames);
        assert_eq!(frames, vec![LineFrame::TooLong, line("next")]);
    }

    #[test]
    fn iac_cannot_forge_or_hide_a_newline_while_discarding() {
        // `IAC WILL \n`: the `\n` is an option byte, so discarding goes on through "still".
        assert_eq!(
            decode_whole(4, b"12345\xff\xfb\nstill\nok\n"),
            vec![LineFrame::TooLong, line("ok")]
        );
        // A newline inside a subnegotiation does not end discarding either.
        assert_eq!(
            decode_whole(4, b"12345\xff\xfa\n\xff\xf0still\nok\n"),
            vec![LineFrame::TooLong, line("ok")]
        );
    }

    #[test]
    fn backspace_cannot_rescue_an_overlong_line() {
        assert_eq!(
            decode_whole(4, b"12345\x08\x08\x08\nok\n"),
            vec![LineFrame::TooLong, line("ok")]
        );
    }

    #[test]
    fn zero_cap_refuses_every_non_empty_line() {
        assert_eq!(
            decode_whole(0, b"a\n\nbc\n"),
            vec![LineFrame::TooLong, line(""), LineFrame::TooLong]
        );
    }

    #[test]
    fn raising_the_cap_mid_line_keeps_the_partial_line() {
        let mut dec = LineDecoder::new(4);
        assert_eq!(dec.decode(b"abc").unwrap(), Decoded::Incomplete);
        dec.set_max_line(16);
        assert_eq!(
            dec.decode(b"defgh\n").unwrap(),
            Decoded::Frame {
                frame: line("abcdefgh"),
                consumed: 6
            }
        );
    }

    #[test]
    fn lowering_the_cap_below_a_partial_line_reports_too_long() {
        let mut dec = LineDecoder::new(16);
        assert_eq!(dec.decode(b"abcdef").unwrap(), Decoded::Incomplete);
        dec.set_max_line(4);
        assert_eq!(
            dec.decode(b"\nok\n").unwrap(),
            Decoded::Frame {
                frame: LineFrame::TooLong,
                consumed: 1
            }
        );
    }

    #[test]
    fn idle_decoder_holds_no_heap_memory() {
        let mut dec = LineDecoder::new(4096);
        assert_eq!(dec.buf.capacity(), 0);
        feed(&mut dec, b"hello\n", 4096, &mut Vec::new());
        assert_eq!(
            dec.buf.capacity(),
            0,
            "a handed-off line leaves nothing behind"
        );
        feed(&mut dec, b"partial", 4096, &mut Vec::new());
        assert!(dec.buf.capacity() > 0);
        dec.shrink();
        assert!(dec.buf.capacity() > 0, "shrink keeps a partial line");
        feed(
            &mut dec,
            b"\x08\x08\x08\x08\x08\x08\x08",
            4096,
            &mut Vec::new(),
        );
        assert_eq!(dec.buffered(), 0);
        dec.shrink();
        assert_eq!(dec.buf.capacity(), 0);
    }

    #[test]
    fn buffer_capacity_never_exceeds_the_cap() {
        for max in [1, 5, 63, 64, 65, 100, 256, 300] {
            let mut dec = LineDecoder::new(max);
            let input = vec![b'x'; max];
            assert_eq!(dec.decode(&input).unwrap(), Decoded::Incomplete);
            assert_eq!(dec.buffered(), max);
            assert!(
                dec.buf.capacity() <= max,
                "cap {max}: {}",
                dec.buf.capacity()
            );
        }
    }

    /// xorshift64*: a small deterministic generator so failures reproduce without extra crates.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Bytes weighted towards the ones the decoder treats specially.
    fn random_soup(rng: &mut Rng, len: usize) -> Vec<u8> {
        const INTERESTING: &[u8] = &[
            b'\r', b'\n', 0, IAC, SB, SE, WILL, 253, 241, BACKSPACE, DEL, b'a', b'b', 0xEA, 0xB0,
            0x80, 0xC3, 0xA9,
        ];
        (0..len)
            .map(|_| {
                if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    INTERESTING[rng.below(INTERESTING.len())]
                }
            })
            .collect()
    }

    #[test]
    fn random_soups_decode_the_same_under_random_splits() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..2000 {
            let max = rng.below(24);
            let len = rng.below(160);
            let input = random_soup(&mut rng, len);
            let whole = decode_whole(max, &input);

            let mut chunks = Vec::new();
            let mut start = 0;
            while start < input.len() {
                let end = (start + rng.below(8)).min(input.len());
                chunks.push(&input[start..end]);
                start = end;
            }
            assert_eq!(
                decode_chunks(max, &chunks),
                whole,
                "case {case}: cap {max}, input {input:?}, chunks {chunks:?}"
            );
            assert_eq!(decode_bytewise(max, &input), whole, "case {case}");
            for frame in &whole {
                if let LineFrame::Line(text) = frame {
                    assert!(text.len() <= max, "case {case}: line over the cap");
                }
            }
        }
    }
}
