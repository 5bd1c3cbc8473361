//! WebSocket frames: any split gives the same messages (or the same close code), no message
//! passes the size limit, the buffer stays within it, and nothing panics.
//!
//! The same data is also sent as the payload of one fragmented text message (fragment sizes from
//! the split pattern; an empty final fragment when the parameter is odd), fed one byte at a time:
//! the decoder must refuse it with 1007 at exactly the byte after which no continuation can make
//! the text UTF-8, or at the end of the final fragment when the text ends inside a character, and
//! otherwise yield exactly the bytes sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reactor_chat::codec::websocket::{close_code, encode_client_frame, WsDecoder, WsMessage};
use reactor_chat::codec::{CodecError, Decoded};
use reactor_chat_fuzz::{framed, split};

const MAX_MESSAGE: usize = 4096;

/// Frame opcodes (the decoder keeps its own private).
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;

fn run(parts: &[&[u8]]) -> (Vec<WsMessage>, Option<CodecError>) {
    let mut decoder = WsDecoder::new(MAX_MESSAGE);
    let mut messages = Vec::new();
    for part in parts {
        let mut rest: &[u8] = part;
        while !rest.is_empty() {
            match decoder.decode(rest) {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::Frame { frame, consumed }) => {
                    assert!(consumed <= rest.len());
                    match &frame {
                        WsMessage::Text(t) => assert!(t.len() <= MAX_MESSAGE),
                        WsMessage::Binary(b) => assert!(b.len() <= MAX_MESSAGE),
                        WsMessage::Ping(p) | WsMessage::Pong(p) => assert!(p.len() <= 125),
                        WsMessage::Close { reason, .. } => assert!(reason.len() <= 123),
                    }
                    messages.push(frame);
                    rest = &rest[consumed..];
                }
                Err(e) => return (messages, Some(e)),
            }
            assert!(decoder.buffered() <= MAX_MESSAGE + 125);
        }
    }
    (messages, None)
}

/// The index of the byte of `text` at which a decoder that checks as bytes arrive must refuse
/// it: the first byte after which no continuation can make `text` UTF-8, or `text.len()` when
/// `text` is only cut short at its end. `None` for UTF-8.
fn refusal_at(text: &[u8]) -> Option<usize> {
    let error = std::str::from_utf8(text).err()?;
    if error.error_len().is_none() {
        return Some(text.len());
    }
    // The bad sequence starts at `valid_up_to`; the byte that rules it out is within it or just
    // after it, and a prefix that stops before that byte is still a possible start.
    let start = error.valid_up_to();
    (start..text.len()).find(|&end| {
        std::str::from_utf8(&text[start..=end]).is_err_and(|e| e.error_len().is_some())
    })
}

/// Sends `text` as one message cut into `fragments` and checks where it is refused.
fn check_fragmented_text(text: &[u8], fragments: &[&[u8]], empty_last: bool) {
    let mut pieces = fragments.to_vec();
    if empty_last || pieces.is_empty() {
        pieces.push(b"");
    }
    // The input, and for each byte of `text` where in the input it is.
    let mut input = Vec::new();
    let mut at = Vec::with_capacity(text.len());
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { TEXT } else { CONTINUATION };
        let fin = i + 1 == pieces.len();
        encode_client_frame(fin, opcode, [0x37, 0xfa, 0x21, 0x3d], piece, &mut input);
        at.extend(input.len() - piece.len()..input.len());
    }
    let refuse_at = refusal_at(text).map(|i| at.get(i).copied().unwrap_or(input.len() - 1));

    let mut decoder = WsDecoder::new(MAX_MESSAGE);
    for (pos, byte) in input.iter().enumerate() {
        match decoder.decode(std::slice::from_ref(byte)) {
            Ok(Decoded::Incomplete) => {}
            Ok(Decoded::Frame { frame, .. }) => {
                assert_eq!(refuse_at, None, "accepted text that is not UTF-8");
                assert_eq!(pos, input.len() - 1, "a message before the final fragment");
                assert_eq!(
                    frame,
                    WsMessage::Text(String::from_utf8(text.to_vec()).unwrap())
                );
                return;
            }
            Err(e) => {
                let CodecError::WebSocket { close_code, .. } = e else {
                    panic!("not a WebSocket error: {e:?}");
                };
                assert_eq!(close_code, close_code::INVALID_DATA, "{e:?}");
                assert_eq!(Some(pos), refuse_at, "refused at the wrong byte: {e:?}");
                return;
            }
        }
    }
    panic!("the final fragment did not end the message");
}

fuzz_target!(|input: &[u8]| {
    let (param, splits, data) = framed(input);
    let whole = run(&[data]);
    let pieces = run(&split(data, splits));
    assert_eq!(whole, pieces, "a split changed the messages");

    let text = &data[..data.len().min(MAX_MESSAGE)];
    check_fragmented_text(text, &split(text, splits), param % 2 == 1);
});
