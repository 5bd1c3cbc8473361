//! Nickname rules (PROTOCOL.md, "Connecting and logging in").
//!
//! A nickname is what other users trust to tell people apart, so besides the character rules two
//! kinds of spoofing are refused: invisible characters (a name that renders exactly like another,
//! or like nothing at all) and confusable look-alikes, via the UTS #39 skeleton behind
//! [`collision_key`]. Names reserved for the server are in [`reserved`].

use unicode_security::GeneralSecurityProfile;

pub mod reserved;

pub use reserved::{ReservedNicks, DEFAULT_RESERVED};

/// Most characters (not bytes) a nickname may have: long enough for any real name in any script,
/// short enough to keep the online list and every chat line readable.
pub const MAX_NICK_CHARS: usize = 24;

/// Why a nickname was refused.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum NickError {
    /// No characters at all.
    Empty,
    /// More than [`MAX_NICK_CHARS`] characters.
    TooLong,
    /// A character that renders as nothing or as blank space (default-ignorable, format, whitespace).
    Invisible(char),
    /// Any other character outside letters, digits, `_`, `-` and `.`.
    NotAllowed(char),
}

// Its sentences, and its `Display` (English), live with the other sentences in
// `render::texts::refusal`: the rules are the chat core's, the wording is the renderer's.
impl std::error::Error for NickError {}

/// Checks a nickname against the protocol's rules.
///
/// # Errors
///
/// The first rule broken: [`NickError::Empty`], the first invisible or disallowed character in
/// order, or else [`NickError::TooLong`].
pub fn validate(name: &str) -> Result<(), NickError> {
    if name.is_empty() {
        return Err(NickError::Empty);
    }
    // Character rules first: an overlong name full of invisible characters is better explained by
    // the invisible character than by its length.
    for c in name.chars() {
        if is_invisible(c) {
            return Err(NickError::Invisible(c));
        }
        if !is_nick_char(c) {
            return Err(NickError::NotAllowed(c));
        }
    }
    if name.chars().count() > MAX_NICK_CHARS {
        return Err(NickError::TooLong);
    }
    Ok(())
}

/// The key two names collide on: lowercase of the UTS #39 skeleton, so `Alice`, `alice` and
/// Cyrillic `аlice` share one key.
///
/// Lowercasing comes first so names equal case-insensitively always share a key; the skeleton then
/// maps look-alikes to one prototype, and since a prototype may itself be uppercase or have its own
/// lowercase look-alikes, the lowercase-and-skeleton step is applied once more.
#[must_use]
pub fn collision_key(name: &str) -> String {
    // Upper then lower case folds what lower case alone does not: "ß" and "SS" (and ligatures
    // such as "ﬁ") are the same name in different case, as "Weiß" and "WEISS" are.
    let lower = name.to_uppercase().to_lowercase();
    let once: String = unicode_security::skeleton(&lower)
        .collect::<String>()
        .to_lowercase();
    unicode_security::skeleton(&once)
        .collect::<String>()
        .to_lowercase()
}

fn is_nick_char(c: char) -> bool {
    // The punctuation RFC 2812 allows in IRC nicknames (`[ ] \ ` _ ^ { | }`) beside our `_ - .`, so
    // an IRC user's usual name works from every protocol.
    matches!(
        c,
        '_' | '-' | '.' | '[' | ']' | '{' | '}' | '\\' | '|' | '^' | '`'
    ) || (c.is_alphanumeric() && c.identifier_allowed())
}

/// Case-insensitive order for user lists, ties broken by the exact text so the order is stable.
/// Compares lower-cased characters as they come, without allocating: sorting a big room's list
/// does O(n log n) comparisons.
pub fn cmp_nicks(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
        .then_with(|| a.cmp(b))
}

/// Characters that show as nothing or as blank space, so a name holding one can pass for another
/// name or for an empty one.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || INVISIBLE
            .binary_search_by(|&(lo, hi)| {
                if hi < c {
                    std::cmp::Ordering::Less
                } else if lo > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
}

/// Sorted, non-overlapping ranges: Unicode's `Default_Ignorable_Code_Point` (`DerivedCoreProperties`;
/// zero-width characters, bidi controls, Hangul fillers, soft hyphen, variation selectors, tags),
/// plus the interlinear annotation format characters and the braille blank, which render as
/// nothing or as a blank and are known name-spoofing tricks. `unicode-security` holds the same
/// table but does not export it.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFFB}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in ["alice", "Bob_99", "x", "a.b-c_d", "...", "_", "-", "0day"] {
            assert_eq!(validate(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn korean_and_other_scripts_pass() {
        for name in [
            "김철수",
            "이영희_2",
            "철수.kim",
            "Ångström",
            "ΣΩΚΡΑΤΗΣ",
            "Дмитрий",
            "山田",
        ] {
            assert_eq!(validate(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn empty_is_refused() {
        assert_eq!(validate(""), Err(NickError::Empty));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(validate(&"a".repeat(MAX_NICK_CHARS)), Ok(()));
        assert_eq!(
            validate(&"a".repeat(MAX_NICK_CHARS + 1)),
            Err(NickError::TooLong)
        );
        // 24 Hangul syllables are 72 bytes and still fine.
        assert_eq!(validate(&"가".repeat(MAX_NICK_CHARS)), Ok(()));
        assert_eq!(
            validate(&"가".repeat(MAX_NICK_CHARS + 1)),
            Err(NickError::TooLong)
        );
    }

    #[test]
    fn every_invisible_character_is_refused_as_invisible() {
        let invisible = [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{3164}',
            '\u{FFA0}',
            '\u{00AD}',
            '\u{115F}',
            '\u{1160}',
            '\u{034F}',
            '\u{FE00}',
            '\u{FE0F}',
            '\u{E0100}',
            '\u{E01EF}',
            '\u{2800}',
        ];
        for c in invisible {
            for name in [format!("ab{c}c"), format!("{c}"), format!("{c}abc")] {
                assert_eq!(
                    validate(&name),
                    Err(NickError::Invisible(c)),
                    "U+{:04X}",
                    c as u32
                );
            }
        }
    }

    #[test]
    fn whitespace_is_refused_as_invisible() {
        for c in [' ', '\t', '\u{00A0}', '\u{3000}', '\u{2003}'] {
            assert_eq!(validate(&format!("a{c}b")), Err(NickError::Invisible(c)));
        }
    }

    #[test]
    fn punctuation_symbols_and_emoji_are_refused() {
        assert_eq!(validate("a@b"), Err(NickError::NotAllowed('@')));
        assert_eq!(validate("a/b"), Err(NickError::NotAllowed('/')));
        assert_eq!(validate("hi😀"), Err(NickError::NotAllowed('😀')));
        assert_eq!(validate("a\u{1}"), Err(NickError::NotAllowed('\u{1}')));
        assert_eq!(
            validate("a\u{1b}[31m"),
            Err(NickError::NotAllowed('\u{1b}'))
        );
    }

    #[test]
    fn first_offending_character_is_reported() {
        assert_eq!(validate("a@b\u{200B}"), Err(NickError::NotAllowed('@')));
        assert_eq!(
            validate("a\u{200B}@"),
            Err(NickError::Invisible('\u{200B}'))
        );
    }

    #[test]
    fn case_variants_collide() {
        assert_eq!(collision_key("alice"), collision_key("ALICE"));
        assert_eq!(collision_key("alice"), collision_key("Alice"));
    }

    #[test]
    fn cyrillic_look_alike_collides() {
        // U+0430 CYRILLIC SMALL LETTER A.
        assert_eq!(collision_key("alice"), collision_key("\u{430}lice"));
        assert_eq!(collision_key("ALICE"), collision_key("\u{430}lice"));
        // U+0410 CYRILLIC CAPITAL LETTER A.
        assert_eq!(collision_key("Alice"), collision_key("\u{410}lice"));
    }

    #[test]
    fn case_variants_that_change_length_collide_too() {
        // Found by the nickname fuzz target: the upper case of "ß" is "SS".
        let name = "\u{dc}a\u{dc}-n\u{dc}a\u{df}nz";
        assert_eq!(
            collision_key(&name.to_uppercase()),
            collision_key(&name.to_lowercase())
        );
        assert_eq!(collision_key("Weiß"), collision_key("WEISS"));
        assert_eq!(collision_key("ﬁsh"), collision_key("FISH"));
    }

    #[test]
    fn different_names_do_not_collide() {
        assert_ne!(collision_key("bob"), collision_key("bab"));
        assert_ne!(collision_key("김철수"), collision_key("김영희"));
        assert_ne!(collision_key("alice"), collision_key("alice2"));
    }

    #[test]
    fn korean_names_collide_only_with_themselves() {
        assert_eq!(collision_key("김철수"), collision_key("김철수"));
        // The same syllables written with conjoining jamo look identical.
        assert_eq!(
            collision_key("김"),
            collision_key("\u{1100}\u{1175}\u{11B7}")
        );
    }
}
