//! The chat core driven as the reactor drives it, with time passed in: what every feature's
//! tests share.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

pub use std::sync::Arc;
pub use std::time::Duration;

pub use super::event::{HistoryError, HistoryLines, HistoryWhat};
use super::*;

pub fn settings() -> ChatSettings {
    ChatSettings {
        grace: Duration::from_secs(120),
        replay_max: 3,
        rules: Arc::from("be kind"),
        max_schedules: 2,
        utc: true,
        history_enabled: false,
        // Most tests need an operator: the first user is one, as with --first-user-op.
        first_user_op: true,
        admin_key: None,
        ..ChatSettings::default()
    }
}

pub struct Harness {
    pub chat: Chat,
    pub out: Outbox,
    pub now: Now,
}

pub fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

impl Harness {
    pub fn with(settings: ChatSettings) -> Self {
        Harness {
            chat: Chat::new(settings),
            ..Harness::new()
        }
    }

    pub fn new() -> Self {
        Harness {
            chat: Chat::new(settings()),
            out: Outbox::default(),
            now: Now {
                mono: Instant::now(),
                wall: 1_704_112_496_000,
            },
        }
    }

    pub fn connect(&mut self, conn: usize, from: IpAddr) {
        self.chat.connect(ConnId(conn), Peer { ip: from });
    }

    pub fn line(&mut self, conn: usize, text: &str) -> Vec<Output> {
        self.out.clear();
        self.chat.line(ConnId(conn), text, self.now, &mut self.out);
        self.chat.check_invariants().unwrap();
        self.out.items.clone()
    }

    pub fn login(&mut self, conn: usize, nick: &str) {
        self.connect(conn, ip(conn as u8));
        let outs = self.line(conn, nick);
        assert!(
            outs.contains(&Output::LoggedIn { conn: ConnId(conn) }),
            "{outs:?}"
        );
    }

    /// Logs `conn` in as a session that keeps rooms (IRC's registration).
    pub fn register(&mut self, conn: usize, nick: &str) {
        self.connect(conn, ip(conn as u8));
        self.out.clear();
        self.chat
            .register(ConnId(conn), nick, None, self.now, &mut self.out);
        self.chat.check_invariants().unwrap();
        assert!(
            self.out
                .items
                .contains(&Output::LoggedIn { conn: ConnId(conn) }),
            "{:?}",
            self.out.items
        );
    }

    /// One request from `conn`, as the IRC layer makes them.
    pub fn request(&mut self, conn: usize, request: Request<'_>) -> Vec<Output> {
        self.out.clear();
        self.chat
            .request(ConnId(conn), request, self.now, &mut self.out);
        self.chat.check_invariants().unwrap();
        self.out.items.clone()
    }

    /// The events delivered to `conn` by the last call, in order.
    pub fn delivered_to(&self, conn: usize) -> Vec<Event> {
        self.out
            .items
            .iter()
            .filter_map(|o| match o {
                Output::ToConn { conn: c, event } if c.0 == conn => Some(event.clone()),
                Output::ToMany { start, end, event }
                    if self.out.recipients[*start..*end].contains(&ConnId(conn)) =>
                {
                    Some(event.clone())
                }
                _ => None,
            })
            .collect()
    }

    pub fn advance(&mut self, secs: u64) {
        self.now.mono += Duration::from_secs(secs);
        self.now.wall += secs * 1000;
        self.out.clear();
        self.chat.on_timer(self.now, &mut self.out);
        self.chat.check_invariants().unwrap();
    }

    pub fn disconnect(&mut self, conn: usize) {
        self.out.clear();
        self.chat
            .disconnect(ConnId(conn), LostReason::Reset, self.now, &mut self.out);
        self.chat.check_invariants().unwrap();
    }
}

pub fn is_message(e: &Event, text: &str) -> bool {
    matches!(e, Event::Message { text: t, .. } if &**t == text)
}

pub fn refusal_of(outs: &[Output]) -> Option<Refusal> {
    outs.iter().find_map(|o| match o {
        Output::ToConn {
            event: Event::Refused(r),
            ..
        } => Some(r.clone()),
        _ => None,
    })
}
