//! How lines look on a terminal: nickname colours, and one style per kind of line.
//!
//! Styling is a pure function of the line, so it is the same on every screen and testable. With
//! colour off the line is returned as the server sent it (less control characters), which is what
//! pipes, logs and `--no-color` get. Control characters are always removed: the server already
//! strips them from user text, but the client does not let any server move its cursor.

use anstyle::{AnsiColor, Color, Effects, Style};

use crate::lines::{classify, Kind};

/// 256-colour indices that read well on dark and light backgrounds (no greys, no near-black).
const PALETTE: [u8; 14] = [
    33, 39, 41, 69, 75, 104, 135, 141, 166, 172, 178, 197, 203, 208,
];

/// The colour of a nickname: FNV-1a of its lower-case form picks from [`PALETTE`], so a name has
/// the same colour in every session, on every machine, whatever its case.
pub fn nick_color(nick: &str) -> Color {
    let mut hash: u32 = 0x811c_9dc5;
    for b in nick.to_lowercase().bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    Color::Ansi256(anstyle::Ansi256Color(
        PALETTE[hash as usize % PALETTE.len()],
    ))
}

/// Removes control characters (C0, DEL, C1); a tab becomes a space.
pub fn clean(line: &str) -> String {
    line.chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Paints lines, or not.
#[derive(Debug, Clone, Copy)]
pub struct Painter {
    pub color: bool,
}

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

fn fg(c: AnsiColor) -> Style {
    Style::new().fg_color(Some(Color::Ansi(c)))
}

impl Painter {
    /// A server line as shown; `me` is highlighted where chat mentions it.
    pub fn server_line(&self, line: &str, me: Option<&str>) -> String {
        let line = clean(line);
        if !self.color {
            return line;
        }
        let dim = Style::new().effects(Effects::DIMMED);
        let nick = |n: &str| paint(Style::new().fg_color(Some(nick_color(n))).bold(), n);
        match classify(&line) {
            Kind::Chat {
                stamp,
                nick: n,
                text,
            } => {
                let mentioned = me.is_some_and(|me| {
                    !me.is_empty() && text.to_lowercase().contains(&me.to_lowercase())
                });
                let text = if mentioned {
                    paint(Style::new().bold().underline(), text)
                } else {
                    text.to_string()
                };
                format!("{} {}: {text}", paint(dim, stamp), nick(n))
            }
            Kind::Whisper {
                stamp,
                nick: n,
                text,
            } => {
                let magenta = fg(AnsiColor::Magenta).italic();
                format!(
                    "{} {}{}{} {}",
                    paint(dim, stamp),
                    paint(magenta, "*"),
                    nick(n),
                    paint(magenta, "*"),
                    paint(magenta, text)
                )
            }
            Kind::Scheduled {
                stamp,
                marker,
                text,
            } => format!(
                "{} {} {text}",
                paint(dim, stamp),
                paint(fg(AnsiColor::Cyan), &format!("[{marker}]"))
            ),
            Kind::Notice { stamp, text } => {
                let (who, rest) = text.split_once(' ').unwrap_or((text, ""));
                let green = fg(AnsiColor::Green);
                format!(
                    "{} {} {} {}",
                    paint(dim, stamp),
                    paint(green, "*"),
                    nick(who),
                    paint(green, rest)
                )
            }
            Kind::Bye { .. } => paint(fg(AnsiColor::Yellow).bold(), &line),
            Kind::WhisperSent { .. } => paint(fg(AnsiColor::Magenta).italic(), &line),
            Kind::Info { .. } => paint(fg(AnsiColor::Cyan), &line),
            Kind::Error { code, text } => format!(
                "{} {}",
                paint(fg(AnsiColor::Red).bold(), &format!("! {code}:")),
                paint(fg(AnsiColor::Red), text)
            ),
            Kind::Other => line,
        }
    }

    /// A line of the client's own (connection status, downloads, help).
    pub fn status(&self, text: &str) -> String {
        let line = format!("~~ {}", clean(text));
        if self.color {
            paint(fg(AnsiColor::Blue).bold(), &line)
        } else {
            line
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_colours_are_stable_and_case_blind() {
        assert_eq!(nick_color("alice"), nick_color("ALICE"));
        assert_eq!(nick_color("alice"), nick_color("alice"));
        // FNV-1a is fixed, so the colour of a name is too (not a per-process random hash).
        let c = |n: &str| match nick_color(n) {
            Color::Ansi256(c) => c.0,
            _ => unreachable!(),
        };
        assert_eq!(c("alice"), PALETTE[0x8722_13e7_usize % PALETTE.len()]);
        let distinct: std::collections::HashSet<u8> = ["alice", "bob", "carol", "dave", "eve"]
            .iter()
            .map(|n| c(n))
            .collect();
        assert!(distinct.len() >= 3, "names spread over the palette");
    }

    #[test]
    fn plain_is_the_line_as_sent_less_control_characters() {
        let p = Painter { color: false };
        assert_eq!(p.server_line("[12:34] bob: hi", None), "[12:34] bob: hi");
        assert_eq!(
            p.server_line("-- a\x1b[2J\tb\u{9b}c\x07", None),
            "-- a[2J bc"
        );
        assert_eq!(p.status("saved"), "~~ saved");
    }

    #[test]
    fn colour_styles_each_kind_and_keeps_the_text() {
        let p = Painter { color: true };
        for line in [
            "[12:34] bob: hi alice",
            "[12:34] *bob* psst",
            "[12:34] [scheduled by bob] stand-up",
            "[12:34] * bob joined",
            "-- bye final: goodbye, alice",
            "-- -> *bob* hi",
            "-- 2 users online",
            "! nick-taken: taken",
        ] {
            let styled = p.server_line(line, Some("alice"));
            assert!(styled.contains("\x1b["), "{line}: {styled:?}");
            let stripped = strip_ansi(&styled);
            assert_eq!(stripped, line);
        }
        // Whispers, errors and notices do not look alike.
        let a = p.server_line("[12:34] *bob* x", None);
        let b = p.server_line("! e: x", None);
        let c = p.server_line("[12:34] * bob x", None);
        assert!(a != b && b != c && a != c);
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
