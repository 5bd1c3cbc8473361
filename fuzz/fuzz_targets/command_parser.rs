//! The command parser: any cleaned line parses without panicking, into a command that borrows
//! from the line, and a line that does not start with `/` is always a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reactor_chat::chat::command::{parse, Command};
use reactor_chat::chat::help;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let line = reactor_chat::chat::text::sanitize(raw);
    if line.is_empty() {
        return;
    }
    let command = parse(&line);
    if !line.starts_with('/') {
        assert_eq!(command, Command::Say(&line));
    }
    if let Command::Usage(name) = command {
        assert!(help::find(name).is_some(), "usage of a command without help: {name}");
    }
});
