//! Relaying lines: order and completeness with many clients, any split of the input, line endings,
//! telnet negotiation, control characters, and bad lines that cost only themselves.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::{unstamp, Client, Server, WAIT};

#[test]
fn a_message_reaches_every_other_user_but_not_the_sender() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    alice.send("hello everyone");
    bob.expect_stamped("alice: hello everyone");
    carol.expect_stamped("alice: hello everyone");
    let echoed = alice.sync();
    assert!(
        !echoed.iter().any(|l| l.contains("hello everyone")),
        "the sender got its own line back: {echoed:?}"
    );
    // A leading "//" sends a line that starts with "/".
    bob.send("//shrug is not a command");
    alice.expect_stamped("bob: /shrug is not a command");
}

/// Reads `per_sender` messages from each of `senders` (lines "<nick>: <nick> <seq>") and checks
/// that each sender's arrive exactly once and in order.
fn read_in_order(client: &mut Client, senders: &[String], per_sender: usize) {
    let mut next: HashMap<&str, usize> = senders.iter().map(|s| (s.as_str(), 0)).collect();
    let mut remaining = senders.len() * per_sender;
    let deadline = Instant::now() + WAIT * 3;
    while remaining > 0 {
        let Some(line) = client.next_line_by(deadline) else {
            client.fail(&format!("{remaining} messages never arrived"));
        };
        let Some(text) = unstamp(&line) else { continue };
        let Some((from, body)) = text.split_once(": ") else {
            continue;
        };
        let Some(expected) = next.get_mut(from) else {
            continue;
        };
        let seq: usize = body
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| client.fail(&format!("unexpected message {line:?}")));
        if seq != *expected {
            client.fail(&format!("from {from}: expected #{expected}, got #{seq}"));
        }
        *expected += 1;
        remaining -= 1;
    }
}

#[test]
fn each_senders_lines_arrive_once_and_in_order_for_everyone() {
    let server = Server::builder().args(["--rate", "0"]).start();
    let names: Vec<String> = (0..6).map(|i| format!("user{i}")).collect();
    let mut clients: Vec<Client> = names.iter().map(|n| server.login(n)).collect();
    const LINES: usize = 300;
    // Everybody writes all their lines first (in one write each, so the server sees hundreds of
    // lines per read), then everybody reads.
    for c in &mut clients {
        let nick = c.nick.clone();
        let batch: String = (0..LINES).map(|i| format!("{nick} {i}\n")).collect();
        c.write_raw(batch.as_bytes()).unwrap();
    }
    for c in &mut clients {
        let others: Vec<String> = names.iter().filter(|n| **n != c.nick).cloned().collect();
        read_in_order(c, &others, LINES);
    }
}

#[test]
fn five_hundred_clients_chat_without_losing_a_line() {
    let server = Server::builder().args(["--rate", "0"]).start();
    const CLIENTS: usize = 500;
    let names: Vec<String> = (0..CLIENTS).map(|i| format!("u{i}")).collect();
    let mut clients: Vec<Client> = names.iter().map(|n| server.login(n)).collect();
    for c in &mut clients {
        let line = format!("{} 0\n{} 1\n", c.nick, c.nick);
        c.write_raw(line.as_bytes()).unwrap();
    }
    for c in &mut clients {
        let others: Vec<String> = names.iter().filter(|n| **n != c.nick).cloned().collect();
        read_in_order(c, &others, 2);
    }
    let mut last = clients.pop().unwrap();
    last.send("/users");
    last.expect_prefix("-- 500 users in lobby: ");
}

#[test]
fn input_split_one_byte_at_a_time_is_decoded_the_same() {
    let server = Server::start();
    let mut bob = server.login("bob");
    let mut alice = server.connect();
    let input = "alice\r\nhello, 세계\r\nsecond line\nthird\r\0fourth\r";
    for b in input.as_bytes() {
        alice.write_raw(&[*b]).unwrap();
        alice.stream().flush_for_test();
    }
    bob.expect_stamped("* alice joined");
    bob.expect_stamped("alice: hello, 세계");
    bob.expect_stamped("alice: second line");
    bob.expect_stamped("alice: third");
    bob.expect_stamped("alice: fourth");
}

trait FlushForTest {
    /// Gives each byte its own TCP segment (the server then reads one byte at a time).
    fn flush_for_test(&self);
}

impl FlushForTest for std::net::TcpStream {
    fn flush_for_test(&self) {
        // TCP_NODELAY is set by the harness; a short pause keeps writes in separate segments.
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn an_overlong_line_is_refused_and_the_connection_carries_on() {
    let server = Server::builder().args(["--max-line", "100"]).start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    // 1 MB of one line, sent in pieces: discarded as it arrives, never buffered.
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..16 {
        alice.write_raw(&chunk).unwrap();
    }
    alice.send(" tail of the long line");
    alice.expect_exact("! line-too-long: a line longer than 100 bytes was discarded");
    alice.send("short and fine");
    bob.expect_stamped("alice: short and fine");
    let seen = bob.sync();
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("xxxx") || l.contains("tail")),
        "part of the long line was relayed: {seen:?}"
    );
    // A line of exactly the limit is fine.
    alice.send(&"y".repeat(100));
    bob.expect_stamped(&format!("alice: {}", "y".repeat(100)));
}

#[test]
fn invalid_utf8_is_refused_and_the_connection_carries_on() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    // (0xff would be telnet IAC, which is stripped, so use other invalid sequences.)
    alice.send_raw(b"bad \xc3\x28 \x80 bytes\n");
    alice.expect_exact("! invalid-utf8: the line was not valid UTF-8 and was discarded");
    alice.send("good bytes");
    bob.expect_stamped("alice: good bytes");
    let seen = bob.sync();
    assert!(!seen.iter().any(|l| l.contains("bad")), "{seen:?}");
}

#[test]
fn urgent_data_does_not_hold_back_the_lines_around_it() {
    // telnet sends Ctrl-C as IAC IP and then IAC DM as TCP urgent data, and Linux's `read` stops
    // at the urgent mark, so a short read does not always mean the socket is empty. Corked, the
    // lines and the urgent byte between them arrive as one segment, in the server's buffer
    // before it reads: all of it must be taken in without the typist sending anything more.
    use socket2::SockRef;
    let server = Server::start();
    let mut watcher = server.login("watcher");
    let typist = server.login("typist");
    let sock = SockRef::from(typist.stream());
    sock.set_cork(true).unwrap();
    sock.send(b"before the mark\n").unwrap();
    sock.send_out_of_band(&[0xf2]).unwrap(); // telnet's DM, the byte telnet marks urgent
    sock.send(b"after the mark\n").unwrap();
    sock.set_cork(false).unwrap();
    watcher.expect_stamped("typist: before the mark");
    watcher.expect_stamped("typist: after the mark");
}

#[test]
fn telnet_negotiation_control_characters_and_escapes_never_reach_others() {
    let server = Server::start();
    let mut bob = server.login("bob");
    let mut alice = server.connect();
    // A telnet client's opening negotiation, then the nickname.
    alice.send_raw(b"\xff\xfb\x1f\xff\xfb\x20\xff\xfa\x18\x00xterm\xff\xf0alice\r\n");
    alice.expect_prefix("-- Resume key: ");
    bob.expect_stamped("* alice joined");
    // IAC split across writes, ANSI colour and cursor escapes, a bell, a title escape, a tab.
    alice.send_raw(b"he\xff");
    alice.send_raw(b"\xfd\x01llo \x1b[31mred\x1b[0m \x07bell \x1b]0;title\x07tab\there\r\n");
    let line = bob.expect_prefix("[");
    assert_eq!(unstamp(&line), Some("alice: hello red bell tab here"));
    assert!(
        !line.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xff),
        "control bytes reached bob: {line:?}"
    );
    // Backspace and DEL edit the line being typed, as a terminal in line mode would.
    alice.send_raw(b"typo\x08\x08\x08\x08fixed\x7f!\r\n");
    bob.expect_stamped("alice: fixe!");
}

#[test]
fn unknown_commands_get_a_clear_error() {
    let server = Server::start();
    let mut alice = server.login("alice");
    alice.send("/frobnicate now");
    alice.expect_exact("! unknown-command: /frobnicate is not a command (type /help for the list)");
    alice.send("/users");
    alice.expect_exact("-- 1 user in lobby: alice (op)");
}

#[test]
fn users_lists_who_is_present() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let _bob = server.login("Bob");
    let _carol = server.login("carol");
    for alias in ["/users", "/who", "/names"] {
        alice.send(alias);
        alice.expect_exact("-- 3 users in lobby: alice (op), Bob, carol");
    }
}
