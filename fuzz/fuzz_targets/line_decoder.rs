//! The telnet-friendly line decoder: any split of the input gives the lines of the whole input,
//! no line passes the cap, the partial-line buffer never passes it, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reactor_chat_fuzz::{framed, split};
use reactor_chat::codec::line::{LineDecoder, LineFrame};
use reactor_chat::codec::Decoded;

fn run(parts: &[&[u8]], max: usize) -> Vec<LineFrame> {
    let mut decoder = LineDecoder::new(max);
    let mut frames = Vec::new();
    for part in parts {
        let mut rest: &[u8] = part;
        loop {
            match decoder.decode(rest).expect("the line decoder never fails") {
                Decoded::Incomplete => break,
                Decoded::Frame { frame, consumed } => {
                    assert!(consumed > 0 && consumed <= rest.len());
                    if let LineFrame::Line(line) = &frame {
                        assert!(line.len() <= max, "a line over the cap");
                    }
                    frames.push(frame);
                    rest = &rest[consumed..];
                }
            }
            assert!(decoder.buffered() <= max, "the buffer passed the cap");
        }
    }
    frames
}

fuzz_target!(|input: &[u8]| {
    let (cap, splits, data) = framed(input);
    let max = 1 + usize::from(cap) * 2;
    let whole = run(&[data], max);
    let pieces = run(&split(data, splits), max);
    assert_eq!(whole, pieces, "a split changed the lines");
});
