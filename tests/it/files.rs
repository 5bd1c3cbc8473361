//! Sharing files: `/file NAME SIZE` and its raw bytes, offers, `/accept`, `/decline`, expiry,
//! auto-accept, refusals that keep the connection usable, and a file sent with nc.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Client, Server, TempDir};

/// A payload with every byte value, line endings and telnet IAC in it: nothing may be altered.
fn binary_payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

#[test]
fn an_upload_split_anyhow_is_offered_and_accepted_byte_for_byte() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let payload = binary_payload(3000);
    // The command, the payload and the next chat line, cut at awkward places; the command ends
    // with "\r\n" split right after the "\r".
    let mut input = b"/file photo 1.png 3000\r".to_vec();
    let cr_at = input.len();
    input.push(b'\n');
    input.extend_from_slice(&payload);
    input.extend_from_slice(b"did you get it?\n");
    for part in [
        &input[..cr_at],
        &input[cr_at..cr_at + 1],
        &input[cr_at + 1..cr_at + 2],
    ] {
        alice.send_raw(part);
        std::thread::sleep(Duration::from_millis(5));
    }
    for chunk in input[cr_at + 2..].chunks(777) {
        alice.send_raw(chunk);
    }
    alice.expect_exact("-- Offered #1 photo 1.png (2.9 KiB) to lobby for 10m.");
    let offer = bob.expect("alice offers the file photo 1.png (2.9 KiB) as #1: ");
    assert!(
        offer.contains(&format!(
            "as #1: http://{}/files/1/photo%201.png?key=",
            server.addr
        )),
        "{offer}"
    );
    bob.expect_stamped("alice: did you get it?");
    bob.send("/files");
    bob.expect_exact("-- 1 file is open to you:");
    bob.expect_prefix("--   #1 photo 1.png (2.9 KiB) from alice, ");
    bob.send("/accept 1");
    let (id, from, name, got) = bob.expect_file();
    assert_eq!(
        (id, from.as_str(), name.as_str()),
        (1, "alice", "photo 1.png")
    );
    assert!(got == payload, "the payload changed on the way");
    // The stream is back to lines right after the payload.
    bob.send("yes, thanks");
    alice.expect_stamped("bob: yes, thanks");
}

#[test]
fn an_oversize_file_is_refused_before_its_bytes_and_the_connection_carries_on() {
    let server = Server::builder().args(["--max-file", "1000"]).start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let rss_before = server.rss_kib();
    // 8 MB declared: refused at once, before a single byte is sent.
    const SIZE: usize = 8 * 1024 * 1024;
    alice.send(&format!("/file huge.iso {SIZE}"));
    alice.expect_exact(&format!(
        "! file-too-large: huge.iso is {SIZE} bytes, over the limit of 1000; its bytes are skipped"
    ));
    let chunk = vec![0xffu8; 64 * 1024];
    for _ in 0..SIZE / chunk.len() {
        alice.write_raw(&chunk).unwrap();
    }
    alice.send("still here");
    bob.expect_stamped("alice: still here");
    // The skipped bytes were never buffered (a generous bound: the server's own growth only).
    let grown = server.rss_kib().saturating_sub(rss_before);
    assert!(
        grown < 4 * 1024,
        "the server grew by {grown} KiB while skipping"
    );
    let seen = bob.sync();
    assert!(!seen.iter().any(|l| l.contains("huge")), "{seen:?}");
}

#[test]
fn uploads_under_way_are_capped_per_address_and_the_refused_bytes_are_skipped() {
    let server = Server::builder()
        .args(["--max-uploads-per-ip", "1", "--max-uploads", "2"])
        .start();
    let mut alice = server.connect_from(10);
    alice.login("alice");
    let mut bob = server.connect_from(10);
    bob.login("bob");
    let mut carol = server.connect_from(11);
    carol.login("carol");
    // alice's upload is under way (its bytes have not come yet); bob shares her address.
    alice.send("/file a.txt 4");
    bob.send("/file b.txt 4");
    bob.expect_exact(
        "! uploads-busy: b.txt: an upload from your address is already under way; send it when that has finished (its bytes are skipped)",
    );
    bob.send_raw(b"xxxx");
    bob.send("after the skipped bytes");
    carol.expect_stamped("bob: after the skipped bytes");
    // Once alice's bytes have come, bob's address may upload again.
    alice.send_raw(b"data");
    alice.expect_prefix("-- Offered #");
    bob.send("/file b.txt 4");
    bob.send_raw(b"data");
    bob.expect_prefix("-- Offered #");
}

/// The download link of the last offer line `c` received.
fn offer_link(c: &mut Client, who: &str) -> String {
    let line = c.expect(&format!("{who} offers the file "));
    let link = line.rsplit(": ").next().unwrap().to_string();
    assert!(
        link.starts_with("http") && !line.contains("/accept"),
        "{line}"
    );
    link
}

#[test]
fn an_offer_carries_a_download_link_with_ranges_and_an_unguessable_key() {
    let server = Server::builder().args(["--file-ttl", "2"]).start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let payload = binary_payload(3000);
    alice.send("/file 사진 1.png 3000");
    alice.send_raw(&payload);
    let link = offer_link(&mut bob, "alice");
    let target = link
        .split_once(&server.addr.to_string())
        .unwrap()
        .1
        .to_string();
    assert!(
        target.starts_with("/files/1/%EC%82%AC%EC%A7%84%201.png?key="),
        "{target}"
    );
    let get = |extra: &str| {
        crate::web::http(
            &server,
            &format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n"),
        )
    };
    let (status, head, body) = get("");
    assert_eq!(status, 200, "{head}");
    assert!(body == payload, "the download differs from the upload");
    assert!(head.contains("Content-Type: image/png"), "{head}");
    assert!(head.contains("Accept-Ranges: bytes"), "{head}");
    assert!(
        head.contains(
            "Content-Disposition: attachment; filename=\"__ 1.png\"; filename*=UTF-8''%EC%82%AC%EC%A7%84%201.png"
        ),
        "{head}"
    );
    assert!(head.contains("Content-Security-Policy: sandbox"), "{head}");
    // Resuming: one range, and a range past the end.
    let (status, head, body) = get("Range: bytes=100-199\r\n");
    assert_eq!(status, 206, "{head}");
    assert!(head.contains("Content-Range: bytes 100-199/3000"), "{head}");
    assert!(body == payload[100..200]);
    let (status, _, body) = get("Range: bytes=2990-\r\n");
    assert_eq!((status, body.len()), (206, 10));
    let (status, head, _) = get("Range: bytes=5000-\r\n");
    assert_eq!(status, 416, "{head}");
    assert!(head.contains("Content-Range: bytes */3000"), "{head}");
    // HEAD: the same head, no body.
    let (status, head, body) = crate::web::http(
        &server,
        &format!("HEAD {target} HTTP/1.1\r\nHost: t\r\n\r\n"),
    );
    assert_eq!((status, body.len()), (200, 0));
    assert!(head.contains("Content-Length: 3000"), "{head}");
    // Another key, or another id with this key, finds nothing.
    let (key_at, _) = target.split_once("key=").unwrap();
    for wrong in [
        format!("{key_at}key=0000000000000000"),
        target.replace("/files/1/", "/files/2/"),
    ] {
        let (status, _, _) = crate::web::http(&server, &format!("GET {wrong} HTTP/1.1\r\n\r\n"));
        assert_eq!(status, 404, "{wrong}");
    }
    // The link lives as long as the offer.
    alice.expect_prefix("-- Your file #1");
    let (status, _, _) = get("");
    assert_eq!(status, 404);
}

#[test]
fn file_names_are_sanitized() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send("/file ../../etc/\u{202e}passwd 4");
    alice.send_raw(b"root");
    alice.expect_prefix("-- Offered #1 passwd ");
    bob.expect_where("an offer of passwd", |l| {
        l.contains("offers the file passwd (4 B)")
    });
    bob.send("/accept 1");
    let (_, _, name, payload) = bob.expect_file();
    assert_eq!((name.as_str(), &payload[..]), ("passwd", &b"root"[..]));
    // A name with nothing usable in it: refused, and its bytes skipped.
    alice.send("/file .. 3");
    alice.send_raw(b"abc");
    alice.expect_prefix("! bad-file: the file name has nothing usable in it");
    alice.send("/file x.txt many");
    alice.expect_prefix("! bad-file: many is not a size");
    alice.send("after the errors");
    bob.expect_stamped("alice: after the errors");
}

#[test]
fn decline_and_expiry() {
    let server = Server::builder().args(["--file-ttl", "1"]).start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    alice.send("/file a.txt 2");
    alice.send_raw(b"hi");
    alice.expect_prefix("-- Offered #1 a.txt");
    bob.send("/decline 1");
    bob.expect_exact("-- Declined #1.");
    alice.expect_exact("-- bob declined your file #1 (a.txt).");
    bob.send("/files");
    bob.expect_exact("-- No files are open to you.");
    alice.expect_exact("-- Your file #1 (a.txt) expired.");
    carol.send("/accept 1");
    carol.expect_exact("! no-such-file: #1 is not open (expired, or never offered)");
    carol.send("/accept 42");
    carol.expect_exact("! no-such-file: #42 is not open (expired, or never offered)");
}

#[test]
fn auto_accept_pushes_small_files_to_the_room() {
    let server = Server::builder().args(["--auto-accept-max", "100"]).start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    alice.send("/file hello.txt 5");
    alice.send_raw(b"hello");
    for c in [&mut bob, &mut carol] {
        c.expect_stamped("* alice shares the file hello.txt (5 B) as #1");
        let (id, from, name, payload) = c.expect_file();
        assert_eq!(
            (id, from.as_str(), name.as_str(), &payload[..]),
            (1, "alice", "hello.txt", &b"hello"[..])
        );
    }
    let seen = alice.sync();
    assert!(!seen.iter().any(|l| l.starts_with("=file")), "{seen:?}");
    // Above the threshold a file is only offered.
    alice.send("/file big.txt 101");
    alice.send_raw(&[b'b'; 101]);
    bob.expect_where("the offer of big.txt", |l| {
        l.contains("offers the file big.txt")
    });
    let seen = bob.sync();
    assert!(!seen.iter().any(|l| l.starts_with("=file")), "{seen:?}");
}

#[test]
fn chat_flows_while_a_large_file_is_delivered() {
    let server = Server::builder()
        .args(["--max-file", "4000000", "--rate", "0"])
        .start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    let payload = binary_payload(3_000_000);
    alice.send(&format!("/file big.bin {}", payload.len()));
    alice.write_raw(&payload).unwrap();
    alice.expect_prefix("-- Offered #1 big.bin");
    bob.send("/accept 1");
    // While the file is on its way to bob, alice and carol keep chatting.
    for i in 0..50 {
        alice.send(&format!("line {i}"));
        carol.expect_stamped(&format!("alice: line {i}"));
    }
    let (_, _, _, got) = bob.expect_file();
    assert!(got == payload, "the payload changed on the way");
    // Bob receives every chat line too, after the file, in order.
    for i in 0..50 {
        bob.expect_stamped(&format!("alice: line {i}"));
    }
}

#[test]
fn a_text_file_sent_with_nc_arrives_byte_identical() {
    let server = Server::start();
    let mut bob = server.login("bob");
    let dir = TempDir::new("nc");
    let path = dir.path().join("notes.txt");
    let text = "first line\r\nsecond line, 한국어\n\ttabbed\n\n".repeat(40);
    std::fs::write(&path, &text).unwrap();
    let script = format!(
        "{{ printf 'carol\\n/file notes.txt %s\\n' \"$(stat -c%s {file})\"; cat {file}; printf 'sent it\\n/quit\\n'; }} | nc {host} {port}",
        file = path.display(),
        host = server.addr.ip(),
        port = server.addr.port(),
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .expect("run sh and nc (netcat-openbsd is installed by .ci/run)");
    assert!(out.status.success(), "{script}: {out:?}");
    bob.expect_stamped("carol: sent it");
    bob.send("/accept 1");
    let (_, from, name, payload) = bob.expect_file();
    assert_eq!((from.as_str(), name.as_str()), ("carol", "notes.txt"));
    assert!(payload == text.as_bytes(), "the file changed on the way");
}

#[test]
fn a_sender_that_disconnects_mid_upload_offers_nothing() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send("/file half.bin 1000");
    alice.send_raw(&[1u8; 400]);
    alice.drop_connection();
    bob.expect_stamped("* alice lost the connection (connection closed)");
    bob.send("/files");
    bob.expect_exact("-- No files are open to you.");
}

#[test]
fn a_client_that_takes_files_and_never_reads_them_is_refused_more() {
    let server = Server::builder()
        .args(["--max-file", "10000", "--rate", "0"])
        .start();
    let mut alice = server.login("alice");
    let payload = binary_payload(10_000);
    alice.send("/file f.bin 10000");
    alice.write_raw(&payload).unwrap();
    alice.expect_prefix("-- Offered #1");
    // A receive window of 4 KiB and no reading: files pile up in the server's queue.
    let mut taker = {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&server.addr.into()).unwrap();
        let mut c = crate::support::Client::connect_stream(socket.into());
        c.login("taker");
        c
    };
    const TAKES: usize = 100;
    let accepts = "/accept 1\n".repeat(TAKES);
    taker.write_raw(accepts.as_bytes()).unwrap();
    // Now read everything: every /accept got either the whole file or a refusal.
    let (mut files, mut busy) = (0, 0);
    while files + busy < TAKES {
        let line = taker.next_line();
        if line.starts_with("=file 1 10000 alice f.bin") {
            assert!(taker.read_bytes(10_000) == payload);
            files += 1;
        } else if line.starts_with("! file-busy: ") {
            busy += 1;
        }
    }
    assert!(busy > 0, "no refusal after {files} files");
    assert!(files >= 4, "only {files} files before the first refusal");
    // Once read, files flow again.
    taker.send("/accept 1");
    taker.expect_file();
}

#[test]
fn download_links_start_with_the_public_url_or_the_address_each_user_reached() {
    let server = Server::builder()
        .args(["--public-url", "https://chat.example.org/"])
        .start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send("/file a.txt 2");
    alice.send_raw(b"hi");
    let link = offer_link(&mut bob, "alice");
    assert!(
        link.starts_with("https://chat.example.org/files/1/a.txt?key="),
        "{link}"
    );
    // Bound to every interface: the link names the address the user connected to.
    let server = Server::builder().bind("0.0.0.0:0").start();
    let port = server.addr.port();
    let mut alice = Client::connect(([127, 0, 0, 1], port).into());
    alice.login("alice");
    let mut bob = Client::connect(([127, 0, 0, 2], port).into());
    bob.login("bob");
    let mut carol = Client::connect(([127, 0, 0, 3], port).into());
    carol.login("carol");
    alice.send("/file a.txt 2");
    alice.send_raw(b"hi");
    let to_bob = offer_link(&mut bob, "alice");
    let to_carol = offer_link(&mut carol, "alice");
    assert!(
        to_bob.starts_with(&format!("http://127.0.0.2:{port}/files/1/a.txt?key=")),
        "{to_bob}"
    );
    assert!(
        to_carol.starts_with(&format!("http://127.0.0.3:{port}/files/1/")),
        "{to_carol}"
    );
    // `:PORT` (IPv6 and IPv4 on one socket): an IPv4 user's link names its IPv4 address, not
    // the IPv4-mapped IPv6 form the dual-stack socket reports; an IPv6 user's, its own.
    let server = Server::builder().bind(":0").start();
    let port = server.addr.port();
    let mut alice = Client::connect(([127, 0, 0, 1], port).into());
    alice.login("alice");
    let mut bob = Client::connect(([127, 0, 0, 2], port).into());
    bob.login("bob");
    alice.send("/file a.txt 2");
    alice.send_raw(b"hi");
    let to_bob = offer_link(&mut bob, "alice");
    assert!(
        to_bob.starts_with(&format!("http://127.0.0.2:{port}/files/1/a.txt?key=")),
        "{to_bob}"
    );
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let mut dave = Client::connect(([0u16, 0, 0, 0, 0, 0, 0, 1], port).into());
        dave.login("dave");
        alice.send("/file b.txt 2");
        alice.send_raw(b"ho");
        let to_dave = offer_link(&mut dave, "alice");
        assert!(
            to_dave.starts_with(&format!("http://[::1]:{port}/files/2/b.txt?key=")),
            "{to_dave}"
        );
    }
}
