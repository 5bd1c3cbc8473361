//! Decoder throughput (bytes/s) on realistic and adversarial input: lines, file uploads and
//! WebSocket frames.
//!
//! Every connection's input goes through `LineDecoder::decode` byte by byte, so its cost per byte
//! bounds what one core can take in. The inputs: ordinary chat lines, Korean text (multi-byte
//! UTF-8), many tiny lines (per-line overhead: one `String` each), one giant line far over the cap
//! (the discard path must stay cheap: a hostile client should not cost more than a chatty one),
//! and telnet-negotiation-heavy input (the IAC state machine). Each input is about 64 KiB, one
//! server read budget.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use reactor_chat::codec::file::{FileDecoder, Keep};
use reactor_chat::codec::line::LineDecoder;
use reactor_chat::codec::websocket::{self, WsDecoder};
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

/// A 1 MiB upload fed as the reactor reads it: 16 KiB reads (a client sending at full speed) and
/// 64-byte reads (one that dribbles), collected and, for a refused upload, counted and dropped.
fn file_decoder(c: &mut Criterion) {
    const SIZE: usize = 1024 * 1024;
    let payload: Vec<u8> = (0..SIZE).map(|i| (i * 31) as u8).collect();
    let mut group = c.benchmark_group("file_decoder");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(SIZE as u64));
    for (name, keep, read) in [
        ("collect/16KiB-reads", Keep::Collect, 16 * 1024),
        ("collect/64B-reads", Keep::Collect, 64),
        ("discard/16KiB-reads", Keep::Discard, 16 * 1024),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut decoder = FileDecoder::new(SIZE as u64, keep, false);
                for chunk in payload.chunks(read) {
                    if let Ok(Decoded::Frame { frame, .. }) = decoder.decode(chunk) {
                        black_box(frame);
                    }
                }
            })
        });
    }
    group.finish();
}

/// One client frame as a browser sends it: masked, with the shortest length encoding.
fn client_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    websocket::encode_client_frame(fin, opcode, [0x37, 0xfa, 0x21, 0x3d], payload, out);
}

/// About 64 KiB of WebSocket input: chat lines one text frame each (a browser chatting), the
/// same text in 1-byte fragments (the per-frame overhead a hostile client can force), and one
/// 60 KiB binary frame (a file from the browser).
fn websocket_decoder(c: &mut Criterion) {
    let line = "안녕하세요! did anyone try the new build? the reconnect works for me now\n";
    let mut chat = Vec::new();
    while chat.len() < TARGET {
        client_frame(&mut chat, true, 0x1, line.as_bytes());
    }
    let mut fragments = Vec::new();
    while fragments.len() < TARGET {
        let bytes = b"fragmented\n";
        for (i, byte) in bytes.iter().enumerate() {
            let opcode = if i == 0 { 0x1 } else { 0x0 };
            client_frame(&mut fragments, i == bytes.len() - 1, opcode, &[*byte]);
        }
    }
    let mut binary = Vec::new();
    client_frame(&mut binary, true, 0x2, &vec![7u8; 60 * 1024]);
    let mut group = c.benchmark_group("websocket_decoder");
    group.sample_size(30);
    for (name, input) in [
        ("chat", chat),
        ("1-byte-fragments", fragments),
        ("binary-60KiB", binary),
    ] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &input, |b, input| {
            let mut decoder = WsDecoder::new(1024 * 1024);
            b.iter(|| {
                let mut rest = &input[..];
                while let Ok(Decoded::Frame { frame, consumed }) = decoder.decode(rest) {
                    black_box(frame);
                    rest = &rest[consumed..];
                }
                assert!(rest.is_empty(), "whole frames, all decoded");
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = line_decoder, file_decoder, websocket_decoder
}
criterion_main!(benches);
