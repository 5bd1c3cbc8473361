//! Where lines go: the terminal (through the line editor's external printer, so the prompt and
//! the half-typed line are redrawn below each message), or plain stdout/stderr in a pipe, and the
//! `--log` file in both cases.
//!
//! In plain mode stdout carries exactly the server's lines (control characters removed) and the
//! client's own status lines (`~~ ...`) go to stderr, so a script can read the conversation from
//! stdout without filtering.

use std::io::Write;

use crate::chatlog::ChatLog;
use crate::style::{clean, Painter};

/// Prints one complete line (no trailing newline) where the user sees it.
pub type PrintFn = Box<dyn FnMut(String) + Send>;

pub struct Output {
    painter: Painter,
    /// `Some` on a terminal (the editor's printer); `None` in plain mode.
    printer: Option<PrintFn>,
    log: Option<ChatLog>,
    log_failed: bool,
    /// Lines shown before the log could be opened (its default name needs the nickname, known
    /// at the end of the welcome): written to it first.
    held: Option<Vec<String>>,
    /// The last line printed on the terminal is a progress frame (the next one replaces it).
    after_frame: bool,
}

/// Lines held for a log that is not open yet; beyond this the oldest go.
const MAX_HELD: usize = 1000;

impl Output {
    pub fn terminal(printer: PrintFn, painter: Painter) -> Output {
        Output {
            painter,
            printer: Some(printer),
            log: None,
            log_failed: false,
            held: None,
            after_frame: false,
        }
    }

    pub fn plain(painter: Painter) -> Output {
        Output {
            painter,
            printer: None,
            log: None,
            log_failed: false,
            held: None,
            after_frame: false,
        }
    }

    /// Keeps what is shown from now on until [`Output::set_log`] (or [`Output::no_log`]).
    pub fn hold_for_log(&mut self) {
        self.held = Some(Vec::new());
    }

    /// Starts logging, beginning with the lines held so far.
    pub fn set_log(&mut self, log: ChatLog) {
        self.log = Some(log);
        for line in self.held.take().unwrap_or_default() {
            self.log(&line);
        }
    }

    /// There will be no log: forget the held lines.
    pub fn no_log(&mut self) {
        self.held = None;
    }

    pub fn has_log(&self) -> bool {
        self.log.is_some()
    }

    /// A line from the server.
    pub fn server(&mut self, line: &str, me: Option<&str>) {
        let shown = self.painter.server_line(line, me);
        match &mut self.printer {
            Some(print) => {
                print(shown);
                self.after_frame = false;
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{shown}");
                let _ = out.flush();
            }
        }
        self.log(&clean(line));
    }

    /// A line of the client's own: connection status, downloads, help.
    pub fn status(&mut self, text: &str) {
        let shown = self.painter.status(text);
        match &mut self.printer {
            Some(print) => {
                print(shown);
                self.after_frame = false;
            }
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{shown}");
            }
        }
        self.log(&format!("~~ {}", clean(text)));
    }

    /// A frame of an upload's progress bar (terminal only, never logged). It replaces the
    /// previous frame when nothing was printed in between: the editor's printer clears the prompt
    /// and leaves the cursor at its start, so "up one line, clear it" lands on the old frame.
    pub fn progress(&mut self, frame: &str) {
        let Some(print) = &mut self.printer else {
            return;
        };
        let shown = self.painter.status(frame);
        if self.after_frame {
            print(format!("\x1b[1A\x1b[2K{shown}"));
        } else {
            print(shown);
        }
        self.after_frame = true;
    }

    /// The status line that ends an upload, in place of its last progress frame if that is the
    /// last line shown.
    pub fn end_progress(&mut self, text: &str) {
        if let (true, Some(print)) = (self.after_frame, &mut self.printer) {
            print(format!("\x1b[1A\x1b[2K{}", self.painter.status(text)));
            self.after_frame = false;
            self.log(&format!("~~ {}", clean(text)));
        } else {
            self.status(text);
        }
    }

    /// A message the user sent (the terminal already shows it as typed): logged only.
    pub fn own(&mut self, me: &str, text: &str) {
        let stamp = chrono::Local::now().format("[%H:%M]");
        self.log(&format!("{stamp} {me}: {}", clean(text)));
    }

    fn log(&mut self, line: &str) {
        if let Some(held) = &mut self.held {
            if held.len() >= MAX_HELD {
                held.remove(0);
            }
            held.push(line.to_string());
            return;
        }
        let Some(log) = &mut self.log else { return };
        if !log.line(line) && !self.log_failed {
            self.log_failed = true;
            let path = log.path().display().to_string();
            self.status(&format!("cannot write the log {path}; logging stopped"));
            self.log = None;
        }
    }
}
