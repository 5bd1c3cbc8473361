//! The line protocol's renderer: events into protocol lines (PROTOCOL.md), in English or Korean.
//!
//! This layer owns the protocol's framing and nothing else: a room line starts with its
//! `[HH:MM]` stamp (`[HH:MM] * ` for a notice), a reply to one user with `-- `, a refusal with
//! `! code: `, a goodbye with `-- bye reconnect: ` or `-- bye final: `, and every line ends with
//! `\r\n`. The sentences come from `render::texts`, so this module has no text of its own to
//! translate. One file per family of events, as `chat::event` has.
//!
//! Rendering appends to a `BytesMut`, so a broadcast is formatted once and the frozen `Bytes`
//! is shared by every recipient's queue.

use std::fmt::{self, Display, Write as _};

use bytes::{BufMut, BytesMut};

use super::stamp::Stamper;
use crate::chat::event::{Event, UnixMillis};
use crate::clock;
use crate::config::Lang;
use crate::render::texts::room;

mod files;
mod game;
mod invite;
mod presence;
mod refusal;
mod reply;
#[cfg(test)]
mod snapshot;

pub use super::human::human_size;

/// Renders events in one language.
#[derive(Debug)]
pub struct Renderer {
    pub lang: Lang,
    pub stamper: Stamper,
    /// What file download links start with (`http://HOST:PORT`, or `--public-url`); empty for
    /// links relative to the chat port.
    pub link_base: std::sync::Arc<str>,
}

/// `write!` into a BytesMut cannot fail; this keeps the call sites short.
struct Out<'a>(&'a mut BytesMut);

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends one formatted protocol line and its `\r\n`.
macro_rules! line {
    ($buf:expr, $($arg:tt)*) => {{
        let _ = write!(Out($buf), $($arg)*);
        $buf.put_slice(b"\r\n");
    }};
}
use line;

/// `-- sentence`: a reply or notice to one user.
fn reply(buf: &mut BytesMut, text: impl Display) {
    line!(buf, "-- {text}");
}

/// `! code: sentence`: a refusal; the code is for programs (PROTOCOL.md, "Refusals and
/// goodbyes").
fn refuse(buf: &mut BytesMut, code: &str, text: impl Display) {
    line!(buf, "! {code}: {text}");
}

impl Renderer {
    pub fn new(lang: Lang, utc: bool) -> Self {
        Renderer {
            lang,
            stamper: Stamper::new(utc),
            link_base: std::sync::Arc::from(""),
        }
    }

    /// Appends the protocol line(s) for `event` to `buf`.
    pub fn render(&self, event: &Event, buf: &mut BytesMut) {
        let lang = self.lang;
        match event {
            // The relay's hot path: a chat line is copied in place, with no formatting.
            Event::Message { at, from, text, .. } => {
                let text = crate::chat::text::without_formatting(text);
                buf.reserve(10 + from.len() + text.len());
                buf.put_slice(&self.stamper.stamp(*at));
                buf.put_u8(b' ');
                buf.put_slice(from.as_bytes());
                buf.put_slice(b": ");
                buf.put_slice(text.as_bytes());
                buf.put_slice(b"\r\n");
            }
            Event::Past { event, dated } => self.past(buf, event, *dated),
            Event::Info(info) => self.info(buf, info),
            Event::Refused(refusal) => self.refusal(buf, refusal),
            Event::Bye(bye) => self.bye(buf, bye),
            Event::File(notice) => self.file(buf, notice),
            Event::Game(notice) => self.game(buf, notice),
            Event::Presence(summary) => self.presence(buf, summary),
            Event::Invite(notice) => self.invite(buf, notice),
            Event::Action { at, from, text, .. } => {
                let text = crate::chat::text::without_formatting(text);
                self.notice(buf, *at, format_args!("{from} {text}"));
            }
            Event::Whisper { at, from, text, .. } => {
                let text = crate::chat::text::without_formatting(text);
                buf.put_slice(&self.stamper.stamp(*at));
                line!(buf, " *{from}* {text}");
            }
            Event::Scheduled { at, from, text, .. } => {
                buf.put_slice(&self.stamper.stamp(*at));
                line!(buf, " {}", room::scheduled_by(lang, from, text));
            }
            Event::Renamed { at, old, new, .. } => {
                self.notice(buf, *at, room::renamed(lang, old, new));
            }
            Event::TopicSet { at, by, topic, .. } => {
                self.notice(buf, *at, room::topic_set(lang, by, topic));
            }
            Event::Joined { at, nick, .. } => self.notice(buf, *at, room::joined(lang, nick)),
            Event::Reconnected { at, nick, .. } => {
                self.notice(buf, *at, room::reconnected(lang, nick));
            }
            Event::Left { at, nick, how, .. } => self.departure(buf, *at, nick, how),
            // Only IRC clients that asked for away-notify are told.
            Event::AwayChanged { .. } => {}
        }
    }

    /// `[HH:MM] * sentence`: a notice to a room.
    fn notice(&self, buf: &mut BytesMut, at: UnixMillis, text: impl Display) {
        buf.put_slice(&self.stamper.stamp(at));
        line!(buf, " * {text}");
    }

    /// A history line: rendered as it was live; a line from another day gets its date in the
    /// stamp, `[2024-05-17 12:34]`.
    fn past(&self, buf: &mut BytesMut, event: &Event, dated: bool) {
        let Some(at) = event.at().filter(|_| dated) else {
            return self.render(event, buf);
        };
        let mut live = BytesMut::new();
        self.render(event, &mut live);
        let day = clock::format_day(clock::day_of(at, self.stamper.utc));
        match live.strip_prefix(b"[") {
            Some(rest) => {
                buf.put_u8(b'[');
                buf.put_slice(day.as_bytes());
                buf.put_u8(b' ');
                buf.put_slice(rest);
            }
            None => buf.put_slice(&live),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::chat::event::{Bye, Departure, HistoryWhat, Info, LostReason};

    fn render(lang: Lang, event: &Event) -> String {
        let r = Renderer::new(lang, true);
        let mut buf = BytesMut::new();
        r.render(event, &mut buf);
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn message_and_presence_lines() {
        let at = 1_704_112_496_000;
        let msg = Event::Message {
            id: crate::chat::id::MsgId(1),
            at,
            room: Arc::from("lobby"),
            from: Arc::from("alice"),
            text: Arc::from("hello"),
        };
        assert_eq!(render(Lang::En, &msg), "[12:34] alice: hello\r\n");
        let joined = Event::Joined {
            id: crate::chat::id::MsgId(2),
            at,
            room: Arc::from("lobby"),
            nick: Arc::from("alice"),
        };
        assert_eq!(render(Lang::En, &joined), "[12:34] * alice joined\r\n");
        assert_eq!(
            render(Lang::Ko, &joined),
            "[12:34] * alice님이 입장하셨습니다\r\n"
        );
        let lost = Event::Left {
            id: crate::chat::id::MsgId(3),
            at,
            room: Arc::from("lobby"),
            nick: Arc::from("bob"),
            how: Departure::Lost {
                reason: LostReason::SendQueueExceeded,
            },
        };
        assert_eq!(
            render(Lang::En, &lost),
            "[12:34] * bob lost the connection (send queue exceeded)\r\n"
        );
    }

    #[test]
    fn history_lines_are_framed_and_dated_when_not_from_today() {
        let at = 1_704_112_496_000; // 2024-01-01 12:34 UTC
        let msg = Event::Message {
            id: crate::chat::id::MsgId(1),
            at,
            room: Arc::from("lobby"),
            from: Arc::from("alice"),
            text: Arc::from("hello"),
        };
        let past = |dated| Event::Past {
            event: Box::new(msg.clone()),
            dated,
        };
        assert_eq!(render(Lang::En, &past(false)), "[12:34] alice: hello\r\n");
        assert_eq!(
            render(Lang::En, &past(true)),
            "[2024-01-01 12:34] alice: hello\r\n"
        );
        let what = HistoryWhat::Last { n: 20 };
        let start = |shown, total| {
            Event::Info(Info::HistoryStart {
                room: Arc::from("lobby"),
                what: what.clone(),
                shown,
                total,
            })
        };
        assert_eq!(
            render(Lang::En, &start(20, 20)),
            "-- History of lobby (20 lines):\r\n"
        );
        assert_eq!(
            render(Lang::En, &start(1, 1)),
            "-- History of lobby (1 line):\r\n"
        );
        assert_eq!(
            render(Lang::En, &start(7, 20)),
            "-- History of lobby (7 of 20 lines):\r\n"
        );
        assert_eq!(
            render(Lang::Ko, &start(3, 3)),
            "-- lobby 방 기록 (3줄):\r\n"
        );
        let end = Event::Info(Info::HistoryEnd { what });
        assert_eq!(render(Lang::En, &end), "-- End of history.\r\n");
    }

    #[test]
    fn bye_lines_say_whether_to_reconnect() {
        assert_eq!(
            render(Lang::En, &Event::Bye(Bye::ShuttingDown)),
            "-- bye reconnect: server shutting down\r\n"
        );
        assert_eq!(
            render(
                Lang::Ko,
                &Event::Bye(Bye::Quit {
                    nick: Arc::from("철수")
                })
            ),
            "-- bye final: 안녕히 가세요, 철수님\r\n"
        );
    }
}
