//! Flood control: a flooder is slowed down, never loses a line, and costs nobody else anything;
//! one that stays behind too long is dropped; `--rate 0` turns it off.

use std::collections::HashMap;
use std::time::Instant;

use crate::support::{unstamp, Client, Server, WAIT};

/// `count` numbered lines (`tag 0000`, `tag 0001`, ...) in one write, as a paste or a script
/// would send them.
fn flood_bytes(tag: &str, count: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..count {
        bytes.extend_from_slice(format!("{tag} {i:04}\n").as_bytes());
    }
    bytes
}

/// `from: text` for each numbered line of `flood_bytes`.
fn numbered(from: &str, tag: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{from}: {tag} {i:04}")).collect()
}

/// Reads until `log` holds every expected chat line (`sender: text`, after the stamp; repeats
/// count), appending every line read to `log`.
fn read_until_logged(client: &mut Client, log: &mut Vec<String>, expected: &[String]) {
    let mut missing: HashMap<&str, usize> = HashMap::new();
    for e in expected {
        *missing.entry(e.as_str()).or_default() += 1;
    }
    let tick = |line: &str, missing: &mut HashMap<&str, usize>| {
        if let Some(n) = unstamp(line).and_then(|rest| missing.get_mut(rest)) {
            *n = n.saturating_sub(1);
        }
    };
    for line in log.iter() {
        tick(line, &mut missing);
    }
    missing.retain(|_, n| *n > 0);
    // Generous: a whole backlog may have to drain at the configured rate first.
    let deadline = Instant::now() + WAIT * 2;
    while !missing.is_empty() {
        let Some(line) = client.next_line_by(deadline) else {
            client.fail(&format!("{} expected lines never came", missing.len()));
        };
        tick(&line, &mut missing);
        missing.retain(|_, n| *n > 0);
        log.push(line);
    }
}

/// The texts of `from`'s chat lines in `lines`, in the order they arrived.
fn said_by<'a>(lines: &'a [String], from: &str) -> Vec<&'a str> {
    let prefix = format!("{from}: ");
    lines
        .iter()
        .filter_map(|l| unstamp(l)?.strip_prefix(prefix.as_str()))
        .collect()
}

#[test]
fn a_flooder_is_delayed_without_loss_while_others_keep_chatting() {
    // 200 lines at 60 lines/s after a burst of 10: about three seconds of backlog.
    let server = Server::builder()
        .args(["--rate", "60", "--burst", "10"])
        .start();
    let nicks = ["alice", "bob", "carol"];
    let mut users: Vec<Client> = Vec::new();
    for nick in nicks {
        let c = server.login(nick);
        for u in &mut users {
            u.expect_stamped(&format!("* {nick} joined"));
        }
        users.push(c);
    }
    let mut mallory = server.login("mallory");
    for u in &mut users {
        u.expect_stamped("* mallory joined");
    }

    // The paste ends with a /help, answered once the backlog has drained (the round trip of
    // `sync`, queued behind the backlog): only the others' chat may come between the one warning
    // and that answer.
    let mut paste = flood_bytes("flood", 200);
    paste.extend_from_slice(b"/help quit\n");
    mallory.send_raw(&paste);
    mallory.expect_next("the flood warning", |l| {
        l == "! flood: you are sending too fast; your lines are delayed"
    });

    // The backlog is being delivered. The well-behaved users hold a conversation meanwhile:
    // three rounds in which each says something and waits to hear the other two.
    let mut logs: Vec<Vec<String>> = vec![Vec::new(); nicks.len()];
    read_until_logged(
        &mut users[0],
        &mut logs[0],
        &numbered("mallory", "flood", 0..1),
    );
    let said = |nick: &str, round: usize| format!("{nick}: round {round}");
    for round in 0..3 {
        for u in &mut users {
            u.send(&format!("round {round}"));
        }
        for (i, nick) in nicks.iter().enumerate() {
            let others: Vec<String> = nicks
                .iter()
                .filter(|n| *n != nick)
                .map(|n| said(n, round))
                .collect();
            read_until_logged(&mut users[i], &mut logs[i], &others);
        }
    }
    // Then everybody reads the rest of mallory's lines.
    let flood = numbered("mallory", "flood", 0..200);
    for (u, log) in users.iter_mut().zip(&mut logs) {
        read_until_logged(u, log, &flood);
    }

    for (i, nick) in nicks.iter().enumerate() {
        let (u, log) = (&users[i], &logs[i]);
        // Every flood line exactly once, in order.
        let sent: Vec<&str> = flood.iter().map(|l| &l["mallory: ".len()..]).collect();
        if said_by(log, "mallory") != sent {
            u.fail("mallory's lines were lost, repeated or reordered");
        }
        for other in nicks.iter().filter(|n| *n != nick) {
            if said_by(log, other) != ["round 0", "round 1", "round 2"] {
                u.fail(&format!("{other}'s lines were lost, repeated or reordered"));
            }
        }
        // The whole conversation took place while mallory's backlog was still being delivered:
        // nobody's lines waited behind it.
        let last_flood = log.iter().position(|l| l.ends_with("flood 0199"));
        let last_talk = log.iter().rposition(|l| l.ends_with(": round 2"));
        if last_talk > last_flood {
            u.fail("the conversation waited for mallory's backlog");
        }
        if log.iter().any(|l| l.starts_with("! ")) {
            u.fail("a well-behaved user was refused something");
        }
    }

    // The warning came once, for the whole backlog.
    let line = mallory.expect_where("the answer to /help quit", |l| {
        !nicks
            .iter()
            .any(|n| unstamp(l).is_some_and(|rest| rest.starts_with(&format!("{n}: "))))
    });
    if !line.starts_with("-- /quit") {
        mallory.fail("expected nothing but chat before the answer to /help quit");
    }
    for u in &mut users {
        u.expect_quiet();
    }
}

#[test]
fn a_flooder_held_back_too_long_is_dropped() {
    let server = Server::builder()
        .args(["--rate", "5", "--burst", "5", "--flood-kick-secs", "1"])
        .args(["--linger-ms", "200"])
        .start();
    let mut alice = server.login("alice");
    let mut mallory = server.login("mallory");
    alice.expect_stamped("* mallory joined");
    // 200 s worth of lines at 5/s, as if it never stopped sending: mallory stays behind until it
    // is dropped.
    mallory.send_raw(&flood_bytes("spam", 1000));
    let lines = mallory.expect_closed();
    let warnings = lines.iter().filter(|l| l.starts_with("! flood: ")).count();
    assert_eq!(warnings, 1, "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-- bye reconnect: excess flood"),
        "{lines:?}"
    );
    // The room is told why. Before that it got some of mallory's lines (throttled, not cut off at
    // once), far from all of them, and none after.
    let mut before = Vec::new();
    loop {
        let line = alice.next_line();
        if unstamp(&line) == Some("* mallory lost the connection (excess flood)") {
            break;
        }
        before.push(line);
    }
    let spam = said_by(&before, "mallory");
    assert!(
        (5..100).contains(&spam.len()),
        "{} lines got through",
        spam.len()
    );
    alice.expect_quiet();
}

#[test]
fn rate_zero_turns_flood_control_off() {
    let server = Server::builder().args(["--rate", "0"]).start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    bob.send_raw(&flood_bytes("burst", 500));
    let burst = numbered("bob", "burst", 0..500);
    let mut log = Vec::new();
    read_until_logged(&mut alice, &mut log, &burst);
    let sent: Vec<&str> = burst.iter().map(|l| &l["bob: ".len()..]).collect();
    assert!(
        said_by(&log, "bob") == sent,
        "lost, repeated or reordered lines"
    );
    // No warning for bob.
    bob.expect_quiet();
    alice.expect_quiet();
}
