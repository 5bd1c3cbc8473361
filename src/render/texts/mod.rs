//! Every sentence reactor-chat says to people, in every language it speaks, as one table per
//! family of events.
//!
//! A sentence here is wire-neutral: it carries no protocol framing (no `-- `, no `! code: `, no
//! stamp, no line ending), so the line renderer and any later wire format (IRC numerics' trailing
//! text, a notice in the browser) say the same words. Each entry names its arguments once and
//! gives one format string per language, side by side:
//!
//! ```text
//! joined(nick: &'a str) {
//!     en: "{nick} joined",
//!     ko: "{nick}님이 입장하셨습니다",
//! }
//! ```
//!
//! and becomes a function `joined(lang, nick) -> impl Display` that writes the sentence when it
//! is displayed, with no allocation. Where a language needs a different sentence for different
//! values (English plurals), an arm chooses by a value:
//! `en: { n; 1 => "1 line", _ => "{n} lines" }`.
//!
//! Why a table of format strings and not Fluent or gettext catalogues: `format!` checks every
//! placeholder of every language at compile time, a missing translation is a compile error (each
//! entry must give every language), nothing is parsed or looked up at run time on the relay's
//! thread, and two languages do not need a catalogue format. Adding a language is adding an arm
//! to the macro and a line to every entry; adding a wire format never touches this module.

use std::fmt;

pub mod files;
pub mod game;
pub mod invite;
pub mod refusal;
pub mod reply;
pub mod room;

/// A sentence bound to its language and arguments; writes itself when displayed.
pub struct Text<F>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Text<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> Text<F> {
    pub fn new(write: F) -> Self {
        Text(write)
    }
}

/// Declares a table of sentences; see the module doc for the shape of an entry.
macro_rules! texts {
    ($(
        $(#[$doc:meta])*
        $name:ident($($arg:ident: $ty:ty),* $(,)?) {
            en: $en:tt,
            ko: $ko:tt $(,)?
        }
    )*) => {$(
        $(#[$doc])*
        pub fn $name<'a>(
            lang: $crate::config::Lang,
            $($arg: $ty),*
        ) -> impl ::std::fmt::Display + 'a {
            $crate::render::texts::Text::new(move |f: &mut ::std::fmt::Formatter<'_>| match lang {
                $crate::config::Lang::En => $crate::render::texts::arm!(f, $en),
                $crate::config::Lang::Ko => $crate::render::texts::arm!(f, $ko),
            })
        }
    )*};
}
pub(crate) use texts;

/// One language's arm of an entry: a format string, or `{ value; pattern => format, ... }`.
macro_rules! arm {
    ($f:ident, $fmt:literal) => {
        write!($f, $fmt)
    };
    ($f:ident, { $value:expr; $($pattern:pat => $fmt:literal),+ $(,)? }) => {
        match $value {
            $($pattern => write!($f, $fmt),)+
        }
    };
}
pub(crate) use arm;

#[cfg(test)]
mod tests {
    use crate::config::Lang;

    super::texts! {
        greet(nick: &'a str) {
            en: "hello {nick}",
            ko: "{nick}님 안녕하세요",
        }
        lines(n: usize) {
            en: { n; 1 => "1 line", _ => "{n} lines" },
            ko: "{n}줄",
        }
    }

    #[test]
    fn entries_write_their_language() {
        assert_eq!(greet(Lang::En, "bob").to_string(), "hello bob");
        assert_eq!(greet(Lang::Ko, "bob").to_string(), "bob님 안녕하세요");
        assert_eq!(lines(Lang::En, 1).to_string(), "1 line");
        assert_eq!(lines(Lang::En, 2).to_string(), "2 lines");
        assert_eq!(lines(Lang::Ko, 1).to_string(), "1줄");
    }
}
