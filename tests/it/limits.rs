//! Limits: connection caps, output-queue caps for slow readers, and the idle timeout. Each one
//! tells the client why in one line (or, for a reader that stopped reading, tells the room).

use std::net::SocketAddr;
use std::thread;
use std::time::Instant;

use crate::support::{unstamp, Client, Server, WAIT};

#[test]
fn max_clients_refuses_with_a_reason_and_frees_the_slot_on_leave() {
    let server = Server::builder()
        .args(["--max-clients", "2", "--linger-ms", "200"])
        .start();
    let mut alice = server.login("alice");
    let _bob = server.login("bob");
    let mut third = server.connect();
    third.expect_exact("-- bye reconnect: server full (2 clients); try again later");
    third.expect_closed();
    // Leaving frees the slot once the connection is closed.
    alice.send("/quit");
    alice.expect_closed();
    drop(alice);
    let deadline = Instant::now() + WAIT;
    loop {
        let mut carol = server.connect();
        carol.send("carol");
        let first = carol.next_line();
        if first.starts_with("-- Welcome to reactor-chat!") {
            carol.expect_exact("-- Welcome, carol! You are in room lobby.");
            break;
        }
        assert_eq!(
            first,
            "-- bye reconnect: server full (2 clients); try again later"
        );
        assert!(Instant::now() < deadline, "the slot was never freed");
        thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn max_per_ip_applies_to_loopback_only_when_asked() {
    let limited = Server::builder()
        .args([
            "--max-per-ip",
            "2",
            "--limit-loopback",
            "--linger-ms",
            "200",
        ])
        .start();
    let _a = limited.login("a");
    let _b = limited.login("b");
    let mut c = limited.connect();
    c.expect_exact("-- bye final: too many connections from your address (2)");
    c.expect_closed();
    // Another address is not affected.
    let mut d = limited.connect_from(2);
    d.login("d");

    // Without --limit-loopback local load tests may open many connections.
    let open = Server::builder().args(["--max-per-ip", "2"]).start();
    let _clients: Vec<Client> = (0..5).map(|i| open.login(&format!("n{i}"))).collect();
}

/// A client whose receive window is tiny and which never reads: its output backs up in the
/// server.
fn connect_non_reader(addr: SocketAddr) -> Client {
    connect_non_reader_as(addr, "sleepy")
}

/// As `connect_non_reader`, logged in as `nick`.
fn connect_non_reader_as(addr: SocketAddr, nick: &str) -> Client {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: std::net::TcpStream = socket.into();
    let mut c = Client::connect_stream(stream);
    c.login(nick);
    c
}

/// Sends `count` lines "line N ppp..." (about 390 bytes each) in 64 KiB writes, as a flooding
/// client would.
fn send_padded_lines(c: &mut Client, count: usize) {
    let pad = "p".repeat(380);
    let mut batch = String::new();
    for i in 0..count {
        batch.push_str(&format!("line {i} {pad}\n"));
        if batch.len() > 64 * 1024 {
            c.write_raw(batch.as_bytes()).unwrap();
            batch.clear();
        }
    }
    c.write_raw(batch.as_bytes()).unwrap();
}

/// Reads `count` lines "alice: line N ..." in order, failing on a gap. Returns the client and the
/// other lines that arrived in between.
fn read_all_from_alice(mut c: Client, count: usize) -> (Client, Vec<String>) {
    let mut others = Vec::new();
    let mut expected = 0;
    let deadline = Instant::now() + WAIT * 3;
    while expected < count {
        let Some(line) = c.next_line_by(deadline) else {
            c.fail(&format!("only {expected} of {count} lines arrived"));
        };
        let Some(rest) = unstamp(&line).and_then(|t| t.strip_prefix("alice: line ")) else {
            others.push(line);
            continue;
        };
        let n: usize = rest.split(' ').next().unwrap().parse().unwrap();
        if n != expected {
            c.fail(&format!("expected line {expected}, got {n}"));
        }
        expected += 1;
    }
    (c, others)
}

#[test]
fn a_reader_that_stops_reading_is_dropped_and_costs_nobody_else_a_line() {
    let server = Server::builder()
        .args([
            "--rate",
            "0",
            "--max-queue",
            "65536",
            "--soft-queue",
            "32768",
        ])
        .start();
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    let carol = server.login("carol");
    let _sleepy = connect_non_reader(server.addr);
    const LINES: usize = 20_000;
    let (bob, carol) = thread::scope(|s| {
        let bob = s.spawn(|| read_all_from_alice(bob, LINES));
        let carol = s.spawn(|| read_all_from_alice(carol, LINES));
        send_padded_lines(&mut alice, LINES);
        (bob.join().unwrap(), carol.join().unwrap())
    });
    const NOTICE: &str = "* sleepy lost the connection (send queue exceeded)";
    for (mut c, others) in [bob, carol] {
        if !others.iter().any(|l| unstamp(l) == Some(NOTICE)) {
            c.expect_stamped(NOTICE);
        }
    }
    alice.expect_stamped("* sleepy lost the connection (send queue exceeded)");
    server.wait_for_log("output queue");
}

#[test]
fn all_output_over_max_output_memory_drops_the_furthest_behind_and_nobody_else_loses_a_line() {
    // Each queue may hold 4 MiB, but all of them together only 1 MiB: three readers that never
    // read would each stay under their own cap, and together they pass the total.
    let server = Server::builder()
        .args([
            "--rate",
            "0",
            "--max-queue",
            "4194304",
            "--soft-queue",
            "4194304",
        ])
        .args(["--max-output-memory", "1048576"])
        .start();
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    let _sleepers: Vec<Client> = (0..3)
        .map(|i| connect_non_reader_as(server.addr, &format!("sleepy{i}")))
        .collect();
    const LINES: usize = 10_000;
    thread::scope(|s| {
        let bob = s.spawn(|| read_all_from_alice(bob, LINES));
        send_padded_lines(&mut alice, LINES);
        // bob read every line, in order.
        bob.join().unwrap();
    });
    server.wait_for_log("passes --max-output-memory");
    for i in 0..3 {
        server.wait_for_log(&format!(
            "msg=\"lost the connection\" nick=sleepy{i} reason=send_queue_exceeded"
        ));
    }
}

#[test]
fn a_reader_that_stays_behind_the_soft_cap_is_dropped_after_the_grace_seconds() {
    // The hard cap is out of reach; only the soft cap held for a second can trip.
    let server = Server::builder()
        .args([
            "--rate",
            "0",
            "--max-queue",
            "100000000",
            "--soft-queue",
            "16384",
            "--soft-queue-secs",
            "1",
        ])
        .start();
    let mut alice = server.login("alice");
    let _sleepy = connect_non_reader(server.addr);
    let line = format!("{}\n", "q".repeat(1000));
    let started = Instant::now();
    // Keep its queue above the soft cap until it is dropped (bounded in time and count).
    for _ in 0..200 {
        let batch = line.repeat(64);
        alice.write_raw(batch.as_bytes()).unwrap();
        if server.log().contains("cap=soft-queue") {
            alice.expect_stamped("* sleepy lost the connection (send queue exceeded)");
            assert!(server.log().contains("output queue over its cap"));
            return;
        }
        thread::sleep(std::time::Duration::from_millis(50));
        if started.elapsed() > WAIT {
            break;
        }
    }
    panic!("the soft cap never tripped; log:\n{}", server.log());
}

#[test]
fn an_idle_user_gets_a_ping_timeout_and_the_room_is_told() {
    let server = Server::builder()
        .args(["--idle-timeout", "1", "--linger-ms", "200"])
        .start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    // bob keeps talking; alice says nothing.
    let deadline = Instant::now() + WAIT;
    loop {
        bob.send("/users");
        if let Some(line) =
            alice.next_line_by(Instant::now() + std::time::Duration::from_millis(300))
        {
            if line.starts_with("-- bye reconnect: ping timeout (no input for 1 s)") {
                break;
            }
        }
        if Instant::now() > deadline {
            alice.fail("no ping timeout");
        }
    }
    alice.expect_closed();
    bob.expect_stamped("* alice lost the connection (ping timeout)");
    bob.send("/who");
    bob.expect_exact("-- 1 user in lobby: bob");
}

#[test]
fn out_of_descriptors_pauses_accepting_and_the_backlog_is_served_later() {
    // Room for about 30 connections beyond the server's own descriptors.
    let server = Server::builder()
        .nofile(40)
        // More than the descriptors allow, which is what this case is about (by default the cap
        // follows the open-files limit, and a full server refuses before accepting pauses), and
        // fifty connections waiting to log in from one address.
        .args([
            "--greet-delay-ms",
            "0",
            "--linger-ms",
            "100",
            "--max-clients",
            "1000",
        ])
        .args(["--max-unregistered-per-ip", "1000"])
        .start();
    let mut alice = server.login("alice");
    let mut clients: Vec<Client> = (0..50).map(|_| server.connect()).collect();
    server.wait_for_log("pausing accepts");
    // The server keeps serving the users it has while it waits for descriptors.
    alice.send("/users");
    alice.expect_exact("-- 1 user in lobby: alice (op)");
    // Free 25 descriptors: every connection still waiting in the backlog is then served.
    let waiting = clients.split_off(25);
    for c in clients {
        c.reset();
    }
    for mut c in waiting {
        c.expect_exact("-- Welcome to reactor-chat! Enter your nickname:");
    }
    assert!(
        server.log().contains("Too many open files"),
        "{}",
        server.log()
    );
}
