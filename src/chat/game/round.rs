//! The word-guessing game's rules, with no sockets and no clocks of its own: a [`Round`] knows
//! its word, which letters are shown, whether a line guesses it and what a win is worth. The chat
//! core runs rounds on its timers (a hint every `--hint-interval`) and keeps scores.

use std::sync::Arc;

/// Points for a word guessed before any letter was shown.
pub const MAX_POINTS: u32 = 100;
/// Fewest points a win is worth, however many letters were shown.
pub const MIN_POINTS: u32 = 10;

/// What a guess is compared by: lower case, letters and digits only (spaces, punctuation and
/// case never matter: "toy story", "ToyStory" and "Toy Story!" all guess "Toy Story").
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// One round: a word, its category and the letters shown so far.
#[derive(Debug, Clone)]
pub struct Round {
    pub category: Arc<str>,
    pub word: Arc<str>,
    chars: Vec<char>,
    /// Per character of `chars`: shown. Spaces and punctuation are always shown.
    shown: Vec<bool>,
    key: String,
}

impl Round {
    pub fn new(category: Arc<str>, word: Arc<str>) -> Round {
        let chars: Vec<char> = word.chars().collect();
        let shown = chars.iter().map(|c| !c.is_alphanumeric()).collect();
        let key = normalize(&word);
        Round {
            category,
            word,
            chars,
            shown,
            key,
        }
    }

    /// Letters (and digits) in the word.
    pub fn letters(&self) -> usize {
        self.chars.iter().filter(|c| c.is_alphanumeric()).count()
    }

    /// Letters shown so far.
    pub fn letters_shown(&self) -> usize {
        self.chars
            .iter()
            .zip(&self.shown)
            .filter(|(c, s)| c.is_alphanumeric() && **s)
            .count()
    }

    /// The word as players see it: `_` for a hidden letter, one space between characters and `/`
    /// between words, e.g. `T _ _ / _ t _ _ _`.
    pub fn mask(&self) -> String {
        let mut out = String::with_capacity(self.chars.len() * 2);
        for (i, (c, shown)) in self.chars.iter().zip(&self.shown).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            match (c.is_whitespace(), shown) {
                (true, _) => out.push('/'),
                (false, true) => out.push(*c),
                (false, false) => out.push('_'),
            }
        }
        out
    }

    /// Shows one more hidden letter, chosen by `random`, but never the last hidden one (a hint
    /// must leave something to guess). Returns false when there is nothing more to show.
    pub fn reveal(&mut self, random: u64) -> bool {
        let hidden: Vec<usize> = (0..self.chars.len()).filter(|&i| !self.shown[i]).collect();
        if hidden.len() <= 1 {
            return false;
        }
        let pick = hidden[(random % hidden.len() as u64) as usize];
        self.shown[pick] = true;
        true
    }

    /// Whether more hints can be given.
    pub fn can_reveal(&self) -> bool {
        self.shown.iter().filter(|s| !**s).count() > 1
    }

    /// Whether `text` guesses the word.
    pub fn is_guess(&self, text: &str) -> bool {
        !self.key.is_empty() && normalize(text) == self.key
    }

    /// What a win is worth now: the share of letters still hidden, from [`MAX_POINTS`] down to
    /// [`MIN_POINTS`].
    pub fn points(&self) -> u32 {
        let letters = self.letters().max(1) as u32;
        let hidden = letters - self.letters_shown() as u32;
        (MAX_POINTS * hidden / letters).max(MIN_POINTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(word: &str) -> Round {
        Round::new(Arc::from("test"), Arc::from(word))
    }

    #[test]
    fn the_mask_hides_letters_and_shows_word_breaks() {
        let r = round("Toy Story!");
        assert_eq!(r.mask(), "_ _ _ / _ _ _ _ _ !");
        assert_eq!(r.letters(), 8);
        assert_eq!(round("기생충").mask(), "_ _ _");
    }

    #[test]
    fn guesses_ignore_case_spaces_and_punctuation_korean_included() {
        let r = round("Toy Story");
        for yes in ["toy story", "TOYSTORY", " Toy  Story! ", "toy-story"] {
            assert!(r.is_guess(yes), "{yes}");
        }
        for no in ["toy", "toy stories", "", "!!!"] {
            assert!(!r.is_guess(no), "{no}");
        }
        let k = round("태극기 휘날리며");
        assert!(k.is_guess("태극기휘날리며"));
        assert!(!k.is_guess("태극기"));
    }

    #[test]
    fn hints_never_give_the_whole_word_away() {
        let mut r = round("cat");
        assert!(r.reveal(0));
        assert!(r.reveal(0));
        assert!(!r.can_reveal());
        assert!(!r.reveal(0));
        assert_eq!(r.letters_shown(), 2);
        assert_eq!(r.mask().matches('_').count(), 1);
    }

    #[test]
    fn fewer_letters_shown_is_worth_more() {
        let mut r = round("elephant");
        assert_eq!(r.points(), MAX_POINTS);
        r.reveal(1);
        r.reveal(2);
        assert_eq!(r.points(), 75);
        while r.reveal(3) {}
        assert_eq!(r.points(), 12); // one letter of eight still hidden
        let mut long = round(&"abcdefghij".repeat(4));
        while long.reveal(5) {}
        assert_eq!(long.points(), MIN_POINTS);
    }
}
