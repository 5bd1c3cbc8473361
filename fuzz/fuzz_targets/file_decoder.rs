//! The file upload frame: any split gives the same payload and the same leftover, a discarded
//! upload holds no memory, and exactly the declared bytes are taken.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reactor_chat_fuzz::{framed, split};
use reactor_chat::codec::file::{FileDecoder, FileFrame, Keep};
use reactor_chat::codec::Decoded;

fn run(parts: &[&[u8]], size: u64, keep: Keep, after_cr: bool) -> (Option<FileFrame>, Vec<u8>) {
    let mut decoder = FileDecoder::new(size, keep, after_cr);
    let mut frame = None;
    let mut rest = Vec::new();
    for part in parts {
        if frame.is_some() {
            rest.extend_from_slice(part);
            continue;
        }
        match decoder.decode(part).expect("the file decoder never fails") {
            Decoded::Incomplete => {}
            Decoded::Frame { frame: f, consumed } => {
                assert!(consumed <= part.len());
                frame = Some(f);
                rest.extend_from_slice(&part[consumed..]);
            }
        }
        if keep == Keep::Discard {
            assert_eq!(decoder.buffered(), 0);
        }
        assert!(decoder.buffered() as u64 <= size);
    }
    (frame, rest)
}


fuzz_target!(|input: &[u8]| {
    // The parameter byte: the size in its low six bits (times 8, plus 1), then whether the
    // upload is discarded and whether the command line ended in a bare CR.
    let (param, splits, data) = framed(input);
    let size = u64::from(param & 0x3f) * 8 + 1;
    let keep = if param & 0x40 != 0 { Keep::Discard } else { Keep::Collect };
    let after_cr = param & 0x80 != 0;
    let whole = run(&[data], size, keep, after_cr);
    let pieces = run(&split(data, splits), size, keep, after_cr);
    assert_eq!(whole, pieces, "a split changed the upload");
    if let (Some(FileFrame::Complete(payload)), _) = &whole {
        assert_eq!(payload.len() as u64, size);
    }
});
