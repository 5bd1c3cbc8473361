//! HTTP request heads: any split gives the same request (or the same refusal), the buffer never
//! passes its limit, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reactor_chat_fuzz::{framed, split};
use reactor_chat::codec::http::{HttpDecoder, HttpRequest};
use reactor_chat::codec::{CodecError, Decoded};

const MAX_HEAD: usize = 1024;

/// Requests until the first error; returns them, the error, and the bytes after the last one.
fn run(parts: &[&[u8]]) -> (Vec<HttpRequest>, Option<CodecError>) {
    let mut decoder = HttpDecoder::new(MAX_HEAD);
    let mut requests = Vec::new();
    for part in parts {
        let mut rest: &[u8] = part;
        while !rest.is_empty() {
            match decoder.decode(rest) {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::Frame { frame, consumed }) => {
                    assert!(consumed > 0 && consumed <= rest.len());
                    requests.push(frame);
                    rest = &rest[consumed..];
                }
                Err(e) => return (requests, Some(e)),
            }
            assert!(decoder.buffered() <= MAX_HEAD);
        }
    }
    (requests, None)
}


fuzz_target!(|input: &[u8]| {
    let (_, splits, data) = framed(input);
    let whole = run(&[data]);
    let pieces = run(&split(data, splits));
    // A head cut at the limit may be refused at a different moment, but the requests before
    // it and the kind of refusal are the same.
    assert_eq!(whole.0, pieces.0, "a split changed the requests");
    assert_eq!(
        whole.1.is_some(),
        pieces.1.is_some(),
        "a split changed whether the input is refused: {whole:?} / {pieces:?}"
    );
});
