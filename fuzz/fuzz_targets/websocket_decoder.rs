//! WebSocket frames: any split gives the same messages (or the same close code), no message
//! passes the size limit, the buffer stays within it, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reactor_chat_fuzz::{framed, split};
use reactor_chat::codec::websocket::{WsDecoder, WsMessage};
use reactor_chat::codec::{CodecError, Decoded};

const MAX_MESSAGE: usize = 4096;

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


fuzz_target!(|input: &[u8]| {
    let (_, splits, data) = framed(input);
    let whole = run(&[data]);
    let pieces = run(&split(data, splits));
    assert_eq!(whole, pieces, "a split changed the messages");
});
