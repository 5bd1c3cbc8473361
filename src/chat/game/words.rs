//! The word lists of the guessing game: built-in categories in English and Korean, and more
//! from `--words FILE` (one `CATEGORY<TAB>WORD` per line).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The built-in lists, embedded in the binary.
const BUILTIN: &str = include_str!("../../../assets/words/builtin.tsv");

/// Longest category name, in characters (it is typed in `/game start CATEGORY`).
pub const MAX_CATEGORY_CHARS: usize = 32;
/// Longest word or title, in characters.
pub const MAX_WORD_CHARS: usize = 40;

/// A bad line of a word file: its number (from 1) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordsError {
    pub line: usize,
    pub why: &'static str,
}

impl std::fmt::Display for WordsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

impl std::error::Error for WordsError {}

#[derive(Debug, Default)]
struct Category {
    /// As first written.
    name: Arc<str>,
    words: Vec<Arc<str>>,
}

/// Every category and its words. Categories are matched case-insensitively.
#[derive(Debug, Default)]
pub struct WordBank {
    categories: BTreeMap<String, Category>,
}

impl WordBank {
    /// The built-in lists plus those of `--words FILE`, if given.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or one of its lines is malformed (with its number).
    pub fn load(extra: Option<&Path>) -> Result<WordBank, String> {
        let mut bank = WordBank::builtin();
        if let Some(path) = extra {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--words {}: {e}", path.display()))?;
            bank.add_text(&text)
                .map_err(|e| format!("--words {}: {e}", path.display()))?;
        }
        Ok(bank)
    }

    /// The built-in lists.
    pub fn builtin() -> WordBank {
        let mut bank = WordBank::default();
        // The built-in file is checked by a unit test; a bad line there would only be skipped.
        let _ = bank.add_text(BUILTIN);
        bank
    }

    /// Adds the words of a file's text. Every line is checked first; on an error nothing is
    /// added. Returns how many words were new.
    ///
    /// # Errors
    ///
    /// The first bad line: no tab, an empty or overlong category or word, a category with
    /// characters other than letters, digits, `_` and `-`, a word without a letter, or control
    /// characters.
    pub fn add_text(&mut self, text: &str) -> Result<usize, WordsError> {
        let mut parsed = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            parsed.push(parse_line(line).map_err(|why| WordsError { line: i + 1, why })?);
        }
        let mut added = 0;
        for (category, word) in parsed {
            let entry = self
                .categories
                .entry(category.to_lowercase())
                .or_insert_with(|| Category {
                    name: Arc::from(category),
                    words: Vec::new(),
                });
            let key = super::round::normalize(word);
            if !entry
                .words
                .iter()
                .any(|w| super::round::normalize(w) == key)
            {
                entry.words.push(Arc::from(word));
                added += 1;
            }
        }
        Ok(added)
    }

    /// Categories with their word counts, sorted by name.
    pub fn categories(&self) -> Vec<(Arc<str>, usize)> {
        self.categories
            .values()
            .map(|c| (c.name.clone(), c.words.len()))
            .collect()
    }

    /// A word from `category` (any category when `None`), chosen by `random`. Returns the
    /// category's name and the word, or `None` for an unknown category.
    pub fn pick(&self, category: Option<&str>, random: u64) -> Option<(Arc<str>, Arc<str>)> {
        let chosen = match category {
            Some(name) => self.categories.get(&name.to_lowercase())?,
            None => {
                let n = self.categories.len();
                if n == 0 {
                    return None;
                }
                self.categories.values().nth((random % n as u64) as usize)?
            }
        };
        if chosen.words.is_empty() {
            return None;
        }
        // Mixed so the word does not follow from the bits that chose the category.
        let mixed = random.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let index = (mixed % chosen.words.len() as u64) as usize;
        Some((chosen.name.clone(), chosen.words[index].clone()))
    }
}

fn parse_line(line: &str) -> Result<(&str, &str), &'static str> {
    let (category, word) = line.split_once('\t').ok_or("expected CATEGORY<TAB>WORD")?;
    let (category, word) = (category.trim(), word.trim());
    if category.is_empty() || category.chars().count() > MAX_CATEGORY_CHARS {
        return Err("a category has 1 to 32 characters");
    }
    if !category
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err("a category has only letters, digits, _ and -");
    }
    if word.is_empty() || word.chars().count() > MAX_WORD_CHARS {
        return Err("a word has 1 to 40 characters");
    }
    if word.chars().any(char::is_control) {
        return Err("a word has no control characters (or a second tab)");
    }
    if !word.chars().any(char::is_alphanumeric) {
        return Err("a word needs at least one letter");
    }
    Ok((category, word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_lists_are_valid_and_big_enough_in_both_languages() {
        let mut bank = WordBank::default();
        let added = bank
            .add_text(BUILTIN)
            .expect("every built-in line is valid");
        assert!(added >= 350, "{added}");
        let categories = bank.categories();
        assert!(categories.len() >= 6, "{categories:?}");
        for (name, count) in &categories {
            assert!(*count >= 50, "{name} has only {count} words");
        }
        let korean = categories
            .iter()
            .filter(|(n, _)| n.chars().any(|c| ('가'..='힣').contains(&c)))
            .count();
        assert!(korean >= 3, "{categories:?}");
    }

    #[test]
    fn files_are_checked_line_by_line_with_clear_errors() {
        let mut bank = WordBank::default();
        assert_eq!(
            bank.add_text("# comment\n\nfruit\tapple\nfruit\tPear\r\nfruit\tapple\n"),
            Ok(2)
        );
        let cases = [
            ("fruit apple", 1, "expected CATEGORY<TAB>WORD"),
            ("\tapple", 1, "a category has 1 to 32 characters"),
            (
                "fr uit\tapple",
                1,
                "a category has only letters, digits, _ and -",
            ),
            ("fruit\t", 1, "a word has 1 to 40 characters"),
            (
                "ok\tfine\nfruit\t!!!",
                2,
                "a word needs at least one letter",
            ),
            (
                "fruit\tap\tple",
                1,
                "a word has no control characters (or a second tab)",
            ),
        ];
        for (text, line, why) in cases {
            assert_eq!(
                bank.add_text(text),
                Err(WordsError { line, why }),
                "{text:?}"
            );
        }
        // A bad file adds nothing at all.
        assert_eq!(bank.categories(), vec![(Arc::from("fruit"), 2)]);
    }

    #[test]
    fn picking_is_by_category_case_insensitively() {
        let mut bank = WordBank::default();
        bank.add_text("Fruit\tapple\nFruit\tpear\nveg\tleek\n")
            .unwrap();
        let (cat, word) = bank.pick(Some("fruit"), 0).unwrap();
        assert_eq!(&*cat, "Fruit");
        assert!(["apple", "pear"].contains(&&*word));
        assert!(bank.pick(Some("meat"), 0).is_none());
        let picked: std::collections::HashSet<_> =
            (0..64u64).map(|r| bank.pick(None, r).unwrap().1).collect();
        assert_eq!(picked.len(), 3, "{picked:?}");
    }
}
