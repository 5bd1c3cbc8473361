//! A simulated client of the line protocol and what it has been told: its login, its room, the
//! presence of each other user in that room, and the last chat line it heard from each sender.
//! Every line it receives is checked as it is parsed (see the checks in the module above).

use std::collections::{HashMap, VecDeque};

/// Where a client is in its life, as it knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No connection.
    Off,
    /// Connected, no login line sent yet.
    Greeting,
    /// Its login line is sent; waiting for the welcome (or a refusal).
    LoggingIn,
    /// Logged in.
    In,
    /// It sent `/quit`, or closed or reset its end: waiting for the end.
    Leaving,
}

/// What a client has been told about another user of its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Present,
    /// Lost the connection, held for a reconnect.
    Held,
    Absent,
}

/// The last chat line heard from one sender's session (client id and nickname: a client's
/// abandoned session may still speak beside its new one).
#[derive(Debug, Clone)]
pub struct Heard {
    pub seq: u64,
    /// Nothing since that line allows a gap before the next one (no news of the sender, no room
    /// change, same connection).
    pub continuous: bool,
}

#[derive(Debug)]
pub struct Client {
    pub cid: usize,
    /// The last byte of its address, 10.0.0.x.
    pub ip: u8,
    /// Its current kernel socket.
    pub sock: Option<usize>,
    pub state: State,
    /// The nickname it logs in with; changes when it starts a fresh session under a new name.
    pub nick: String,
    /// The resume key of its last session.
    pub key: Option<String>,
    /// Whether it reads what the server sends (a slow reader does not).
    pub reads: bool,
    /// The sequence number of the last chat line it sent.
    pub seq: u64,
    /// The sequence number of the first chat line sent on this connection.
    pub first_seq_here: u64,
    /// Its room, as the server told it.
    pub room: String,
    /// Bytes received that do not make a whole line yet.
    partial: Vec<u8>,
    /// This connection's view of its room's other members.
    pub view: HashMap<String, Presence>,
    /// By sender's session: the last chat line heard from it. Kept across connections, for the
    /// order check.
    pub heard: HashMap<(usize, String), Heard>,
    /// This connection got its `-- bye` line.
    pub got_bye: bool,
    /// This connection was welcomed.
    pub welcomed: bool,
    /// The last lines it received, for a failure's report.
    pub recent: VecDeque<String>,
}

/// By sender: chat lines that may never have reached the server, as ranges of sequence
/// numbers. A connection abandoned without a close (and later taken over by a login with the
/// resume key) takes what the server had not read of it yet along, and no notice says so.
pub type Excused = HashMap<usize, Vec<(u64, u64)>>;

/// Whether every line of `from..=to` of `cid` is excused.
pub fn excused(excused: &Excused, cid: usize, from: u64, to: u64) -> bool {
    from > to
        || excused.get(&cid).is_some_and(|ranges| {
            (from..=to).all(|seq| ranges.iter().any(|&(a, b)| a <= seq && seq <= b))
        })
}

/// A chat line a simulated client sends: its id and a sequence number, so a recipient can tell
/// a lost or reordered line.
pub fn chat_text(cid: usize, seq: u64) -> String {
    format!("#{cid}:{seq}")
}

fn parse_chat_text(text: &str) -> Option<(usize, u64)> {
    let (cid, seq) = text.strip_prefix('#')?.split_once(':')?;
    Some((cid.parse().ok()?, seq.parse().ok()?))
}

impl Client {
    pub fn new(cid: usize, ip: u8) -> Client {
        Client {
            cid,
            ip,
            sock: None,
            state: State::Off,
            nick: format!("c{cid}"),
            key: None,
            reads: true,
            seq: 0,
            first_seq_here: 1,
            room: String::new(),
            partial: Vec::new(),
            view: HashMap::new(),
            heard: HashMap::new(),
            got_bye: false,
            welcomed: false,
            recent: VecDeque::new(),
        }
    }

    /// A new connection: what the last one was told no longer holds (lines in flight on it may
    /// have been lost with it).
    pub fn connected(&mut self, sock: usize) {
        self.sock = Some(sock);
        self.first_seq_here = self.seq + 1;
        self.state = State::Greeting;
        self.partial.clear();
        self.view.clear();
        for heard in self.heard.values_mut() {
            heard.continuous = false;
        }
        self.got_bye = false;
        self.welcomed = false;
    }

    /// The connection has ended (the server's side closed, or the client reset it).
    pub fn disconnected(&mut self) {
        self.sock = None;
        self.state = State::Off;
    }

    /// Takes bytes the server sent; returns the violations they show.
    pub fn receive(&mut self, bytes: &[u8], excused: &Excused, errors: &mut Vec<String>) {
        if bytes.is_empty() {
            return;
        }
        if self.got_bye {
            errors.push(format!(
                "client {}: {} bytes after its goodbye: {:?}",
                self.cid,
                bytes.len(),
                String::from_utf8_lossy(bytes)
            ));
        }
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.partial.drain(..end + 2).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            self.on_line(&line, excused, errors);
        }
    }

    fn on_line(&mut self, line: &str, excuses: &Excused, errors: &mut Vec<String>) {
        if self.recent.len() == 12 {
            self.recent.pop_front();
        }
        self.recent.push_back(line.to_string());
        let fail = |errors: &mut Vec<String>, what: String| {
            errors.push(format!(
                "client {} ({}): {what}: {line:?}",
                self.cid, self.nick
            ));
        };
        if let Some(rest) = line.strip_prefix("-- ") {
            self.on_info(rest);
            return;
        }
        if line.starts_with("! nick-") && self.state == State::LoggingIn {
            self.state = State::Greeting; // refused: it tries again later
            return;
        }
        // `[HH:MM] ...`: chat, or a room notice.
        let Some((_, body)) = line.split_once("] ") else {
            return;
        };
        if !line.starts_with('[') {
            return;
        }
        if !self.welcomed {
            fail(errors, "room output before its login".into());
            return;
        }
        if let Some(notice) = body.strip_prefix("* ") {
            let (nick, what) = notice.split_once(' ').unwrap_or((notice, ""));
            self.on_notice(nick, what, line, errors);
            return;
        }
        let Some((nick, text)) = body.split_once(": ") else {
            return;
        };
        if nick.starts_with('*') || nick.starts_with('[') {
            return; // a whisper or a scheduled message
        }
        let Some((cid, seq)) = parse_chat_text(text) else {
            return;
        };
        if cid == self.cid && nick == self.nick {
            fail(errors, "its own line came back".into());
        }
        match self.view.get(nick) {
            Some(Presence::Held) | Some(Presence::Absent) => fail(
                errors,
                format!("a line from {nick}, who is not in the room"),
            ),
            _ => {}
        }
        self.view.insert(nick.to_string(), Presence::Present);
        let session = (cid, nick.to_string());
        if let Some(last) = self.heard.get(&session) {
            if seq <= last.seq {
                fail(
                    errors,
                    format!("line {seq} of {cid} after its line {}", last.seq),
                );
            } else if last.continuous && !excused(excuses, cid, last.seq + 1, seq - 1) {
                fail(
                    errors,
                    format!("lines {}..{seq} of {cid} were lost", last.seq + 1),
                );
            }
        }
        self.heard.insert(
            session,
            Heard {
                seq,
                continuous: true,
            },
        );
    }

    fn on_info(&mut self, rest: &str) {
        if rest.starts_with("bye ") {
            self.got_bye = true;
        } else if let Some(welcome) = rest
            .strip_prefix("Welcome, ")
            .or_else(|| rest.strip_prefix("Welcome back, "))
        {
            if let Some((nick, room)) = welcome.split_once("! You are in room ") {
                self.nick = nick.to_string();
                self.room = room.trim_end_matches('.').to_string();
                self.state = State::In;
                self.welcomed = true;
            }
        } else if let Some(key) = rest.strip_prefix("Resume key: ") {
            self.key = key.split(' ').next().map(str::to_string);
        } else if let Some(room) = rest.strip_prefix("You are now in room ") {
            self.room = room.trim_end_matches('.').to_string();
            self.view.clear();
            for heard in self.heard.values_mut() {
                heard.continuous = false;
            }
        }
    }

    /// A room notice about `nick`: departures must come once each, and match what came before.
    fn on_notice(&mut self, nick: &str, what: &str, line: &str, errors: &mut Vec<String>) {
        use Presence::*;
        let was = self.view.get(nick).copied();
        let (allowed, next): (&[Option<Presence>], Presence) = if what == "joined" {
            (&[None, Some(Absent)], Present)
        } else if what == "reconnected" {
            (&[None, Some(Held)], Present)
        } else if what.starts_with("lost the connection") {
            (&[None, Some(Present)], Held)
        } else if what.starts_with("left (did not reconnect") {
            (&[None, Some(Held)], Absent)
        } else if what.starts_with("left") || what.starts_with("went to room") {
            (&[None, Some(Present)], Absent)
        } else {
            return;
        };
        if !allowed.contains(&was) {
            errors.push(format!(
                "client {} ({}): {line:?} when it had been told {nick} was {was:?}",
                self.cid, self.nick
            ));
        }
        self.view.insert(nick.to_string(), next);
        for ((_, of), heard) in self.heard.iter_mut() {
            if of == nick {
                heard.continuous = false;
            }
        }
    }
}
