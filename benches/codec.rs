//! Line decoder throughput (bytes/s) on realistic and adversarial input.
//!
//! Every connection's input goes through `LineDecoder::decode` byte by byte, so its cost per byte
//! bounds what one core can take in. The inputs: ordinary chat lines, Korean text (multi-byte
//! UTF-8), many tiny lines (per-line overhead: one `String` each), one giant line far over the cap
//! (the discard path must stay cheap: a hostile client should not cost more than a chatty one),
//! and telnet-negotiation-heavy input (the IAC state machine). Each input is about 64 KiB, one
//! server read budget.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use reactor_chat::codec::line::LineDecoder;
use reactor_chat::codec::Decoded;

/// The server's default logged-in line cap.
const MAX_LINE: usize = 4096;
const TARGET: usize = 64 * 1024;

fn repeat_to_target(unit: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TARGET + unit.len());
    while out.len() < TARGET {
        out.extend_from_slice(unit);
    }
    out
}

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let chat: &[u8] = b"hey, did anyone try the new build? the reconnect works for me now\r\n\
        lol yes\r\n\
        /me waves at everyone in the lobby\r\n\
        I pushed the fix for the topic lock, please have a look when you have a minute\r\n";
    let korean =
        "안녕하세요, 다들 잘 지내시죠? 오늘 회의는 세 시에 시작합니다.\r\n네 알겠습니다 ㅎㅎ\r\n";
    let mut giant = vec![b'x'; TARGET - 2];
    giant.extend_from_slice(b"\r\n");
    // IAC WILL ECHO, IAC DO SGA, a subnegotiation (terminal type), then one short line.
    let telnet: &[u8] =
        b"\xff\xfb\x01\xff\xfd\x03\xff\xfa\x18\x00xterm-256color\xff\xf0hi\xff\xf1\r\n";
    vec![
        ("chat", repeat_to_target(chat)),
        ("korean", repeat_to_target(korean.as_bytes())),
        ("tiny-lines", repeat_to_target(b"a\n")),
        ("giant-line", giant),
        ("telnet-iac", repeat_to_target(telnet)),
    ]
}

/// Decodes all of `input` as the reactor does: call again with the rest after every frame.
fn decode_all(decoder: &mut LineDecoder, mut input: &[u8]) -> usize {
    let mut frames = 0;
    while let Ok(Decoded::Frame { frame, consumed }) = decoder.decode(input) {
        black_box(frame);
        frames += 1;
        input = &input[consumed..];
    }
    frames
}

fn line_decoder(c: &mut Criterion) {
    let mut group = c.benchmark_group("line_decoder");
    group.sample_size(30);
    for (name, input) in inputs() {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &input, |b, input| {
            let mut decoder = LineDecoder::new(MAX_LINE);
            b.iter(|| decode_all(&mut decoder, black_box(input)));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = line_decoder
}
criterion_main!(benches);
