//! WebSocket frames (RFC 6455), server side: an incremental decoder of client frames and the
//! encoders of server frames.
//!
//! The decoder takes bytes as they arrive and yields whole *messages*: fragments are reassembled,
//! control frames (ping, pong, close) may arrive between fragments and are yielded on their own.
//! Text is checked to be UTF-8 as its payload arrives, not once the message is complete: the
//! bytes that make it impossible for the text to be UTF-8 fail the connection with 1007 in the
//! fragment that carries them (RFC 6455 §8.1), and a final fragment that ends inside a character
//! fails it too. Every limit is checked on the frame header, before its payload is read: a message
//! may not grow past `max_message` bytes, so no input makes the decoder buffer without bound.
//! Client frames must be masked and use no extensions; anything else is a protocol error that
//! carries the close code to answer with.
//!
//! Server frames are never masked, so an encoded frame can be shared by every recipient.

use bytes::{BufMut, Bytes, BytesMut};

use super::{CodecError, Decoded};

/// The GUID a server appends to the client's key to prove it speaks WebSocket (RFC 6455 §1.3).
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Close codes used here (RFC 6455 §7.4.1).
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INVALID_DATA: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
}

/// Frame opcodes.
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// Longest control frame payload (RFC 6455 §5.5).
const MAX_CONTROL: usize = 125;

/// One complete message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    /// The client's close frame: its code (absent if the frame had no payload) and reason.
    Close {
        code: Option<u16>,
        reason: String,
    },
}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
pub fn accept_key(client_key: &str) -> String {
    use base64::Engine as _;
    use sha1::{Digest, Sha1};
    let mut sha = Sha1::new();
    sha.update(client_key.trim().as_bytes());
    sha.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The frame being read.
#[derive(Debug, Clone, Copy)]
struct FrameHead {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    len: u64,
}

/// A data message being assembled from its fragments.
#[derive(Debug)]
struct Assembly {
    opcode: u8,
    bytes: BytesMut,
    /// For text, how much of `bytes` is known to be whole UTF-8 characters. What follows it (at
    /// most three bytes) is the start of a character whose other bytes have not arrived: each new
    /// chunk is checked from here, so checking costs the chunk plus at most three bytes.
    utf8_checked: usize,
}

impl Assembly {
    fn new(opcode: u8) -> Self {
        Assembly {
            opcode,
            bytes: BytesMut::new(),
            utf8_checked: 0,
        }
    }

    /// Checks the text bytes that arrived since the last check: the text fails once its bytes
    /// cannot be the start of UTF-8 (an invalid or overlong sequence, a surrogate, a code point
    /// past U+10FFFF), which `Utf8Error::error_len` tells apart from a character cut short by the
    /// end of what has arrived.
    fn check_utf8(&mut self) -> Result<(), CodecError> {
        match std::str::from_utf8(&self.bytes[self.utf8_checked..]) {
            Ok(_) => self.utf8_checked = self.bytes.len(),
            Err(e) if e.error_len().is_none() => self.utf8_checked += e.valid_up_to(),
            Err(_) => return Err(ws_error(close_code::INVALID_DATA, "text is not UTF-8")),
        }
        Ok(())
    }
}

/// Incremental, sans-IO decoder of client frames into messages.
#[derive(Debug)]
pub struct WsDecoder {
    max_message: usize,
    /// Header bytes of the frame being read (at most 2 + 8 + 4).
    head: [u8; 14],
    head_len: usize,
    /// The frame whose payload is being read, and how much of it has been read.
    frame: Option<FrameHead>,
    got: u64,
    /// The data message being assembled from fragments.
    message: Option<Assembly>,
    /// The payload of the control frame being read.
    control: BytesMut,
}

impl WsDecoder {
    /// A decoder for messages of at most `max_message` bytes. Allocates nothing until data comes.
    #[must_use]
    pub fn new(max_message: usize) -> Self {
        WsDecoder {
            max_message,
            head: [0; 14],
            head_len: 0,
            frame: None,
            got: 0,
            message: None,
            control: BytesMut::new(),
        }
    }

    /// Bytes of a partial message held.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.message.as_ref().map_or(0, |m| m.bytes.len()) + self.control.len()
    }

    /// Decodes from `src` until one message is complete or `src` runs out.
    ///
    /// # Errors
    ///
    /// [`CodecError::WebSocket`] with the close code to send, for an unmasked frame, reserved bits
    /// or opcodes, a bad fragment sequence, an oversize or fragmented control frame, a message
    /// over `max_message`, or text that is not UTF-8 (as soon as the bytes that break it arrive).
    /// The connection cannot continue after one.
    pub fn decode(&mut self, src: &[u8]) -> Result<Decoded<WsMessage>, CodecError> {
        let mut pos = 0;
        loop {
            let Some(head) = self.frame else {
                // Reading a header. Nothing left: wait for more.
                if pos == src.len() {
                    return Ok(Decoded::Incomplete);
                }
                pos += self.read_head(&src[pos..])?;
                continue;
            };
            let want = head.len - self.got;
            let take = usize::try_from(want)
                .unwrap_or(usize::MAX)
                .min(src.len() - pos);
            self.take_payload(&head, &src[pos..pos + take])?;
            pos += take;
            if self.got < head.len {
                return Ok(Decoded::Incomplete);
            }
            self.frame = None;
            if let Some(message) = self.finish_frame(&head)? {
                return Ok(Decoded::Frame {
                    frame: message,
                    consumed: pos,
                });
            }
        }
    }

    /// Takes header bytes from `src`; returns how many. Sets `self.frame` once the header is whole.
    fn read_head(&mut self, src: &[u8]) -> Result<usize, CodecError> {
        let mut used = 0;
        for &byte in src {
            self.head[self.head_len] = byte;
            self.head_len += 1;
            used += 1;
            if self.head_len >= 2 && self.head_len == self.head_size() {
                let head = self.parse_head()?;
                self.head_len = 0;
                self.frame = Some(head);
                self.got = 0;
                break;
            }
        }
        Ok(used)
    }

    /// The full header size, known from its first two bytes.
    fn head_size(&self) -> usize {
        let ext = match self.head[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.head[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    fn parse_head(&mut self) -> Result<FrameHead, CodecError> {
        let (b0, b1) = (self.head[0], self.head[1]);
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0f;
        if b0 & 0x70 != 0 {
            return Err(ws_error(close_code::PROTOCOL_ERROR, "reserved bits set"));
        }
        if b1 & 0x80 == 0 {
            return Err(ws_error(
                close_code::PROTOCOL_ERROR,
                "client frames must be masked",
            ));
        }
        let (len, mask_at) = match b1 & 0x7f {
            126 => (
                u64::from(u16::from_be_bytes([self.head[2], self.head[3]])),
                4,
            ),
            127 => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&self.head[2..10]);
                (u64::from_be_bytes(raw), 10)
            }
            n => (u64::from(n), 2),
        };
        let mut mask = [0u8; 4];
        mask.copy_from_slice(&self.head[mask_at..mask_at + 4]);
        match opcode {
            CLOSE | PING | PONG => {
                if !fin {
                    return Err(ws_error(
                        close_code::PROTOCOL_ERROR,
                        "fragmented control frame",
                    ));
                }
                if len > MAX_CONTROL as u64 {
                    return Err(ws_error(
                        close_code::PROTOCOL_ERROR,
                        "control frame too long",
                    ));
                }
                self.control.clear();
            }
            TEXT | BINARY => {
                if self.message.is_some() {
                    return Err(ws_error(
                        close_code::PROTOCOL_ERROR,
                        "a new message started before the last one ended",
                    ));
                }
                self.check_size(0, len)?;
                self.message = Some(Assembly::new(opcode));
            }
            CONTINUATION => {
                let Some(so_far) = &self.message else {
                    return Err(ws_error(
                        close_code::PROTOCOL_ERROR,
                        "continuation without a message",
                    ));
                };
                self.check_size(so_far.bytes.len(), len)?;
            }
            _ => return Err(ws_error(close_code::PROTOCOL_ERROR, "unknown opcode")),
        }
        Ok(FrameHead {
            fin,
            opcode,
            mask,
            len,
        })
    }

    /// A message may not pass `max_message`: checked on each header, before its payload. The sum
    /// saturates: a 64-bit length near `u64::MAX` must not wrap it back under the limit.
    fn check_size(&self, so_far: usize, more: u64) -> Result<(), CodecError> {
        if (so_far as u64).saturating_add(more) > self.max_message as u64 {
            return Err(ws_error(close_code::TOO_BIG, "message too big"));
        }
        Ok(())
    }

    /// Unmasks and keeps a chunk of the frame's payload; text is checked as each chunk arrives.
    fn take_payload(&mut self, head: &FrameHead, bytes: &[u8]) -> Result<(), CodecError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let offset = (self.got % 4) as usize;
        self.got += bytes.len() as u64;
        match head.opcode {
            CLOSE | PING | PONG => unmask_onto(&mut self.control, bytes, head.mask, offset),
            _ => {
                // The header check opened the message, so it is there.
                let Some(message) = &mut self.message else {
                    return Ok(());
                };
                unmask_onto(&mut message.bytes, bytes, head.mask, offset);
                if message.opcode == TEXT {
                    message.check_utf8()?;
                }
            }
        }
        Ok(())
    }

    /// A frame's payload is complete: a control message, the end of a data message, or nothing
    /// yet (a fragment).
    fn finish_frame(&mut self, head: &FrameHead) -> Result<Option<WsMessage>, CodecError> {
        match head.opcode {
            PING => Ok(Some(WsMessage::Ping(self.control.split().freeze()))),
            PONG => Ok(Some(WsMessage::Pong(self.control.split().freeze()))),
            CLOSE => {
                let payload = self.control.split();
                match payload.len() {
                    0 => Ok(Some(WsMessage::Close {
                        code: None,
                        reason: String::new(),
                    })),
                    1 => Err(ws_error(
                        close_code::PROTOCOL_ERROR,
                        "one-byte close payload",
                    )),
                    _ => {
                        let code = u16::from_be_bytes([payload[0], payload[1]]);
                        if !valid_close_code(code) {
                            return Err(ws_error(close_code::PROTOCOL_ERROR, "invalid close code"));
                        }
                        let reason = String::from_utf8(payload[2..].to_vec()).map_err(|_| {
                            ws_error(close_code::INVALID_DATA, "close reason is not UTF-8")
                        })?;
                        Ok(Some(WsMessage::Close {
                            code: Some(code),
                            reason,
                        }))
                    }
                }
            }
            _ if !head.fin => Ok(None),
            _ => {
                let Some(message) = self.message.take() else {
                    return Ok(None);
                };
                if message.opcode == TEXT {
                    if message.utf8_checked < message.bytes.len() {
                        return Err(ws_error(
                            close_code::INVALID_DATA,
                            "text ends inside a UTF-8 character",
                        ));
                    }
                    // Checked as it arrived; `String::from_utf8` checks once more rather than
                    // trusting that with `unsafe`.
                    let text = String::from_utf8(message.bytes.to_vec())
                        .map_err(|_| ws_error(close_code::INVALID_DATA, "text is not UTF-8"))?;
                    Ok(Some(WsMessage::Text(text)))
                } else {
                    Ok(Some(WsMessage::Binary(message.bytes.freeze())))
                }
            }
        }
    }
}

/// Appends `bytes` to `target`, unmasked; `offset` is where in the frame's payload they start.
fn unmask_onto(target: &mut BytesMut, bytes: &[u8], mask: [u8; 4], offset: usize) {
    let start = target.len();
    target.extend_from_slice(bytes);
    for (i, b) in target[start..].iter_mut().enumerate() {
        *b ^= mask[(offset + i) % 4];
    }
}

/// Close codes a peer may send (RFC 6455 §7.4).
fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

fn ws_error(close_code: u16, why: &'static str) -> CodecError {
    CodecError::WebSocket { close_code, why }
}

/// Appends a server frame (FIN set, unmasked) with `opcode` and `payload`.
fn encode(opcode: u8, payload: &[u8], buf: &mut BytesMut) {
    buf.reserve(payload.len() + 10);
    encode_head(opcode, payload.len(), buf);
    buf.put_slice(payload);
}

/// Appends a frame head (FIN set, unmasked) for `len` payload bytes, in the shortest length form.
fn encode_head(opcode: u8, len: usize, buf: &mut BytesMut) {
    put_head(buf, 0x80 | opcode, false, len);
}

/// Appends a frame's first byte, then its mask bit and payload length in the shortest form.
fn put_head(buf: &mut impl BufMut, first: u8, masked: bool, len: usize) {
    let mask_bit = if masked { 0x80 } else { 0 };
    buf.put_u8(first);
    match len {
        n if n < 126 => buf.put_u8(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            buf.put_u8(mask_bit | 126);
            buf.put_u16(n as u16);
        }
        n => {
            buf.put_u8(mask_bit | 127);
            buf.put_u64(n as u64);
        }
    }
}

/// Appends a frame as a browser sends it: masked with `mask`, FIN as given. The server never
/// sends one; its tests and benches build their input with it.
pub fn encode_client_frame(
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    put_head(
        out,
        if fin { 0x80 } else { 0 } | opcode,
        true,
        payload.len(),
    );
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
}

/// Appends a text frame of bytes the caller knows are UTF-8 (rendered protocol lines), without
/// checking them again.
pub fn encode_text_utf8(text: &[u8], buf: &mut BytesMut) {
    encode(TEXT, text, buf);
}

/// Appends a text frame.
pub fn encode_text(text: &str, buf: &mut BytesMut) {
    encode(TEXT, text.as_bytes(), buf);
}

/// Appends the header of a binary frame of `len` bytes, for a payload queued separately (a
/// shared file buffer is not copied into the frame).
pub fn encode_binary_head(len: usize, buf: &mut BytesMut) {
    encode_head(BINARY, len, buf);
}

/// Appends a pong answering a ping's payload.
pub fn encode_pong(payload: &[u8], buf: &mut BytesMut) {
    encode(PONG, &payload[..payload.len().min(MAX_CONTROL)], buf);
}

/// Appends a close frame with a code and a short reason.
pub fn encode_close(code: u16, reason: &str, buf: &mut BytesMut) {
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    let mut cut = reason.len().min(MAX_CONTROL - 2);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..cut]);
    encode(CLOSE, &payload, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: masked with a fixed key.
    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_client_frame(fin, opcode, [0x37, 0xfa, 0x21, 0x3d], payload, &mut out);
        out
    }

    /// Decodes `parts` in order; returns every message, or the first error.
    fn run(parts: &[&[u8]], max: usize) -> Result<Vec<WsMessage>, CodecError> {
        let mut dec = WsDecoder::new(max);
        let mut out = Vec::new();
        for part in parts {
            let mut rest: &[u8] = part;
            loop {
                match dec.decode(rest)? {
                    Decoded::Incomplete => break,
                    Decoded::Frame { frame, consumed } => {
                        out.push(frame);
                        rest = &rest[consumed..];
                    }
                }
            }
        }
        Ok(out)
    }

    /// A conversation with every feature: short and 16-bit lengths, an empty frame, Korean text,
    /// a fragmented text message with a ping between its fragments, binary, pong and close.
    fn sample() -> Vec<u8> {
        let mut input = client_frame(true, TEXT, "alice".as_bytes());
        input.extend(client_frame(true, TEXT, "안녕하세요, 여러분".as_bytes()));
        input.extend(client_frame(true, TEXT, b""));
        // Fragments cut inside a Hangul syllable and inside an emoji.
        let fragmented = "fragmented 한글🦀".as_bytes();
        let crab = fragmented.len() - 4;
        input.extend(client_frame(false, TEXT, &fragmented[..4]));
        input.extend(client_frame(true, PING, b"are you there"));
        input.extend(client_frame(false, CONTINUATION, &fragmented[4..12]));
        input.extend(client_frame(false, CONTINUATION, &fragmented[12..crab + 2]));
        input.extend(client_frame(true, CONTINUATION, &fragmented[crab + 2..]));
        input.extend(client_frame(true, BINARY, &vec![0xab; 300]));
        input.extend(client_frame(true, PONG, b""));
        let mut close = 1000u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"bye");
        input.extend(client_frame(true, CLOSE, &close));
        input
    }

    fn expected() -> Vec<WsMessage> {
        vec![
            WsMessage::Text("alice".into()),
            WsMessage::Text("안녕하세요, 여러분".into()),
            WsMessage::Text(String::new()),
            WsMessage::Ping(Bytes::from_static(b"are you there")),
            WsMessage::Text("fragmented 한글🦀".into()),
            WsMessage::Binary(Bytes::from(vec![0xab; 300])),
            WsMessage::Pong(Bytes::new()),
            WsMessage::Close {
                code: Some(1000),
                reason: "bye".into(),
            },
        ]
    }

    #[test]
    fn whole_input_decodes_every_message() {
        assert_eq!(run(&[&sample()], 4096).unwrap(), expected());
    }

    #[test]
    fn every_two_way_split_matches_whole_input() {
        let input = sample();
        for cut in 0..=input.len() {
            let got = run(&[&input[..cut], &input[cut..]], 4096).unwrap();
            assert_eq!(got, expected(), "cut at {cut}");
        }
    }

    #[test]
    fn every_three_way_split_of_the_fragmented_part_matches_whole_input() {
        // All three-way splits of the whole sample are ~10^5 runs; the fragmented message with its
        // interleaved ping is where the state is subtle, so split that part every way.
        // "한" is cut between the fragments, so the start of a character waits across the ping.
        let mut input = client_frame(false, TEXT, b"ab\xed");
        input.extend(client_frame(true, PING, b"p"));
        input.extend(client_frame(true, CONTINUATION, b"\x95\x9cc"));
        let want = vec![
            WsMessage::Ping(Bytes::from_static(b"p")),
            WsMessage::Text("ab한c".into()),
        ];
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let got = run(&[&input[..a], &input[a..b], &input[b..]], 100).unwrap();
                assert_eq!(got, want, "cuts at {a} and {b}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time_matches_whole_input() {
        let input = sample();
        let parts: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&parts, 4096).unwrap(), expected());
    }

    #[test]
    fn a_64_bit_length_frame_decodes() {
        let payload = vec![b'x'; 70_000];
        let input = client_frame(true, BINARY, &payload);
        assert_eq!(input[1] & 0x7f, 127);
        assert_eq!(
            run(&[&input], 100_000).unwrap(),
            [WsMessage::Binary(Bytes::from(payload))]
        );
    }

    fn code_of(result: Result<Vec<WsMessage>, CodecError>) -> u16 {
        match result {
            Err(CodecError::WebSocket { close_code, .. }) => close_code,
            other => panic!("expected a WebSocket error, got {other:?}"),
        }
    }

    #[test]
    fn protocol_violations_carry_their_close_code() {
        let unmasked = [0x81, 0x02, b'h', b'i'];
        assert_eq!(code_of(run(&[&unmasked], 100)), close_code::PROTOCOL_ERROR);
        let mut rsv = client_frame(true, TEXT, b"hi");
        rsv[0] |= 0x40;
        assert_eq!(code_of(run(&[&rsv], 100)), close_code::PROTOCOL_ERROR);
        let unknown = client_frame(true, 0x3, b"");
        assert_eq!(code_of(run(&[&unknown], 100)), close_code::PROTOCOL_ERROR);
        let lone_continuation = client_frame(true, CONTINUATION, b"x");
        assert_eq!(
            code_of(run(&[&lone_continuation], 100)),
            close_code::PROTOCOL_ERROR
        );
        let mut interleaved = client_frame(false, TEXT, b"a");
        interleaved.extend(client_frame(true, TEXT, b"b"));
        assert_eq!(
            code_of(run(&[&interleaved], 100)),
            close_code::PROTOCOL_ERROR
        );
        let fragmented_ping = client_frame(false, PING, b"x");
        assert_eq!(
            code_of(run(&[&fragmented_ping], 100)),
            close_code::PROTOCOL_ERROR
        );
        let long_ping = client_frame(true, PING, &[0; 126]);
        assert_eq!(
            code_of(run(&[&long_ping], 1000)),
            close_code::PROTOCOL_ERROR
        );
        let bad_utf8 = client_frame(true, TEXT, b"\xff\xfe");
        assert_eq!(code_of(run(&[&bad_utf8], 100)), close_code::INVALID_DATA);
        let bad_close = client_frame(true, CLOSE, &[0x03]);
        assert_eq!(code_of(run(&[&bad_close], 100)), close_code::PROTOCOL_ERROR);
        let reserved_code = client_frame(true, CLOSE, &1005u16.to_be_bytes());
        assert_eq!(
            code_of(run(&[&reserved_code], 100)),
            close_code::PROTOCOL_ERROR
        );
    }

    /// `result` is a refusal for text that is not UTF-8 (close code 1007).
    fn assert_invalid_data(result: Result<Vec<WsMessage>, CodecError>, what: &str) {
        match result {
            Err(CodecError::WebSocket { close_code, .. }) => {
                assert_eq!(close_code, close_code::INVALID_DATA, "{what}");
            }
            other => panic!("{what}: expected a 1007 refusal, got {other:?}"),
        }
    }

    /// `input` is refused with 1007 whole, at every two-way split and one byte at a time.
    fn assert_invalid_data_at_every_split(input: &[u8], what: &str) {
        assert_invalid_data(run(&[input], 4096), &format!("{what}, whole"));
        for cut in 0..=input.len() {
            let parts = [&input[..cut], &input[cut..]];
            assert_invalid_data(run(&parts, 4096), &format!("{what}, cut at {cut}"));
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_invalid_data(run(&bytes, 4096), &format!("{what}, byte by byte"));
    }

    /// Bytes that no continuation can make UTF-8: an invalid lead byte, a stray continuation
    /// byte, a lead byte followed by a non-continuation, overlong forms, a UTF-16 surrogate, and
    /// code points past U+10FFFF.
    const NEVER_UTF8: [&[u8]; 9] = [
        b"\xff",
        b"\x80",
        b"\xe2\x28",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xf0\x80\x80\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xf5\x80\x80\x80",
    ];

    #[test]
    fn text_that_cannot_become_utf8_is_refused_at_its_first_fragment() {
        let before = "한국어 ".as_bytes();
        for bad in NEVER_UTF8 {
            let mut payload = before.to_vec();
            payload.extend_from_slice(bad);
            payload.extend_from_slice(b" and more");
            // Only the first fragment: the message's final frame is never fed, so a refusal
            // here cannot come from a check at the end of the message.
            let first = client_frame(false, TEXT, &payload);
            assert_invalid_data_at_every_split(&first, &format!("{bad:x?}"));
            // Refused as soon as the bytes that break it arrive, before the rest of the frame.
            let head = first.len() - payload.len();
            let valid_so_far = &first[..head + before.len()];
            assert_eq!(run(&[valid_so_far], 4096), Ok(vec![]), "{bad:x?}");
            let broken = &first[..head + before.len() + bad.len()];
            assert_invalid_data(run(&[broken], 4096), &format!("{bad:x?}, partial frame"));
        }
    }

    #[test]
    fn a_character_broken_by_a_later_fragment_is_refused_at_that_fragment() {
        // The first fragment ends with the first half of 🦀; the next, after a ping, does not
        // continue it. No final frame follows.
        let mut input = client_frame(false, TEXT, b"ab\xf0\x9f");
        input.extend(client_frame(true, PING, b"p"));
        let waiting = input.len();
        input.extend(client_frame(false, CONTINUATION, b"(rest"));
        assert_eq!(
            run(&[&input[..waiting]], 4096),
            Ok(vec![WsMessage::Ping(Bytes::from_static(b"p"))])
        );
        assert_invalid_data_at_every_split(&input, "broken by the second fragment");
    }

    #[test]
    fn characters_cut_between_fragments_at_every_byte_are_accepted() {
        let text = "한국어 🦀!";
        let bytes = text.as_bytes();
        let want = [WsMessage::Text(text.into())];
        for cut in 0..=bytes.len() {
            let mut input = client_frame(false, TEXT, &bytes[..cut]);
            input.extend(client_frame(true, CONTINUATION, &bytes[cut..]));
            for split in 0..=input.len() {
                let parts = [&input[..split], &input[split..]];
                assert_eq!(
                    run(&parts, 4096).unwrap(),
                    want,
                    "fragment cut {cut}, split {split}"
                );
            }
            let one_by_one: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(run(&one_by_one, 4096).unwrap(), want, "fragment cut {cut}");
        }
        // Every byte its own fragment.
        let mut input = Vec::new();
        for (i, byte) in bytes.iter().enumerate() {
            let opcode = if i == 0 { TEXT } else { CONTINUATION };
            input.extend(client_frame(i + 1 == bytes.len(), opcode, &[*byte]));
        }
        assert_eq!(run(&[&input], 4096).unwrap(), want);
        let one_by_one: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&one_by_one, 4096).unwrap(), want);
    }

    #[test]
    fn text_ending_inside_a_character_is_refused_at_the_final_fragment() {
        let korean = "한국어".as_bytes();
        let cut_korean = &korean[..korean.len() - 1];
        let cut_crab = &"🦀".as_bytes()[..3];
        // In a fragment that is not the last, the same bytes are a valid start.
        let first = client_frame(false, TEXT, cut_korean);
        assert_eq!(run(&[&first], 4096), Ok(vec![]));

        let unfragmented = client_frame(true, TEXT, cut_korean);
        assert_invalid_data_at_every_split(&unfragmented, "one frame");
        let mut empty_last = first.clone();
        empty_last.extend(client_frame(true, CONTINUATION, b""));
        assert_invalid_data_at_every_split(&empty_last, "an empty final fragment");
        let mut cut_in_last = client_frame(false, TEXT, korean);
        cut_in_last.extend(client_frame(true, CONTINUATION, cut_crab));
        assert_invalid_data_at_every_split(&cut_in_last, "cut in the final fragment");
    }

    #[test]
    fn the_size_limit_is_enforced_on_the_header_before_the_payload() {
        // Only the header of a 1 GB frame: refused without waiting for (or holding) its bytes.
        let mut head = vec![0x82, 0x80 | 127];
        head.extend_from_slice(&(1u64 << 30).to_be_bytes());
        head.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(code_of(run(&[&head], 1 << 20)), close_code::TOO_BIG);
        // Fragments that add up past the limit.
        let mut frags = client_frame(false, TEXT, &[b'a'; 60]);
        frags.extend(client_frame(true, CONTINUATION, &[b'a'; 60]));
        assert_eq!(code_of(run(&[&frags], 100)), close_code::TOO_BIG);
        assert_eq!(run(&[&frags], 120).unwrap().len(), 1);
        // A continuation whose 64-bit length would wrap the running total back under the limit.
        let mut wraps = client_frame(false, TEXT, b"a");
        wraps.extend_from_slice(&[0x80, 0x80 | 127]);
        wraps.extend_from_slice(&u64::MAX.to_be_bytes());
        wraps.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(code_of(run(&[&wraps], 100)), close_code::TOO_BIG);
    }

    #[test]
    fn server_frames_round_trip_through_a_client_view() {
        let mut buf = BytesMut::new();
        encode_text("hi", &mut buf);
        assert_eq!(&buf[..], b"\x81\x02hi");
        buf.clear();
        let long = "x".repeat(300);
        encode_text(&long, &mut buf);
        assert_eq!(&buf[..4], &[0x81, 126, 0x01, 0x2c]);
        buf.clear();
        encode_binary_head(70_000, &mut buf);
        assert_eq!(buf[1], 127);
        assert_eq!(buf.len(), 10);
        buf.clear();
        encode_close(close_code::TOO_BIG, &"é".repeat(100), &mut buf);
        assert!(buf.len() <= 2 + MAX_CONTROL);
        assert!(
            std::str::from_utf8(&buf[4..]).is_ok(),
            "the reason was cut mid-character"
        );
    }

    #[test]
    fn the_accept_key_matches_the_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
