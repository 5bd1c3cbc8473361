//! The activity log: stderr, and optionally a file with the same lines.
//!
//! The file can be reopened (`reopen`, on SIGHUP), so logrotate can move it away and the server
//! writes a new one; and the level is the `log` crate's global maximum, so a reload changes it
//! (the loggers themselves pass everything that reaches them).

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

use simplelog::{
    ColorChoice, CombinedLogger, ConfigBuilder, LevelFilter, SharedLogger, TermLogger,
    TerminalMode, WriteLogger,
};

/// The log file, if any: every line the file logger writes goes here.
static LOG_FILE: Mutex<Option<File>> = Mutex::new(None);

/// The file logger's writer: writes to whatever file `LOG_FILE` holds now (none: nothing).
struct LogFile;

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Opens the log file anew (or another one, or none): what a reload does, so a rotated log is
/// written again under its name. On an error the old file stays in use.
pub fn reopen(file: Option<&Path>, level: LevelFilter) -> std::io::Result<()> {
    let file = file.map(open).transpose()?;
    *LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()) = file;
    log::set_max_level(level);
    Ok(())
}

/// Installs the global logger. Called once, before the reactor starts.
pub fn init(level: LevelFilter, file: Option<&Path>) -> std::io::Result<()> {
    let mut builder = ConfigBuilder::new();
    builder.set_target_level(LevelFilter::Off);
    builder.set_thread_level(LevelFilter::Off);
    // Local time in the log matches the stamps users see; it can only be read while
    // single-threaded, which start-up is.
    let _ = builder.set_time_offset_to_local();
    builder.set_time_format_rfc3339();
    let config = builder.build();
    let mut loggers: Vec<Box<dyn SharedLogger>> = vec![TermLogger::new(
        LevelFilter::Trace,
        config.clone(),
        TerminalMode::Stderr,
        // Colours only for a person watching a terminal, never escape codes in a redirected log.
        if std::io::stderr().is_terminal() {
            ColorChoice::Auto
        } else {
            ColorChoice::Never
        },
    )];
    *LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()) = file.map(open).transpose()?;
    loggers.push(WriteLogger::new(LevelFilter::Trace, config, LogFile));
    CombinedLogger::init(loggers).map_err(std::io::Error::other)?;
    log::set_max_level(level);
    Ok(())
}
