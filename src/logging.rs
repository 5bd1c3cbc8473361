//! The activity log: stderr, and optionally a file with the same lines.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::path::Path;

use simplelog::{
    ColorChoice, CombinedLogger, ConfigBuilder, LevelFilter, SharedLogger, TermLogger,
    TerminalMode, WriteLogger,
};

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
        level,
        config.clone(),
        TerminalMode::Stderr,
        // Colours only for a person watching a terminal, never escape codes in a redirected log.
        if std::io::stderr().is_terminal() {
            ColorChoice::Auto
        } else {
            ColorChoice::Never
        },
    )];
    if let Some(path) = file {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        loggers.push(WriteLogger::new(level, config, file));
    }
    CombinedLogger::init(loggers).map_err(std::io::Error::other)
}
