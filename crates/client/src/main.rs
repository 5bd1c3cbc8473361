//! reactor-chat-client: the bundled line client.
//!
//! # Layout
//! - [`args`]: the command line.
//! - [`session`]: the one thread that owns the connection state (login, reconnect, commands,
//!   files); every other thread only sends it events.
//! - [`conn`]: a connection's reader and writer threads; uploads stream from disk, with
//!   [`progress`] bars printed through the session.
//! - [`proto`]: the server's bytes split into lines and `=file` payloads (sans-IO).
//! - [`lines`]: what a server line is (chat, whisper, notice, offer, resume key, ...).
//! - [`style`], [`output`]: how lines look, and where they go (terminal, pipe, `--log`).
//! - [`downloads`]: safe names for received files; [`backoff`]: reconnect delays;
//!   [`chatlog`]: the `--log` file.
//!
//! Two front ends feed the session: on a terminal, a `rustyline` editor on the main thread, whose
//! external printer draws incoming lines above the prompt and the half-typed line; in a pipe, a
//! thread that reads stdin line by line (and at its end the session sends `/quit` and waits for
//! the server to close, so every line sent was processed).

mod args;
mod backoff;
mod chatlog;
mod conn;
mod downloads;
mod event;
mod lines;
mod output;
mod progress;
mod prompt;
mod proto;
mod session;
mod style;
mod tls;

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;

use clap::Parser;
use rustyline::error::ReadlineError;
use rustyline::ExternalPrinter as _;

use args::Args;
use event::Ev;
use output::{Output, PrintFn};
use prompt::Prompt;
use session::{Session, Settings};
use style::Painter;

fn main() -> ExitCode {
    let args = Args::parse();
    let stdout_tty = io::stdout().is_terminal();
    let interactive = io::stdin().is_terminal() && stdout_tty;
    let painter = Painter {
        color: args.color(stdout_tty),
    };
    let download_dir = match prepare_dir(&args.download_dir) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!(
                "reactor-chat-client: download directory {}: {e}",
                args.download_dir.display()
            );
            return ExitCode::from(2);
        }
    };
    let (tls_scheme, server) = args::split_scheme(&args.server);
    let tls = if args.tls || tls_scheme || args.ca.is_some() {
        match tls::Tls::new(args.ca.as_deref()) {
            Ok(tls) => Some(tls),
            Err(e) => {
                eprintln!("reactor-chat-client: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let settings = Settings {
        server: args::server_address(server),
        tls,
        nick: args.name.clone().filter(|n| !n.trim().is_empty()),
        download_dir,
        accept_files: args.accept_files,
        log: args.log.clone(),
        interactive,
        prompt: Arc::new(Prompt::new(
            args.name.as_deref().filter(|n| !n.trim().is_empty()),
        )),
    };
    if interactive {
        match run_interactive(settings, painter) {
            Ok(never) => match never {},
            Err(e) => {
                eprintln!("reactor-chat-client: the terminal: {e}");
                ExitCode::from(2)
            }
        }
    } else {
        run_plain(settings, painter)
    }
}

/// Creates the download directory if needed and returns its canonical path.
fn prepare_dir(dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    dir.canonicalize()
}

/// Pipes and scripts: stdin lines in, server lines out on stdout, status on stderr.
fn run_plain(settings: Settings, painter: Painter) -> ExitCode {
    let session = Session::new(settings, Output::plain(painter));
    let tx = session.sender();
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match stdin.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    if tx.send(Ev::Input(line)).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Ev::InputEof);
    });
    let code = session.run();
    let _ = io::stdout().flush();
    // The stdin thread may still be blocked in a read: leave without waiting for it.
    std::process::exit(code)
}

/// A person at a terminal: the line editor on this thread, the session on another. The session
/// ends the process (restoring the terminal first), since a blocked `readline` cannot be woken.
fn run_interactive(
    settings: Settings,
    painter: Painter,
) -> rustyline::Result<std::convert::Infallible> {
    let config = rustyline::Config::builder()
        .auto_add_history(true)
        .max_history_size(1000)?
        .build();
    let mut editor = rustyline::DefaultEditor::with_config(config)?;
    let mut printer = editor.create_external_printer()?;
    let print: PrintFn = Box::new(move |line: String| {
        let _ = printer.print(format!("{line}\n"));
    });
    let saved = terminal::save();
    let prompt = settings.prompt.clone();
    let session = Session::new(settings, Output::terminal(print, painter));
    let tx = session.sender();
    thread::spawn(move || {
        let code = session.run();
        thread::sleep(session::DRAIN); // let the printer draw the last lines
        terminal::restore(saved);
        std::process::exit(code);
    });
    let mut shown = prompt.get();
    loop {
        match editor.readline(&shown.text) {
            Ok(line) => {
                // Read before the session sees the line, so a change after it is the answer.
                let before = prompt.get();
                let sets_prompt = before.asks_nickname || session::is_rename(&line);
                if tx.send(Ev::Input(line)).is_err() {
                    break;
                }
                shown = if sets_prompt {
                    // The server answers a login or a rename at once; draw the prompt that answer
                    // sets (the next `readline` is the only chance to draw it).
                    prompt.after(&before, ANSWER)
                } else {
                    prompt.get()
                };
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) | Err(_) => {
                let _ = tx.send(Ev::InputEof);
                break;
            }
        }
    }
    loop {
        thread::park(); // the session exits the process
    }
}

/// How long the editor waits for the server to answer a nickname or a rename before prompting
/// anyway (a slow server must not leave the user without a prompt).
const ANSWER: std::time::Duration = std::time::Duration::from_secs(3);

/// Putting the terminal back as it was when the process exits in the middle of `readline`.
mod terminal {
    use std::io::Write;

    pub fn save() -> Option<libc::termios> {
        // SAFETY: tcgetattr writes one termios struct, which we own, and fails cleanly on a
        // descriptor that is not a terminal.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            (libc::tcgetattr(libc::STDIN_FILENO, &mut t) == 0).then_some(t)
        }
    }

    pub fn restore(saved: Option<libc::termios>) {
        if let Some(t) = saved {
            // SAFETY: sets the attributes read by `save` on the same descriptor.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t);
            }
        }
        // Bracketed paste off (the editor turns it on), and the editor's prompt erased: the
        // shell's prompt takes its line, and no `alice> ` is left under the goodbye.
        let mut out = std::io::stdout();
        let _ = out.write_all(b"\x1b[?2004l\r\x1b[2K");
        let _ = out.flush();
    }
}
