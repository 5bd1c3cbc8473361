//! Saving received files under the download directory, whatever name the server sends.
//!
//! The server cleans file names already, but a client must not trust it with its disk: the name is
//! cleaned again here (last path component only, no `..`, no control or invisible characters, no
//! leading dots), the nicknames that go into the name are cleaned the same way, the file is
//! created with `create_new` (never overwriting, never following a planted symlink), a counter is
//! added when the name exists (`To<me>_From<sender>_notes (1).txt`), and the final path's parent is
//! checked to be the download directory itself. An interrupted download is removed, not left half
//! written under the final name.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Longest file name written, in bytes (file systems allow 255).
const MAX_NAME: usize = 200;

/// A file name reduced to something safe to create in one directory: the last component of any
/// `/` or `\` path, without control, format (bidi, zero-width) or `< > : " | ? *` characters,
/// without leading dots or spaces, never `.`/`..`. `None` if nothing usable is left.
pub fn clean_component(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible(c))
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim_start_matches(['.', ' ']).trim_end();
    (!cleaned.is_empty() && cleaned != "..").then(|| cleaned.to_string())
}

/// Bidi controls, zero-width characters and other format characters that can disguise a name.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}'
        | '\u{ffa0}' | '\u{fff0}'..='\u{fff8}' | '\u{e0000}'..='\u{e0fff}')
}

/// `To<me>_From<sender>_<name>`, each part cleaned, cut to [`MAX_NAME`] bytes keeping the
/// extension.
pub fn file_name(me: &str, from: &str, name: &str) -> String {
    let part = |s: &str| clean_component(s).unwrap_or_else(|| "unknown".into());
    let full = format!("To{}_From{}_{}", part(me), part(from), part(name));
    let (stem, ext) = split_ext(&full);
    if full.len() <= MAX_NAME {
        return full;
    }
    let ext = if ext.len() > 20 { "" } else { ext };
    format!("{}{ext}", cut(stem, MAX_NAME - ext.len()))
}

/// `notes.txt` -> (`notes`, `.txt`); no extension -> (`name`, ``).
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `name`, then `stem (1).ext`, `stem (2).ext`, ...
fn candidate(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_string();
    }
    let (stem, ext) = split_ext(name);
    format!("{stem} ({n}){ext}")
}

/// A file being received.
#[derive(Debug)]
pub struct Download {
    pub path: PathBuf,
    file: File,
    pub written: u64,
}

impl Download {
    /// Creates a new file for `name` in `dir` (which must be canonical), adding a counter rather
    /// than overwriting anything.
    pub fn create(dir: &Path, name: &str) -> io::Result<Download> {
        for n in 0..10_000 {
            let path = dir.join(candidate(name, n));
            if path.parent() != Some(dir) || path.file_name().is_none() {
                return Err(io::Error::other(format!(
                    "refusing to write {} outside {}",
                    path.display(),
                    dir.display()
                )));
            }
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(Download {
                        path,
                        file,
                        written: 0,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("too many files with that name"))
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Flushes the file to disk; the download is complete.
    pub fn finish(self) -> io::Result<PathBuf> {
        self.file.sync_all()?;
        Ok(self.path)
    }

    /// Removes the partial file.
    pub fn abandon(self) {
        drop(self.file);
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_reduced_to_one_component() {
        for (raw, want) in [
            ("notes.txt", Some("notes.txt")),
            ("../../evil.txt", Some("evil.txt")),
            ("/etc/passwd", Some("passwd")),
            ("..\\..\\win.ini", Some("win.ini")),
            ("..", None),
            (".", None),
            ("...", None),
            ("a/..", None),
            ("", None),
            ("\u{202e}txt.exe", Some("txt.exe")),
            ("x\r\n\u{7}y", Some("xy")),
            (".bashrc", Some("bashrc")),
            ("a<b>:c\"|?*", Some("a_b__c____")),
            ("김철수 노트.txt", Some("김철수 노트.txt")),
        ] {
            assert_eq!(clean_component(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn saved_names_follow_the_pattern_and_stay_short() {
        assert_eq!(file_name("bob", "alice", "a.txt"), "Tobob_Fromalice_a.txt");
        assert_eq!(
            file_name("../bob", "a/../../x", "../../evil.txt"),
            "Tobob_Fromx_evil.txt"
        );
        assert_eq!(file_name("bob", "alice", ".."), "Tobob_Fromalice_unknown");
        let long = format!("{}.tar.gz", "한".repeat(200));
        let name = file_name("bob", "alice", &long);
        assert!(name.len() <= MAX_NAME && name.ends_with(".gz"), "{name}");
        assert!(name.starts_with("Tobob_Fromalice_한"));
    }

    #[test]
    fn never_overwrites_and_counts_up() {
        let dir = std::env::temp_dir().join(format!("rcc-dl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let dir = dir.canonicalize().unwrap();
        let mut paths = Vec::new();
        for i in 0..3 {
            let mut d = Download::create(&dir, "To_b_From_a_x.txt").unwrap();
            d.write(format!("file {i}").as_bytes()).unwrap();
            paths.push(d.finish().unwrap());
        }
        let names: Vec<_> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "To_b_From_a_x.txt",
                "To_b_From_a_x (1).txt",
                "To_b_From_a_x (2).txt"
            ]
        );
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(std::fs::read_to_string(p).unwrap(), format!("file {i}"));
        }
        // A planted symlink is not followed: the name counts as taken.
        #[cfg(unix)]
        {
            let target = dir.join("target");
            std::os::unix::fs::symlink(&target, dir.join("link")).unwrap();
            let d = Download::create(&dir, "link").unwrap();
            assert_eq!(d.path, dir.join("link (1)"));
            assert!(!target.exists());
        }
        // A name that is a path is refused rather than written elsewhere.
        assert!(Download::create(&dir, "../escape").is_err());
        let partial = Download::create(&dir, "partial").unwrap();
        let path = partial.path.clone();
        partial.abandon();
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
