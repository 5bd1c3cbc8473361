//! The presence summary line of a big room (see `presence.rs`), in English or Korean.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::{line, Out, Renderer};
use crate::chat::event::PresenceSummary;
use crate::config::Lang;

impl Renderer {
    /// `[12:34] * 37 joined (alice, bob, carol, dave, eve and 32 more); 3 left (x, y, z); 5012 here`;
    /// a part with nobody in it is left out.
    pub(super) fn presence(&self, buf: &mut BytesMut, summary: &PresenceSummary) {
        let ko = self.lang == Lang::Ko;
        self.notice(buf, summary.at);
        let mut text = String::new();
        let parts = [
            (&summary.joined, summary.joined_total, "joined", "입장"),
            (&summary.left, summary.left_total, "left", "퇴장"),
        ];
        for (names, total, en, kr) in parts {
            if total == 0 {
                continue;
            }
            let list = names.join(", ");
            let more = total.saturating_sub(names.len());
            let _ = match (ko, more > 0) {
                (false, false) => write!(text, "{total} {en} ({list}); "),
                (false, true) => write!(text, "{total} {en} ({list} and {more} more); "),
                (true, false) => write!(text, "{total}명 {kr} ({list}); "),
                (true, true) => write!(text, "{total}명 {kr} ({list} 외 {more}명); "),
            };
        }
        let members = summary.members;
        if ko {
            line!(buf, "{text}현재 {members}명");
        } else {
            line!(buf, "{text}{members} here");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::BytesMut;

    use super::*;
    use crate::chat::event::Event;
    use crate::chat::id::MsgId;

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
