//! Held sessions under attack: a user who logs in under fresh names and resets the connection
//! again and again, while five well-behaved users chat at 100 lines a second. What a held session
//! costs is bounded per session (the room's recent lines are shared, not copied), held sessions
//! are capped per address and in total (`--max-held-per-ip`, `--max-held`), and the churn reaches
//! the room as summaries, not a line per arrival. Memory is asserted as bounds, never time.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::support::{unstamp, Client, Server, WAIT};

/// The talkers' pace: 20 lines a second each, inside flood control's default rate.
const TALK_EVERY: Duration = Duration::from_millis(50);
const TALKERS: usize = 5;

/// Five users chatting the whole time, and what each of them received.
struct Talkers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Heard>>,
}

/// What one talker saw: its client, and how many lines that were not the talkers' own chat
/// (joins, losses, departures, summaries) reached it.
struct Heard {
    client: Client,
    presence_lines: usize,
}

/// Each talker sends `tK SEQ` every 50 ms until told to stop, then `tK end COUNT`, and reads
/// until it has the others' ends; every line from another talker must be the next in its
/// sequence, and in the end every line sent must have arrived.
fn start_talkers(server: &Server) -> Talkers {
    let mut clients: Vec<Client> = (0..TALKERS)
        .map(|k| server.login(&format!("t{k}")))
        .collect();
    for c in &mut clients {
        c.send("/users");
        c.expect_prefix("-- ");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let threads = clients
        .into_iter()
        .enumerate()
        .map(|(k, c)| {
            let stop = stop.clone();
            thread::spawn(move || talk(k, c, &stop))
        })
        .collect();
    Talkers { stop, threads }
}

/// What a talker has read so far.
#[derive(Default)]
struct Tally {
    /// The next sequence number expected from each other talker.
    next: HashMap<String, u64>,
    /// The counts the other talkers said they sent, once they have ended.
    ended: HashMap<String, u64>,
    presence_lines: usize,
}

impl Tally {
    fn read(&mut self, me: &str, c: &Client, line: &str) {
        let Some(text) = unstamp(line) else {
            return;
        };
        let Some((from, body)) = text.split_once(": ") else {
            if text.starts_with("* ") {
                self.presence_lines += 1;
            }
            return;
        };
        if !from.starts_with('t') || from == me {
            return;
        }
        if let Some(count) = body.strip_prefix(&format!("{from} end ")) {
            self.ended.insert(from.to_string(), count.parse().unwrap());
            return;
        }
        let seq: u64 = body.rsplit(' ').next().unwrap().parse().unwrap();
        let expected = self.next.entry(from.to_string()).or_insert(0);
        if seq != *expected {
            c.fail(&format!("from {from}: expected line {expected}, got {seq}"));
        }
        *expected += 1;
    }
}

fn talk(k: usize, mut c: Client, stop: &AtomicBool) -> Heard {
    let me = format!("t{k}");
    let mut tally = Tally::default();
    let mut sent = 0u64;
    let mut due = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        c.send(&format!("{me} {sent}"));
        sent += 1;
        due += TALK_EVERY;
        while let Some(line) = c.next_line_by(due) {
            tally.read(&me, &c, &line);
        }
    }
    c.send(&format!("{me} end {sent}"));
    let deadline = Instant::now() + WAIT * 6;
    while tally.ended.len() < TALKERS - 1 {
        let Some(line) = c.next_line_by(deadline) else {
            c.fail(&format!(
                "the other talkers' ends never came: {:?}",
                tally.ended
            ));
        };
        tally.read(&me, &c, &line);
    }
    for (from, count) in &tally.ended {
        let got = tally.next.get(from).copied().unwrap_or(0);
        if got != *count {
            c.fail(&format!("{from} sent {count} lines, {got} arrived"));
        }
    }
    Heard {
        client: c,
        presence_lines: tally.presence_lines,
    }
}

impl Talkers {
    /// Ends the chat and checks that no talker lost a line.
    fn finish(self) -> Vec<Heard> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| t.join().expect("a talker failed (its transcript is above)"))
            .collect()
    }
}

/// Peak resident memory so far, in KiB.
fn peak_rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Logs in under a fresh name from `from`, says one line, and resets the connection after `live`.
fn churn_one(server: SocketAddr, from: IpAddr, nick: &str, live: Duration) {
    let born = Instant::now();
    let mut c = Client::connect_from(server, from);
    // The login and the line in one write: the server takes them in order, and the churner
    // does not wait for the welcome, as an attacker would not.
    c.send_raw(format!("{nick}\nhello from {nick}\n").as_bytes());
    thread::sleep(live.saturating_sub(born.elapsed()));
    c.reset();
}

#[test]
fn churn_from_one_address_costs_bounded_memory_and_reaches_the_room_as_summaries() {
    let grace = 12;
    let server = Server::builder()
        .args(["--grace", &grace.to_string(), "--linger-ms", "200"])
        .start();
    let talkers = start_talkers(&server);
    // The room's recent lines fill within a few seconds of chat; memory is measured from there.
    thread::sleep(Duration::from_secs(3));
    let before = server.rss_kib();
    let attacker = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 66));
    // As fast as it can for 10 s: 150 churners, each session living one second.
    let end = Instant::now() + Duration::from_secs(10);
    let churners: Vec<JoinHandle<usize>> = (0..150)
        .map(|worker| {
            let addr = server.addr;
            thread::spawn(move || {
                let mut n = 0;
                while Instant::now() < end {
                    churn_one(
                        addr,
                        attacker,
                        &format!("c{worker}x{n}"),
                        Duration::from_secs(1),
                    );
                    n += 1;
                }
                n
            })
        })
        .collect();
    let churned: usize = churners.into_iter().map(|t| t.join().unwrap()).sum();
    let peak = peak_rss_kib(&server);
    assert!(churned >= 1000, "only {churned} churns in 10 s");
    let heard = talkers.finish();
    let grown = peak.saturating_sub(before);
    let most_presence = heard.iter().map(|h| h.presence_lines).max().unwrap_or(0);
    eprintln!("{churned} churns: peak {peak} KiB, {grown} KiB over {before} KiB; at most {most_presence} presence lines per talker");
    assert!(
        grown <= 32 * 1024,
        "{churned} churns grew the server by {grown} KiB (from {before} KiB)"
    );
    // The churn reached the talkers as summaries, not thousands of lines each.
    for h in &heard {
        assert!(
            h.presence_lines <= 60,
            "{} presence lines reached {} for {churned} churns",
            h.presence_lines,
            h.client.nick
        );
    }
    // Once the grace period has passed, the held sessions are gone and so is their memory.
    thread::sleep(Duration::from_secs(grace + 2));
    let after = server.rss_kib();
    eprintln!("after the grace period: {after} KiB");
    assert!(
        after <= before + 8 * 1024,
        "{after} KiB after the grace period, {before} KiB before the churn"
    );
}

#[test]
fn a_thousand_held_sessions_cost_little_beyond_the_rooms_recent_lines() {
    const HELD: usize = 1000;
    let server = Server::builder()
        .args([
            "--grace",
            "300",
            "--max-held-per-ip",
            "5000",
            "--max-held",
            "5000",
        ])
        .start();
    let talkers = start_talkers(&server);
    // Fill the room's recent lines before measuring: they are the ring, paid for once.
    thread::sleep(Duration::from_secs(4));
    let before = server.rss_kib();
    // A thousand users from twenty addresses lose their connections and are held.
    let holders: Vec<JoinHandle<()>> = (0..20)
        .map(|a| {
            let addr = server.addr;
            thread::spawn(move || {
                let from = IpAddr::V4(Ipv4Addr::new(127, 0, 1, a + 1));
                for i in 0..HELD / 20 {
                    let mut c = Client::connect_from(addr, from);
                    c.login(&format!("h{a}x{i}"));
                    c.reset();
                }
            })
        })
        .collect();
    for h in holders {
        h.join().unwrap();
    }
    // A minute of chat in the room while they are away.
    thread::sleep(Duration::from_secs(60));
    let after = server.rss_kib();
    let heard = talkers.finish();
    let per_held = (after.saturating_sub(before) * 1024) / HELD as u64;
    assert!(
        per_held <= 2048,
        "{HELD} held sessions cost {per_held} bytes each ({before} KiB before, {after} KiB after)"
    );
    eprintln!(
        "{HELD} held sessions: {per_held} bytes each ({before} KiB before, {after} KiB after)"
    );
    // One of them comes back and gets the room's recent lines as its replay.
    let mut back = Client::connect_from(server.addr, IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1)));
    back.send("h0x0");
    back.expect("-- Welcome back, ");
    let replayed = back.expect_prefix("-- You missed ");
    assert!(replayed.ends_with("here are the last 200:"), "{replayed}");
    drop(heard);
}

#[test]
fn held_sessions_over_the_per_address_cap_end_oldest_first() {
    let server = Server::builder()
        .args([
            "--grace",
            "300",
            "--max-held-per-ip",
            "2",
            "--linger-ms",
            "200",
        ])
        .args(["--presence-rate", "600"])
        .start();
    let mut watcher = server.connect_from(9);
    watcher.login("watcher");
    let mut lost = Vec::new();
    for i in 0..3 {
        let mut c = server.connect_from(20);
        c.login(&format!("lost{i}"));
        watcher.expect(&format!("lost{i} joined"));
        lost.push(c);
    }
    for (i, c) in lost.into_iter().enumerate() {
        c.reset();
        watcher.expect(&format!("lost{i} lost the connection"));
    }
    // The third held session from the address pushed out the first, which is announced as gone.
    watcher.expect("lost0 left (did not reconnect");
    // Its name is free again; the two others are still held for their owners.
    let mut other = server.connect_from(30);
    other.login("lost0");
    let mut thief = server.connect_from(31);
    thief.send("lost1");
    thief.expect("! nick-held");
    let mut owner = server.connect_from(20);
    owner.send("lost2");
    owner.expect("-- Welcome back, ");
}

#[test]
fn held_sessions_over_the_total_cap_end_oldest_first() {
    let server = Server::builder()
        .args(["--grace", "300", "--max-held", "2", "--linger-ms", "200"])
        .args(["--presence-rate", "600"])
        .start();
    let mut watcher = server.connect_from(9);
    watcher.login("watcher");
    for i in 0..3u8 {
        let mut c = server.connect_from(40 + i);
        c.login(&format!("gone{i}"));
        watcher.expect(&format!("gone{i} joined"));
        c.reset();
        watcher.expect(&format!("gone{i} lost the connection"));
    }
    watcher.expect("gone0 left (did not reconnect");
    let mut back = server.connect_from(42);
    back.send("gone2");
    back.expect("-- Welcome back, ");
    let mut back = server.connect_from(41);
    back.send("gone1");
    back.expect("-- Welcome back, ");
}
