//! Korean through real telnet clients, driven in tmux: Debian's inetutils `telnet` and BusyBox's.
//! A telnet (its lines end with `\r`) is asked for BINARY after its first line, so UTF-8 it sends
//! is not taken for its escape character; `nc`-style clients never see a telnet byte.
//! `scripts/test.sh` installs tmux, telnet and busybox; a test here fails when one is missing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{Client, Server, Terminal};

fn telnet(server: &Server, program: &str) -> Terminal {
    let (ip, port) = (server.addr.ip(), server.addr.port());
    let terminal = Terminal::run(&format!("{program} {ip} {port}"));
    terminal.wait_for("Enter your nickname:");
    terminal
}

/// What `watcher` must see, in order, of what the telnet user sends: their arrival, then the line.
fn expect_korean_action(watcher: &mut Client, terminal: &Terminal, nick: &str) {
    watcher.expect_stamped(&format!("* {nick} joined"));
    terminal.type_line("/me 손을 흔듭니다");
    let line = watcher.expect_next("the Korean action", |l| l.contains(nick));
    assert!(
        line.ends_with(&format!("* {nick} 손을 흔듭니다")),
        "{line:?}\nthe telnet's screen:\n{}",
        terminal.screen()
    );
    assert!(
        !terminal.screen().contains("telnet>"),
        "{}",
        terminal.screen()
    );
}

#[test]
fn debian_telnet_sends_korean_once_logged_in() {
    let server = Server::start();
    let mut watcher = server.login("watcher");
    let terminal = telnet(&server, "telnet");
    // Its first line goes out before the server knows it is a telnet; a Latin name is safe.
    terminal.type_line("alice");
    terminal.wait_for("-- Resume key:");
    expect_korean_action(&mut watcher, &terminal, "alice");
    // A Korean nickname is fine once BINARY is on.
    terminal.type_line("/nick 이영희");
    watcher.expect_stamped("* alice is now known as 이영희");
}

#[test]
fn busybox_telnet_sends_a_korean_nickname_and_korean_lines() {
    let server = Server::start();
    let mut watcher = server.login("watcher");
    let terminal = telnet(&server, "busybox telnet");
    terminal.type_line("이영희");
    terminal.wait_for("-- Resume key:");
    expect_korean_action(&mut watcher, &terminal, "이영희");
}

/// Everything the server sends to a raw client that logs in with `login` and says one line.
fn raw_session(server: &Server, login: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.write_all(login).unwrap();
    stream.write_all(b"/quit\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).unwrap();
    received
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[test]
fn only_clients_ending_lines_with_cr_are_asked_for_binary_and_only_once() {
    const DO_BINARY: &[u8] = &[255, 253, 0];
    let server = Server::start();
    // nc and the line client end lines with a bare \n: not one telnet byte.
    let nc = raw_session(&server, b"dave\nhello\n");
    assert!(!nc.contains(&255), "{:?}", String::from_utf8_lossy(&nc));
    // A telnet ends them with \r\n (or \r\0): asked once, before the welcome.
    let telnet = raw_session(&server, b"tina\r\nhello\r\n");
    assert_eq!(count(&telnet, DO_BINARY), 1);
    let at = |needle: &[u8]| {
        telnet
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    // After the greeting (sent before anything is known), before the reply to the first line.
    let asked = at(DO_BINARY);
    assert!(
        at(b"Enter your nickname:") < asked,
        "{:?}",
        String::from_utf8_lossy(&telnet)
    );
    assert!(
        asked < at(b"-- Welcome, tina!"),
        "{:?}",
        String::from_utf8_lossy(&telnet)
    );
    // The telnet's answer (IAC WILL BINARY) is negotiation, not text.
    let answered = raw_session(&server, b"tom\r\n\xff\xfb\x00hello\r\n");
    assert!(
        !String::from_utf8_lossy(&answered).contains("! invalid-utf8"),
        "{:?}",
        String::from_utf8_lossy(&answered)
    );
}
