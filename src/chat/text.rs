//! Cleaning user text before anyone else sees it (PROTOCOL.md, "Framing").
//!
//! Other users read messages in raw terminals (telnet, nc), where control bytes and escape
//! sequences can recolour the screen, move the cursor, rewrite earlier lines, set the window title
//! or ring the bell. Nobody should receive such bytes from another user, so every message is cleaned
//! here before it is relayed or stored. Visible Unicode, bidi controls included, is left alone:
//! message text may legitimately mix scripts and directions.

use std::borrow::Cow;
use std::iter::Peekable;
use std::str::Chars;

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
/// C1 "string terminator", which ends an OSC like `ESC \` does.
const ST: char = '\u{9c}';

/// Cleans user text before it is relayed or stored: removes ANSI escape sequences (CSI `ESC [`
/// params/intermediates then a final byte 0x40-0x7E; OSC `ESC ]` ... terminated by BEL or `ESC \`;
/// any other `ESC x` two-char sequence; a lone trailing ESC), replaces tab with one space, removes
/// every other char for which `char::is_control()` is true (C0 and C1, including 0x7f), and trims
/// trailing whitespace. Returns `Cow::Borrowed` when nothing changes (the common case must not
/// allocate).
///
/// An OSC with no terminator removes the rest of the text, as a terminal would swallow it.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        // Trimming alone is a subslice, so ordinary text never allocates.
        return Cow::Borrowed(text.trim_end());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => skip_escape(&mut chars),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    Cow::Owned(out)
}

/// IRC's formatting codes (bold, colour, hex colour, reset, monospace, reverse, italic,
/// strikethrough, underline): IRC clients show them as styles, so text from IRC keeps them for
/// IRC users; every other renderer shows the text [`without_formatting`].
const IRC_FORMATTING: [char; 9] = [
    '\u{02}', '\u{03}', '\u{04}', '\u{0f}', '\u{11}', '\u{16}', '\u{1d}', '\u{1e}', '\u{1f}',
];
const IRC_COLOUR: char = '\u{03}';
const IRC_HEX_COLOUR: char = '\u{04}';

/// [`sanitize`] for text from an IRC client: IRC's formatting codes are kept (they are not
/// terminal escapes: a raw terminal ignores them, and [`without_formatting`] takes them out for
/// the line protocol and browsers); every other control character goes.
pub fn sanitize_keeping_formatting(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && !IRC_FORMATTING.contains(&c))
    {
        return Cow::Borrowed(text.trim_end());
    }
    let mut kept = String::with_capacity(text.len());
    for piece in text.split_inclusive(|c: char| IRC_FORMATTING.contains(&c)) {
        let (body, code) = match piece.chars().last() {
            Some(c) if IRC_FORMATTING.contains(&c) => {
                (&piece[..piece.len() - c.len_utf8()], Some(c))
            }
            _ => (piece, None),
        };
        kept.push_str(&sanitize(body));
        kept.extend(code);
    }
    let end = kept.trim_end().len();
    kept.truncate(end);
    Cow::Owned(kept)
}

/// The text with IRC's formatting codes (and a colour code's digits) taken out: what the line
/// protocol and browsers show of a message written with colours in an IRC client. Borrowed, at
/// the cost of one scan, when there are none (the usual case).
pub fn without_formatting(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b < 0x20) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            IRC_COLOUR => skip_colour(&mut chars, |c| c.is_ascii_digit(), 2),
            IRC_HEX_COLOUR => skip_colour(&mut chars, |c| c.is_ascii_hexdigit(), 6),
            c if IRC_FORMATTING.contains(&c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Skips a colour code's `FG[,BG]` (each up to `max` characters that `is_digit` accepts); a comma
/// not followed by a colour is text.
fn skip_colour(chars: &mut Peekable<Chars<'_>>, is_digit: fn(&char) -> bool, max: usize) {
    let mut taken = 0;
    while taken < max && chars.next_if(is_digit).is_some() {
        taken += 1;
    }
    if taken == 0 || chars.peek() != Some(&',') {
        return;
    }
    let mut ahead = chars.clone();
    ahead.next();
    if ahead.peek().is_some_and(is_digit) {
        chars.next();
        let mut taken = 0;
        while taken < max && chars.next_if(is_digit).is_some() {
            taken += 1;
        }
    }
}

/// Skips what follows an ESC that was just read.
fn skip_escape(chars: &mut Peekable<Chars<'_>>) {
    // A loop rather than recursion: an OSC interrupted by another ESC starts a new sequence, and a
    // hostile line may chain thousands of them.
    loop {
        match chars.next() {
            Some('[') => return skip_csi(chars),
            Some(']') => {
                if !skip_osc(chars) {
                    return;
                }
            }
            // `ESC x` two-character sequences, or a lone ESC at the end.
            Some(_) | None => return,
        }
    }
}

/// Skips a CSI's parameter and intermediate bytes and its final byte. A character that cannot be
/// part of a CSI ends it without being consumed, so it is handled (kept or removed) on its own.
fn skip_csi(chars: &mut Peekable<Chars<'_>>) {
    while let Some(&c) = chars.peek() {
        match c {
            // Parameter bytes 0x30-0x3F and intermediate bytes 0x20-0x2F.
            '\u{20}'..='\u{3f}' => {
                chars.next();
            }
            // The final byte.
            '\u{40}'..='\u{7e}' => {
                chars.next();
                return;
            }
            _ => return,
        }
    }
}

/// Skips an OSC's payload and terminator. Returns true if it was cut short by an ESC that starts
/// another escape sequence (the ESC already consumed).
fn skip_osc(chars: &mut Peekable<Chars<'_>>) -> bool {
    while let Some(c) = chars.next() {
        match c {
            BEL | ST => return false,
            ESC => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                    return false;
                }
                return true;
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(text: &str) -> String {
        sanitize(text).into_owned()
    }

    #[test]
    fn irc_formatting_is_kept_for_irc_and_taken_out_for_the_others() {
        let bold_red = "\u{02}hi\u{02} \u{03}4,12red\u{03} \u{04}ff0000hex\u{0f} 1,2";
        assert_eq!(sanitize_keeping_formatting(bold_red), bold_red);
        assert_eq!(without_formatting(bold_red), "hi red hex 1,2");
        // A terminal escape is never formatting.
        assert_eq!(
            sanitize_keeping_formatting("\u{02}a\u{1b}[31mb\u{07}c "),
            "\u{02}abc"
        );
        assert_eq!(without_formatting("\u{03}12,x"), ",x");
        assert_eq!(without_formatting("\u{03},5"), ",5");
        assert!(matches!(without_formatting("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in [
            "hello, world",
            "안녕하세요, 김철수입니다!",
            "",
            "a  b",
            "  leading",
        ] {
            let out = sanitize(text);
            assert!(matches!(out, Cow::Borrowed(_)), "{text:?}");
            assert_eq!(out, text);
        }
    }

    #[test]
    fn trailing_whitespace_is_trimmed_without_allocating() {
        let out = sanitize("hi there   \u{3000}");
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(out, "hi there");
        assert_eq!(clean("hi\t\t"), "hi");
        assert_eq!(clean("hi \x07 "), "hi");
    }

    #[test]
    fn csi_sequences_are_removed() {
        assert_eq!(clean("\x1b[31mred\x1b[0m"), "red");
        assert_eq!(clean("a\x1b[1;32;40mb\x1b[2Jc\x1b[?25ld"), "abcd");
        // Intermediate byte before the final one.
        assert_eq!(clean("a\x1b[1 qb"), "ab");
    }

    #[test]
    fn malformed_csi_ends_at_the_first_foreign_character() {
        assert_eq!(clean("a\x1b[12한글"), "a한글");
        assert_eq!(clean("a\x1b[12\x07b"), "ab");
        assert_eq!(clean("a\x1b[12"), "a");
    }

    #[test]
    fn osc_sequences_are_removed() {
        assert_eq!(clean("\x1b]0;pwned title\x07hello"), "hello");
        assert_eq!(clean("\x1b]0;pwned title\x1b\\hello"), "hello");
        assert_eq!(clean("\x1b]0;title\u{9c}hello"), "hello");
        // A hyperlink: both OSC 8 halves go, the visible text stays.
        assert_eq!(
            clean("\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"),
            "click"
        );
    }

    #[test]
    fn osc_cut_short_by_another_escape_ends_there() {
        assert_eq!(clean("\x1b]0;title\x1b[31mred"), "red");
        assert_eq!(clean(&"\x1b]".repeat(5000)), "");
    }

    #[test]
    fn unterminated_osc_swallows_the_rest() {
        assert_eq!(clean("ok\x1b]0;no end"), "ok");
    }

    #[test]
    fn other_escapes_remove_two_characters() {
        assert_eq!(clean("a\x1bcb"), "ab");
        assert_eq!(clean("a\x1b7b\x1b8"), "ab");
        assert_eq!(clean("end\x1b"), "end");
    }

    #[test]
    fn c1_controls_are_removed_alone() {
        assert_eq!(clean("\u{9b}31mred"), "31mred");
        assert_eq!(clean("a\u{85}b\u{9d}c"), "abc");
    }

    #[test]
    fn c0_controls_and_del_are_removed() {
        assert_eq!(clean("a\0b\x07c\rd\x7fe\x08f\x0bg\nh"), "abcdefgh");
    }

    #[test]
    fn tab_becomes_one_space() {
        assert_eq!(clean("a\tb\t\tc"), "a b  c");
    }

    #[test]
    fn bidi_characters_are_kept_in_messages() {
        for text in ["abc \u{202E}cba", "\u{2067}שלום\u{2069} hi", "a\u{200B}b"] {
            let out = sanitize(text);
            assert!(matches!(out, Cow::Borrowed(_)));
            assert_eq!(out, text);
        }
    }

    #[test]
    fn output_never_holds_control_characters() {
        let nasty = "\x1b]\x1b[\x1b\x1b\u{9b}\u{9c}\x07\t\0\x7f\x1b]0;\x07\x1b[38;5;1m\x1b";
        for cut in 0..=nasty.len() {
            if let Some(prefix) = nasty.get(..cut) {
                assert!(!clean(prefix).chars().any(char::is_control), "{prefix:?}");
            }
        }
    }
}
