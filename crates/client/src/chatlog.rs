//! `--log`: a plain-text log of the conversation, one line per line shown.
//!
//! Lines are written as the server sent them (stamps included, control characters removed, no
//! colours), your own messages as `[HH:MM] you: text` in local time, and the client's status lines
//! with their `~~` mark. The file is appended to, and each line is flushed as written, so the log
//! is complete up to a crash or a kill.

use std::fs::{File, OpenOptions};
use std::io::{self, LineWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct ChatLog {
    path: PathBuf,
    out: LineWriter<File>,
}

impl ChatLog {
    /// Opens (appends to) the log and writes a line that says when this session began.
    pub fn open(path: &Path) -> io::Result<ChatLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let mut log = ChatLog {
            path: path.to_path_buf(),
            out: LineWriter::new(file),
        };
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
        log.line(&format!("~~ log opened {now}"));
        Ok(log)
    }

    /// The default log name for a nickname: `<nickname>_chat_log.txt` (the nickname cleaned as a
    /// file name component).
    pub fn default_path(nick: &str) -> PathBuf {
        let nick = crate::downloads::clean_component(nick).unwrap_or_else(|| "chat".into());
        PathBuf::from(format!("{nick}_chat_log.txt"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line; a failing disk is reported once by the caller, not per line.
    pub fn line(&mut self, text: &str) -> bool {
        writeln!(self.out, "{text}").is_ok()
    }
}
