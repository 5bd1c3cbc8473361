//! Abuse: hostile and broken clients against the real binary while three well-behaved users
//! chat. Each case checks that the server stays up within a memory budget, that the well-behaved
//! users lose no line and keep their order, that no control bytes reach them, that refused
//! clients were told why, that descriptors return to their baseline and that `/users` shows no
//! ghosts. These are correctness tests, not timings: every case is bounded in count and time.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::support::{unstamp, Client, Server, WAIT};

/// The server's resident memory may not pass this in any case (it starts near 5 MiB).
const RSS_BUDGET_KIB: u64 = 128 * 1024;

/// Three users who chat at a human pace the whole time, and what each of them received.
struct Watchers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Client>>,
}

/// Each watcher sends `wK SEQ` lines every 60 ms (well under flood control) until told to stop,
/// then `wK end COUNT`, and reads until it has the other two's ends. It checks as it reads:
/// every line from another watcher is the next in that watcher's sequence, and no line holds a
/// control byte.
fn start_watchers(server: &Server) -> Watchers {
    let mut clients: Vec<Client> = (0..3).map(|k| server.login(&format!("w{k}"))).collect();
    // Everyone sees everyone before the abuse starts.
    for c in &mut clients {
        c.send("/users");
        c.expect_prefix("-- ");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let threads = clients
        .into_iter()
        .enumerate()
        .map(|(k, mut c)| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut next: HashMap<String, u64> = HashMap::new();
                let mut ended: HashMap<String, u64> = HashMap::new();
                let mut sent = 0u64;
                let check = |c: &Client,
                             line: &str,
                             next: &mut HashMap<String, u64>,
                             ended: &mut HashMap<String, u64>| {
                    if line.bytes().any(|b| b < 0x20 || b == 0x7f) {
                        c.fail(&format!(
                            "a control byte reached a well-behaved user: {line:?}"
                        ));
                    }
                    let Some((from, body)) = unstamp(line).and_then(|t| t.split_once(": ")) else {
                        return;
                    };
                    if !["w0", "w1", "w2"].contains(&from) {
                        return;
                    }
                    if let Some(count) = body.strip_prefix(&format!("{from} end ")) {
                        ended.insert(from.to_string(), count.parse().unwrap());
                        return;
                    }
                    let seq: u64 = body.rsplit(' ').next().unwrap().parse().unwrap();
                    let expected = next.entry(from.to_string()).or_insert(0);
                    if seq != *expected {
                        c.fail(&format!("from {from}: expected line {expected}, got {seq}"));
                    }
                    *expected += 1;
                };
                while !stop.load(Ordering::Relaxed) {
                    c.send(&format!("w{k} {sent}"));
                    sent += 1;
                    let until = Instant::now() + Duration::from_millis(60);
                    while let Some(line) = c.next_line_by(until) {
                        check(&c, &line, &mut next, &mut ended);
                    }
                }
                c.send(&format!("w{k} end {sent}"));
                let deadline = Instant::now() + WAIT * 6;
                while ended.len() < 2 {
                    let Some(line) = c.next_line_by(deadline) else {
                        c.fail(&format!("the other watchers' ends never came: {ended:?}"));
                    };
                    check(&c, &line, &mut next, &mut ended);
                }
                for (from, count) in &ended {
                    let got = next.get(from).copied().unwrap_or(0);
                    if got != *count {
                        c.fail(&format!("{from} sent {count} lines, {got} arrived"));
                    }
                }
                c
            })
        })
        .collect();
    Watchers { stop, threads }
}

impl Watchers {
    /// Ends the chat and checks what each watcher received; returns them for more checks.
    fn finish(self) -> Vec<Client> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| {
                t.join()
                    .expect("a watcher failed (its transcript is above)")
            })
            .collect()
    }
}

/// The checks every case ends with.
fn aftermath(server: &Server, mut watchers: Vec<Client>, fd_baseline: usize) {
    let rss = server.rss_kib();
    assert!(rss < RSS_BUDGET_KIB, "the server holds {rss} KiB");
    // No ghosts: once the reconnect grace of whoever left has run out, only the watchers remain.
    // The last abuser may have left a moment ago, so /users is asked until it settles.
    let w = &mut watchers[0];
    let deadline = Instant::now() + WAIT * 3;
    loop {
        w.send("/users");
        let users = w.expect_prefix("-- ");
        if users == "-- 3 users in lobby: w0 (op), w1, w2" {
            break;
        }
        assert!(Instant::now() < deadline, "ghosts in /users: {users}");
        thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + WAIT * 3;
    while server.open_fds() > fd_baseline {
        assert!(
            Instant::now() < deadline,
            "{} descriptors open, baseline {fd_baseline}",
            server.open_fds()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// A server for abuse: a short linger and grace so refused and lost clients clear quickly, and a
/// login timeout of 3 s unless the case sets its own.
fn abuse_server(extra: &[&str]) -> Server {
    let login_timeout = if extra.contains(&"--login-timeout") {
        &[][..]
    } else {
        &["--login-timeout", "3"][..]
    };
    Server::builder()
        .args(login_timeout.iter().copied())
        .args(["--linger-ms", "200", "--grace", "1"])
        .args(extra.iter().copied())
        .start()
}

/// Open descriptors with the three watchers connected.
fn baseline_with_watchers(server: &Server) -> usize {
    server.open_fds() + 3
}

#[test]
fn a_50_mb_line_without_a_newline() {
    let server = abuse_server(&[]);
    let baseline = baseline_with_watchers(&server);
    let watchers = start_watchers(&server);
    let mut hog = server.login("hog");
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..50 {
        hog.write_raw(&chunk).unwrap();
    }
    hog.send("");
    hog.expect_prefix("! line-too-long: ");
    hog.send("short again");
    hog.send("/quit");
    hog.expect_closed();
    aftermath(&server, watchers.finish(), baseline);
}

/// A small deterministic generator, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_bytes_control_characters_and_escapes() {
    let server = abuse_server(&[]);
    let baseline = baseline_with_watchers(&server);
    let watchers = start_watchers(&server);
    let mut rng = XorShift(0x5eed_cafe_f00d_d00d);
    // Bytes that hostile input is made of: NUL, invalid UTF-8, telnet IAC, ESC sequences, bare CR.
    const NASTY: &[&[u8]] = &[
        b"\0",
        b"\xff",
        b"\xff\xfa",
        b"\xff\xf0",
        b"\xc3\x28",
        b"\x80",
        b"\x1b[31m",
        b"\x1b]0;t\x07",
        b"\r",
        b"\x08",
        b"\x7f",
        b"\x07",
        b"\t",
        b"\n",
        b"hello ",
        b"\xed\xa0\x80",
        b"\x1b",
        b"ok",
    ];
    let mut noisy: Vec<Client> = (0..10)
        .map(|i| server.login(&format!("noise{i}")))
        .collect();
    for round in 0..200 {
        for c in &mut noisy {
            let mut burst = Vec::new();
            for _ in 0..32 {
                burst.extend_from_slice(NASTY[(rng.next() % NASTY.len() as u64) as usize]);
                burst.push((rng.next() & 0xff) as u8);
            }
            if round % 50 == 49 {
                burst.push(b'\n');
            }
            // A client the server dropped (say, for flooding) just stops.
            let _ = c.write_raw(&burst);
        }
    }
    drop(noisy);
    aftermath(&server, watchers.finish(), baseline);
}

#[test]
fn five_hundred_clients_dribbling_a_nickname_are_timed_out_with_a_reason() {
    // All from one address, over its share of waiting connections: this case is about the
    // login timeout, the budget's own case is below.
    let server = abuse_server(&["--max-unregistered-per-ip", "1000"]);
    let baseline = baseline_with_watchers(&server);
    let watchers = start_watchers(&server);
    let mut dribblers: Vec<Client> = (0..500).map(|_| server.connect()).collect();
    // One byte per second each, never a line end, until the login timeout (3 s) ends them.
    for second in 0..5 {
        for c in &mut dribblers {
            let _ = c.write_raw(&[b'a' + second]);
        }
        thread::sleep(Duration::from_secs(1));
    }
    for c in &mut dribblers {
        let lines = c.expect_closed();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("-- bye reconnect: login timeout (3 s)")),
            "a dribbler was closed without a reason: {lines:?}"
        );
    }
    drop(dribblers);
    aftermath(&server, watchers.finish(), baseline);
}

#[test]
fn two_thousand_idle_connections_and_a_connect_reset_burst() {
    // Waiting connections are not budgeted here: this case is about --max-clients (the budget's
    // own case is below).
    let server = abuse_server(&[
        "--login-timeout",
        "20",
        "--max-clients",
        "1500",
        "--max-unregistered",
        "5000",
        "--max-unregistered-per-ip",
        "5000",
    ]);
    let baseline = baseline_with_watchers(&server);
    let watchers = start_watchers(&server);
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..2000 {
        held.push(TcpStream::connect(server.addr).unwrap());
    }
    // A burst of connections reset at once.
    for _ in 0..1000 {
        let s = TcpStream::connect(server.addr).unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    }
    // Beyond --max-clients every connection was told why (some may be refused without a word
    // only under a flood of refusals, and then closed at once).
    let mut told = 0;
    let mut silent = 0;
    for s in held.iter().skip(1500) {
        let mut c = Client::connect_stream(s.try_clone().unwrap());
        let lines = c.expect_closed();
        if lines
            .iter()
            .any(|l| l.starts_with("-- bye reconnect: server full (1500 clients)"))
        {
            told += 1;
        } else {
            silent += 1;
        }
    }
    assert!(told > 0, "no refused client was told why");
    assert!(
        silent <= 256,
        "{silent} refused clients were closed without a reason"
    );
    drop(held);
    aftermath(&server, watchers.finish(), baseline);
}

#[test]
fn users_who_never_read_while_others_flood_are_dropped_alone() {
    let server = abuse_server(&[
        "--rate",
        "0",
        "--max-queue",
        "131072",
        "--soft-queue",
        "65536",
    ]);
    let baseline = baseline_with_watchers(&server);
    let watchers = start_watchers(&server);
    let mut sleepers = Vec::new();
    for i in 0..5 {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&server.addr.into()).unwrap();
        let mut c = Client::connect_stream(socket.into());
        c.login(&format!("sleepy{i}"));
        sleepers.push(c);
    }
    let mut flooders: Vec<Client> = (0..2).map(|i| server.login(&format!("flood{i}"))).collect();
    // 10 MB for every reader: more than the kernel's socket buffers can hide for the sleepers.
    for round in 0..120 {
        for (i, f) in flooders.iter_mut().enumerate() {
            let batch: String = (0..500)
                .map(|n| format!("flood{i} round {round} line {n} {}\n", "z".repeat(60)))
                .collect();
            // The flooders read nothing either, so they may be dropped too: then writes fail.
            let _ = f.write_raw(batch.as_bytes());
        }
        thread::sleep(Duration::from_millis(10));
    }
    server.wait_for_log("output queue");
    let watchers = watchers.finish();
    // The flooders read nothing either and may be dropped too; the sleepers certainly are.
    for i in 0..5 {
        server.wait_for_log(&format!(
            "msg=\"lost the connection\" nick=sleepy{i} reason=send_queue_exceeded"
        ));
    }
    drop(sleepers);
    drop(flooders);
    aftermath(&server, watchers, baseline);
}

#[test]
fn one_user_flooding_a_hundred_thousand_lines() {
    let server = abuse_server(&["--flood-kick-secs", "2"]);
    let baseline = baseline_with_watchers(&server);
    let watchers = start_watchers(&server);
    let mut flooder = server.login("flooder");
    let batch: String = (0..100_000).map(|n| format!("spam {n}\n")).collect();
    // The server stops reading the flooder, so this write may block: write from a thread.
    let mut writer = flooder.stream().try_clone().unwrap();
    let write = thread::spawn(move || {
        use std::io::Write;
        let _ = writer.write_all(batch.as_bytes());
    });
    flooder.expect_exact("! flood: you are sending too fast; your lines are delayed");
    flooder.expect_exact("-- bye reconnect: excess flood");
    flooder.expect_closed();
    write.join().unwrap();
    let watchers = watchers.finish();
    aftermath(&server, watchers, baseline);
}

#[test]
fn two_hundred_clients_reset_in_the_middle_of_a_line() {
    let server = abuse_server(&[]);
    let baseline = baseline_with_watchers(&server);
    let watchers = start_watchers(&server);
    let mut clients: Vec<Client> = (0..200).map(|i| server.login(&format!("r{i}"))).collect();
    for c in &mut clients {
        c.send_raw(b"half a li");
    }
    for c in clients {
        c.reset();
    }
    let watchers = watchers.finish();
    // None of them may be left in /users once the short grace has run out: aftermath checks.
    aftermath(&server, watchers, baseline);
}

#[test]
fn two_thousand_idle_connections_from_a_hundred_addresses_cannot_keep_a_user_out() {
    // The login timeout is long enough that the flood is still there when the user comes.
    let server = abuse_server(&["--login-timeout", "120"]);
    let baseline = baseline_with_watchers(&server);
    let watchers = start_watchers(&server);
    let mut held: Vec<Client> = Vec::new();
    for address in 0..100u8 {
        let from = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 2, address + 1));
        for _ in 0..20 {
            held.push(Client::connect_from(server.addr, from));
        }
    }
    // A new user from another address logs in while every one of them is held open.
    let mut user = server.connect_from(250);
    user.login("newcomer");
    user.send("/users");
    user.expect_prefix("-- 4 users in lobby");
    // The flood was turned away past its address's share, and made way for the user.
    server.wait_for_log("bye=too_many_waiting_from_address");
    server.wait_for_log("displaced while waiting to log in");
    user.send("/quit");
    user.expect_closed();
    drop(held);
    aftermath(&server, watchers.finish(), baseline);
}
