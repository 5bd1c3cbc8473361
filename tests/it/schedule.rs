//! Scheduled messages: `/schedule`, `/schedules`, `/unschedule`, their limits, and timing with a
//! shifted clock.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{unstamp, Client, Server};

/// alice and bob in the lobby, past bob's join notice.
fn pair(server: &Server) -> (Client, Client) {
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    (alice, bob)
}

/// Checks a `/schedule` confirmation `-- Scheduled #ID for HH:MM (in DELAY) in ROOM: TEXT` and
/// returns its `HH:MM` and `DELAY`.
fn scheduled_reply(
    client: &Client,
    line: &str,
    id: u64,
    room: &str,
    text: &str,
) -> (String, String) {
    let parsed = line
        .strip_prefix(&format!("-- Scheduled #{id} for "))
        .and_then(|rest| rest.strip_suffix(&format!(" in {room}: {text}")))
        .and_then(|rest| rest.split_once(" (in "))
        .and_then(|(hhmm, delay)| Some((hhmm, delay.strip_suffix(')')?)));
    match parsed {
        Some((hhmm, delay)) if is_hhmm(hhmm) => (hhmm.to_string(), delay.to_string()),
        _ => client.fail(&format!("not the confirmation of #{id}: {line:?}")),
    }
}

fn is_hhmm(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5 && b[2] == b':' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit())
}

#[test]
fn a_relative_schedule_goes_to_the_room_but_not_the_author() {
    let server = Server::start();
    let (mut alice, mut bob) = pair(&server);
    let sent = Instant::now();
    alice.send("/schedule +1s stand-up now!");
    let line = alice.expect_next("the confirmation", |l| l.starts_with("-- Scheduled #1 "));
    let (_, delay) = scheduled_reply(&alice, &line, 1, "lobby", "stand-up now!");
    assert!(delay == "1s" || delay == "0s", "{line}");
    bob.expect_stamped("[scheduled by alice] stand-up now!");
    // Not early (a lower bound only: a late timer on a busy machine is not this test's concern).
    let waited = sent.elapsed();
    assert!(waited >= Duration::from_secs(1), "fired after {waited:?}");
    alice.expect_next("the sent notice", |l| {
        l == "-- Scheduled message #1 was sent to lobby."
    });
    alice.expect_quiet();
    bob.expect_quiet();
}

#[test]
fn schedules_lists_pending_messages_with_their_ids() {
    let server = Server::start();
    let (mut alice, mut bob) = pair(&server);
    alice.send("/schedules");
    alice.expect_next("an empty list", |l| {
        l == "-- You have 0 scheduled messages:"
    });
    alice.expect_next("its end", |l| l == "-- End of scheduled messages.");
    alice.send("/schedule +2h later");
    alice.expect_prefix("-- Scheduled #1 for ");
    alice.send("/schedule +1h soon");
    alice.expect_prefix("-- Scheduled #2 for ");
    bob.send("/schedule +3h bob's");
    bob.expect_prefix("-- Scheduled #3 for ");
    alice.send("/schedules");
    alice.expect_next("the header", |l| l == "-- You have 2 scheduled messages:");
    // Sorted by due time: #2 first.
    let first = alice.expect_next("#2", |l| {
        l.starts_with("--   #2 ") && l.ends_with(") lobby: soon")
    });
    let second = alice.expect_next("#1", |l| {
        l.starts_with("--   #1 ") && l.ends_with(") lobby: later")
    });
    // The time left is counted down from when it was set (a busy machine may take a second).
    for (line, delay) in [
        (first, ["(in 59m", "(in 1h)"]),
        (second, ["(in 1h59m)", "(in 2h)"]),
    ] {
        assert!(
            delay
                .iter()
                .any(|d| line[13..].starts_with(&format!(" {d}")))
                && is_hhmm(&line[8..13]),
            "{line}"
        );
    }
    alice.expect_next("the end", |l| l == "-- End of scheduled messages.");
    bob.send("/schedules");
    bob.expect_next("the header", |l| l == "-- You have 1 scheduled message:");
    bob.expect_next("#3", |l| {
        l.starts_with("--   #3 ") && l.ends_with(") lobby: bob's")
    });
    bob.expect_next("the end", |l| l == "-- End of scheduled messages.");
}

#[test]
fn unschedule_cancels_and_the_message_never_goes_out() {
    let server = Server::start();
    let (mut alice, mut bob) = pair(&server);
    alice.send("/schedule +1s cancelled");
    alice.expect_prefix("-- Scheduled #1 for ");
    // Nobody else can cancel it.
    bob.send("/unschedule 1");
    bob.expect_next("no-such-schedule", |l| {
        l == "! no-such-schedule: you have no scheduled message #1"
    });
    alice.send("/unschedule #1");
    alice.expect_next("the cancellation", |l| l == "-- Cancelled #1.");
    alice.send("/unschedule 1");
    alice.expect_next("no-such-schedule", |l| {
        l == "! no-such-schedule: you have no scheduled message #1"
    });
    alice.send("/unschedule soon");
    alice.expect_next("no-such-schedule", |l| {
        l.starts_with("! no-such-schedule: ")
    });
    // A second message due after the cancelled one: once it is here, the first one's time has
    // passed, and it must not have come.
    alice.send("/schedule +2s sentinel");
    alice.expect_prefix("-- Scheduled #2 for ");
    // expect_next: nothing, the cancelled message included, may come before the sentinel.
    bob.expect_next("the sentinel", |l| {
        unstamp(l) == Some("[scheduled by alice] sentinel")
    });
    alice.expect_next("the sentinel's sent notice", |l| {
        l == "-- Scheduled message #2 was sent to lobby."
    });
    bob.expect_quiet();
    alice.expect_quiet();
    alice.send("/schedules");
    alice.expect_next("an empty list", |l| {
        l == "-- You have 0 scheduled messages:"
    });
}

#[test]
fn bad_times_are_refused() {
    let server = Server::builder()
        .arg("--schedule-horizon")
        .arg("3600")
        .start();
    let mut alice = server.login("alice");
    for bad in [
        "25:00", "12:60", "1230", "soon", "+", "+0s", "+10", "+5x", "+61m", "+2h",
    ] {
        alice.send(&format!("/schedule {bad} hello"));
        alice.expect_next(&format!("bad-time for {bad}"), |l| {
            l == "! bad-time: give HH:MM, or a delay such as +90s, +10m, +2h, at most 1h ahead"
        });
    }
    // Up to the horizon is fine.
    alice.send("/schedule +1h hello");
    alice.expect_next("the confirmation", |l| {
        l.starts_with("-- Scheduled #1 for ")
    });
    alice.send("/schedule +90s");
    alice.expect_next("a usage error", |l| l.starts_with("! usage: /schedule "));
}

#[test]
fn max_schedules_limits_pending_messages_per_user() {
    let server = Server::builder().arg("--max-schedules").arg("2").start();
    let (mut alice, mut bob) = pair(&server);
    alice.send("/schedule +1h one");
    alice.expect_prefix("-- Scheduled #1 ");
    alice.send("/schedule +1h two");
    alice.expect_prefix("-- Scheduled #2 ");
    alice.send("/schedule +1h three");
    alice.expect_next("too-many-schedules", |l| {
        l == "! too-many-schedules: you may have at most 2 pending scheduled messages"
    });
    // Per user: bob has his own allowance.
    bob.send("/schedule +1h bob's");
    bob.expect_prefix("-- Scheduled #3 ");
    // Cancelling frees a place.
    alice.send("/unschedule 1");
    alice.expect_exact("-- Cancelled #1.");
    alice.send("/schedule +1h three");
    alice.expect_prefix("-- Scheduled #4 ");
}

#[test]
fn a_scheduled_message_goes_out_after_its_author_quit() {
    let server = Server::start();
    let (mut alice, mut bob) = pair(&server);
    alice.send("/schedule +1s I'll be gone by then");
    alice.expect_prefix("-- Scheduled #1 ");
    alice.send("/quit");
    alice.expect_closed();
    bob.expect_stamped("* alice left");
    bob.expect_stamped("[scheduled by alice] I'll be gone by then");
}

/// `/schedule HH:MM` with the server's clock moved (`--clock-offset`) to a few seconds before a
/// minute boundary: the message goes out when the server's clock reaches that minute, not before.
#[test]
fn a_clock_time_schedule_fires_at_that_minute() {
    // Put the server's UTC clock 4 s (plus the fraction of the current second) before a minute
    // boundary: enough for the server to start and alice to log in on a busy machine.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let offset = (56 + 60 - now % 60) % 60;
    let boundary = now + offset + 4;
    let hhmm = format!("{:02}:{:02}", boundary / 3600 % 24, boundary / 60 % 60);
    let server = Server::builder()
        .args(["--utc", "--clock-offset", &offset.to_string()])
        .start();
    let (mut alice, mut bob) = pair(&server);
    alice.send(&format!("/schedule {hhmm} it is {hhmm}"));
    let line = alice.expect_next("the confirmation", |l| l.starts_with("-- Scheduled #1 "));
    let (due, delay) = scheduled_reply(&alice, &line, 1, "lobby", &format!("it is {hhmm}"));
    assert_eq!(due, hhmm, "{line}");
    assert!(
        ["0s", "1s", "2s", "3s", "4s"].contains(&delay.as_str()),
        "scheduled {delay} ahead, not within the next 4 s: {line}"
    );
    // Stamped with the minute it was due in: a message sent early would carry the minute before.
    bob.expect_exact(&format!("[{hhmm}] [scheduled by alice] it is {hhmm}"));
    alice.expect_exact("-- Scheduled message #1 was sent to lobby.");
}
