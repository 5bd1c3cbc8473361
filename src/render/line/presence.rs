//! The room notices that take more than one sentence to choose: departures, and the presence
//! summary of a big room. The one-line room events are in `render` itself.

use std::fmt::Write as _;

use bytes::BytesMut;

use super::Renderer;
use crate::chat::event::{Departure, PresenceSummary};
use crate::render::texts::room as text;

impl Renderer {
    pub(super) fn departure(&self, buf: &mut BytesMut, at: u64, nick: &str, how: &Departure) {
        let lang = self.lang;
        match how {
            Departure::Quit { message: None } => self.notice(buf, at, text::quit(lang, nick)),
            Departure::Quit { message: Some(m) } => {
                self.notice(buf, at, text::quit_saying(lang, nick, m));
            }
            Departure::Lost { reason } => {
                let reason = text::lost_reason(lang, *reason);
                self.notice(buf, at, text::lost(lang, nick, reason));
            }
            Departure::GraceExpired { grace_secs } => {
                self.notice(buf, at, text::grace_expired(lang, nick, *grace_secs));
            }
            Departure::Moved { to } => self.notice(buf, at, text::moved(lang, nick, to)),
            Departure::Parted { message: None } => self.notice(buf, at, text::parted(lang, nick)),
            Departure::Parted { message: Some(m) } => {
                self.notice(buf, at, text::parted_saying(lang, nick, m));
            }
            Departure::Kicked { by, reason: None } => {
                self.notice(buf, at, text::kicked(lang, nick, by));
            }
            Departure::Kicked {
                by,
                reason: Some(r),
            } => self.notice(buf, at, text::kicked_for(lang, nick, by, r)),
        }
    }

    /// `[12:34] * 37 joined (alice, bob, carol, dave, eve and 32 more); 3 left (x, y, z); 5012 here`;
    /// a part with nobody in it is left out.
    pub(super) fn presence(&self, buf: &mut BytesMut, summary: &PresenceSummary) {
        let lang = self.lang;
        let mut parts = String::new();
        let joined = (&summary.joined, summary.joined_total, true);
        let left = (&summary.left, summary.left_total, false);
        for (names, total, joins) in [joined, left] {
            if total == 0 {
                continue;
            }
            let (list, more) = (names.join(", "), total.saturating_sub(names.len()));
            let part = text::presence_part(lang, joins, total, &list, more);
            let _ = write!(parts, "{part}; ");
        }
        let here = text::members_here(lang, summary.members);
        self.notice(buf, summary.at, format_args!("{parts}{here}"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::BytesMut;

    use super::*;
    use crate::chat::event::Event;
    use crate::chat::id::MsgId;
    use crate::config::Lang;

    fn render(lang: Lang, summary: PresenceSummary) -> String {
        let mut buf = BytesMut::new();
        Renderer::new(lang, true).render(&Event::Presence(summary), &mut buf);
        String::from_utf8(buf.to_vec()).unwrap()
    }

    fn summary(
        joined: &[&str],
        joined_total: usize,
        left: &[&str],
        left_total: usize,
    ) -> PresenceSummary {
        let list = |names: &[&str]| names.iter().map(|n| Arc::from(*n)).collect();
        PresenceSummary {
            id: MsgId(1),
            at: 1_704_112_496_000, // 12:34:56 UTC
            room: Arc::from("lobby"),
            joined: list(joined),
            joined_total,
            left: list(left),
            left_total,
            members: 5012,
        }
    }

    #[test]
    fn summaries_read_as_one_line() {
        let both = summary(
            &["alice", "bob", "carol", "dave", "eve"],
            37,
            &["김철수", "x"],
            2,
        );
        assert_eq!(
            render(Lang::En, both.clone()),
            "[12:34] * 37 joined (alice, bob, carol, dave, eve and 32 more); 2 left (김철수, x); 5012 here\r\n"
        );
        assert_eq!(
            render(Lang::Ko, both),
            "[12:34] * 37명 입장 (alice, bob, carol, dave, eve 외 32명); 2명 퇴장 (김철수, x); 현재 5012명\r\n"
        );
        assert_eq!(
            render(Lang::En, summary(&[], 0, &["x"], 1)),
            "[12:34] * 1 left (x); 5012 here\r\n"
        );
    }
}
