//! Names reserved for the server (`--reserved-nicks`).
//!
//! The server's own lines are framed (`-- `, `* `, `! `) but a user's chat line is only
//! `[12:34] nick: text`, so a user called `server` could write
//! `[12:34] server: please send your password` and a reader could not tell it from the service.
//! The names a user would take to pass for the service are therefore refused at login and at
//! `/nick`.
//!
//! # What one reserved name covers
//!
//! - Its **case, width and look-alike variants**: matching is done on the [`collision_key`], the
//!   key that already keeps two users from sharing a name, so `SERVER`, Cyrillic `аdmin` and
//!   `r00t` (the key cannot tell `0` from `o`, nor `1` from `l`) are `server`, `admin` and `root`,
//!   and so is full-width `ｓｅｒｖｅｒ`, which the character rules refuse before this anyway. `serv3r` is not: `3` does not look like `e`, and leetspeak is
//!   a joke, not a spoof.
//! - Itself **dressed up with separators and digits**: `_`, `-` and `.` anywhere, and digits at
//!   either end: `admin_`, `_admin`, `admin1`, `server-2024`, `s.e.r.v.e.r`, `reactor_chat`.
//!
//! Letters make another name, so `adminton`, `serverless` and `rooty` stay free.
//!
//! IRC servers match their reserved names exactly (Ergo compares the casefolded name and the
//! skeleton with its restricted nicknames) or by a glob the operator writes (InspIRCd's Q-lines,
//! Solanum's RESVs), and leave decorations to those globs. They can: a server notice there comes
//! from a server name no nickname can have. Here a user's line and the server's differ only by
//! their framing, and separators and digits are what people add to a name that is taken
//! (`alice_`, `alice2`), not what makes a different name: a reader takes `admin_` or `server2`
//! for the same speaker as `admin` and `server`, so those are covered without a glob. The rule
//! runs on the key, where `0` and `1` have become `o` and `l`: `rooto` is refused as the
//! `root0` it looks like, as the key refuses every other look-alike.
//!
//! An entry may also hold `*` for any run of characters, as a Q-line does: `*serv` reserves
//! `nickserv` and `chanserv`.

use super::{collision_key, validate};

/// The names reserved when `--reserved-nicks` is not given: what a user would call themselves
/// to pass for the service, in both languages the server speaks.
pub const DEFAULT_RESERVED: &str =
    "server,admin,administrator,operator,system,root,reactor-chat,서버,관리자,운영자";

/// Reserved names, compiled once at start: each entry's collision key is computed when the list
/// is parsed, so a login costs one pass over its own key per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedNicks {
    patterns: Vec<Vec<Token>>,
    /// The key's characters for `_`, `-` and `.`: skipped wherever they are.
    separators: Vec<char>,
    /// The key's characters for the digits `0` to `9` (`o` and `l` among them); any other
    /// numeric character counts as a digit too.
    digits: Vec<char>,
}

/// One step of a compiled entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// This character of the entry's key.
    Char(char),
    /// `*`: any run of characters, the empty one included.
    Any,
    /// Digits at either end: any run of them, the empty one included.
    Digits,
}

impl ReservedNicks {
    /// Parses a comma-separated list, as `--reserved-nicks` takes it. Blank entries are skipped,
    /// so `""` reserves nothing.
    ///
    /// # Errors
    ///
    /// An entry that breaks the nickname rules once its `*` are taken out, or one with nothing
    /// but `*` and separators, which would reserve every name.
    pub fn parse(list: &str) -> Result<Self, String> {
        let key_chars = |chars: &str| -> Vec<char> {
            chars
                .chars()
                .flat_map(|c| {
                    collision_key(c.encode_utf8(&mut [0; 4]))
                        .chars()
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let mut reserved = ReservedNicks {
            patterns: Vec::new(),
            separators: key_chars("_-."),
            digits: key_chars("0123456789"),
        };
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let pattern = reserved.compile(entry)?;
            reserved.patterns.push(pattern);
        }
        Ok(reserved)
    }

    /// Whether no name is reserved.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the name whose [`collision_key`] is `key` is reserved.
    pub fn reserves(&self, key: &str) -> bool {
        let longest = self.patterns.iter().map(Vec::len).max().unwrap_or(0);
        let mut states = (vec![false; longest + 1], vec![false; longest + 1]);
        self.patterns
            .iter()
            .any(|p| self.matches(p, key, &mut states))
    }

    fn compile(&self, entry: &str) -> Result<Vec<Token>, String> {
        let mut pattern = vec![Token::Digits];
        for (i, piece) in entry.split('*').enumerate() {
            if i > 0 {
                pattern.push(Token::Any);
            }
            if piece.is_empty() {
                continue;
            }
            validate(piece).map_err(|why| format!("{entry}: {why}"))?;
            let key = collision_key(piece);
            pattern.extend(
                key.chars()
                    .filter(|c| !self.separators.contains(c))
                    .map(Token::Char),
            );
        }
        pattern.push(Token::Digits);
        if !pattern.iter().any(|t| matches!(t, Token::Char(_))) {
            return Err(format!(
                "{entry} would reserve every name: a reserved name needs a letter or digit"
            ));
        }
        Ok(pattern)
    }

    /// Runs `pattern` over `key` as a small automaton, one state per token, tracking every
    /// state reachable so far: one pass over the key whatever the name, with no backtracking a
    /// hostile name could make expensive. The last argument is scratch space for the states.
    fn matches(
        &self,
        pattern: &[Token],
        key: &str,
        (now, next): &mut (Vec<bool>, Vec<bool>),
    ) -> bool {
        let (mut now, mut next) = (&mut now[..=pattern.len()], &mut next[..=pattern.len()]);
        now.fill(false);
        now[0] = true;
        skip_empty_runs(pattern, now);
        for c in key.chars().filter(|c| !self.separators.contains(c)) {
            next.fill(false);
            for (i, token) in pattern.iter().enumerate() {
                if !now[i] {
                    continue;
                }
                match *token {
                    Token::Char(want) if want == c => next[i + 1] = true,
                    Token::Any => next[i] = true,
                    Token::Digits if self.is_digit(c) => next[i] = true,
                    _ => {}
                }
            }
            skip_empty_runs(pattern, next);
            std::mem::swap(&mut now, &mut next);
            if !now.contains(&true) {
                return false;
            }
        }
        now[pattern.len()]
    }

    fn is_digit(&self, c: char) -> bool {
        c.is_numeric() || self.digits.contains(&c)
    }
}

/// A run may be empty, so a state at a run also stands at the token after it. Runs only lead
/// forward, so one pass in order reaches every such state.
fn skip_empty_runs(pattern: &[Token], states: &mut [bool]) {
    for (i, token) in pattern.iter().enumerate() {
        if states[i] && !matches!(token, Token::Char(_)) {
            states[i + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserved(list: &str, name: &str) -> bool {
        assert_eq!(validate(name), Ok(()), "{name} is not even a nickname");
        ReservedNicks::parse(list)
            .unwrap()
            .reserves(&collision_key(name))
    }

    fn by_default(name: &str) -> bool {
        reserved(DEFAULT_RESERVED, name)
    }

    #[test]
    fn every_default_name_is_reserved() {
        for name in DEFAULT_RESERVED.split(',') {
            assert!(by_default(name), "{name}");
        }
    }

    #[test]
    fn case_width_and_look_alikes_are_the_same_name() {
        for name in [
            "SERVER",
            "Server",
            "Admin",
            "ADMIN",
            "\u{430}dmin",
            "ROOT",
            "r00t",
            "R0OT",
            "0perator",
            "SYSTEM",
            "Reactor-Chat",
        ] {
            assert!(by_default(name), "{name}");
        }
    }

    #[test]
    fn full_width_letters_are_the_same_name() {
        // The character rules refuse full-width letters before a name gets here; the key folds
        // them all the same, so the reservation does not lean on that.
        let list = ReservedNicks::parse(DEFAULT_RESERVED).unwrap();
        for name in ["ｓｅｒｖｅｒ", "ＳＥＲＶＥＲ", "Ａｄｍｉｎ１"] {
            assert!(validate(name).is_err(), "{name}");
            assert!(list.reserves(&collision_key(name)), "{name}");
        }
    }

    #[test]
    fn separators_and_digits_around_a_reserved_name_do_not_make_another() {
        for name in [
            "admin_",
            "_admin",
            "admin1",
            "1admin",
            "admin_1",
            "__admin__",
            "server-2024",
            "server.",
            "s.e.r.v.e.r",
            "reactor_chat",
            "reactorchat",
            "root٣",
            "서버1",
            "관리자_",
            "_운영자_",
            "rooto",
        ] {
            assert!(by_default(name), "{name}");
        }
    }

    #[test]
    fn a_reserved_word_inside_a_longer_name_is_another_name() {
        for name in [
            "serverless",
            "rooty",
            "adminton",
            "administrators",
            "admins",
            "badmin",
            "sysadmin",
            "cooperator",
            "grassroot",
            "serv3r",
            "serve",
            "서버실",
            "alice",
            "0day",
            "_",
            "123",
        ] {
            assert!(!by_default(name), "{name}");
        }
    }

    #[test]
    fn a_star_matches_any_run_of_characters() {
        let list = "*serv,bot*";
        for name in [
            "nickserv",
            "ChanServ",
            "serv",
            "NickServ_2",
            "bot",
            "botty",
            "bot_x",
        ] {
            assert!(reserved(list, name), "{name}");
        }
        for name in ["servant", "abbot", "robot", "alice"] {
            assert!(!reserved(list, name), "{name}");
        }
    }

    #[test]
    fn the_list_is_exactly_what_is_given() {
        assert!(reserved("bot", "Bot_2"));
        assert!(!reserved("bot", "server"));
        assert!(!reserved("bot", "admin"));
        assert!(reserved(" bot , helper ", "helper"));
        let none = ReservedNicks::parse("").unwrap();
        assert!(none.is_empty());
        assert!(!none.reserves(&collision_key("server")));
        assert!(ReservedNicks::parse(" , ,").unwrap().is_empty());
    }

    #[test]
    fn entries_that_are_not_names_or_would_reserve_everything_are_refused() {
        let err = ReservedNicks::parse("server,a b").unwrap_err();
        assert!(err.starts_with("a b: spaces"), "{err}");
        assert!(ReservedNicks::parse("a@b").is_err());
        assert!(ReservedNicks::parse(&"x".repeat(25)).is_err());
        for entry in ["*", "**", "_", "*-*", "._."] {
            let err = ReservedNicks::parse(entry).unwrap_err();
            assert!(err.contains("would reserve every name"), "{entry}: {err}");
        }
    }

    #[test]
    fn many_stars_match_as_a_glob_does() {
        let list = ReservedNicks::parse("*a*a*a*a*a*b").unwrap();
        let name = "a".repeat(24);
        assert!(!list.reserves(&collision_key(&name)));
        assert!(list.reserves(&collision_key(&format!("{name}b"))));
    }
}
