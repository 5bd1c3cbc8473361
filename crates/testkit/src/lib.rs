//! The harness every integration test uses: the real `reactor-chat` binary on an ephemeral port,
//! and clients that speak TCP the way telnet or nc would.
//!
//! Nothing here sleeps for a fixed time to "let things settle": every read waits for a line that
//! matches, up to a deadline. When an expectation fails, the panic message carries the client's
//! transcript, and the server's activity log is printed when the `Server` is dropped while
//! panicking, so a failure can be understood from the test output alone.
//!
//! The harness is a crate of its own because the server's, the client's and the bench's
//! integration tests all use it, and each package's tests only get their own package's binaries
//! from cargo (`CARGO_BIN_EXE_*`). [`bin`] finds every workspace binary instead: from an
//! environment variable (`scripts/test.sh` builds them all and sets these), else beside the test
//! executable in cargo's target directory. A binary that is missing fails the test, with how to
//! build it; a test never skips.

mod client;
mod redis;
mod server;
mod terminal;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use client::Client;
pub use redis::Redis;
pub use server::{run_to_exit, Server, ServerBuilder, TempDir};
pub use terminal::{last_line, Terminal};

/// The server binary, and the variable that names it.
pub const SERVER: (&str, &str) = ("reactor-chat", "REACTOR_CHAT_BIN");
/// The line client.
pub const CLIENT: (&str, &str) = ("reactor-chat-client", "REACTOR_CHAT_CLIENT_BIN");
/// The load generator.
pub const BENCH: (&str, &str) = ("reactor-chat-bench", "REACTOR_CHAT_BENCH_BIN");

/// The path of a workspace binary, `(name, variable)` as in [`SERVER`]: the variable's value if it
/// is set, else `name` in the target directory the running test was built into (where
/// `cargo test --workspace` has just built every binary).
///
/// # Panics
///
/// The binary is not there: the test cannot run, and says how to build it.
pub fn bin((name, variable): (&str, &str)) -> PathBuf {
    let path = match std::env::var_os(variable) {
        Some(path) => PathBuf::from(path),
        None => {
            // target/<profile>/deps/<test executable>
            let exe = std::env::current_exe().expect("the test executable's path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("a test executable lives in target/<profile>/deps");
            profile_dir.join(name)
        }
    };
    assert!(
        path.is_file(),
        "{name} is not built at {}: run `bash scripts/test.sh`, or `cargo build --workspace` \
         and set {variable} to its path",
        path.display()
    );
    path
}

/// How long an expected line may take to arrive. Generous: CI machines are shared and slow, and a
/// passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// The text of a stamped line after `[HH:MM] `, if it is one.
pub fn unstamp(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let stamped = b.len() >= 8
        && b[0] == b'['
        && b[1..3].iter().all(u8::is_ascii_digit)
        && b[3] == b':'
        && b[4..6].iter().all(u8::is_ascii_digit)
        && b[6] == b']'
        && b[7] == b' ';
    stamped.then(|| &line[8..])
}

/// The part of a markdown text from the `heading` line to the next `## ` heading.
pub fn readme_section<'a>(readme: &'a str, heading: &str) -> &'a str {
    let start = readme.find(&format!("\n{heading}\n")).expect("the heading") + 1;
    let rest = &readme[start + heading.len()..];
    let end = rest
        .find("\n## ")
        .map_or(readme.len(), |e| start + heading.len() + e);
    &readme[start..end]
}

/// Checks that every flag a README table names is in a program's `--help`, and that every flag of
/// `--help` (but `--help` and `--version`) is in the README's list.
pub fn assert_flags_documented(help: &str, readme_flags: &[&str]) {
    for flag in readme_flags {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    for word in help.split_whitespace() {
        let flag = word
            .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .split('=')
            .next()
            .unwrap();
        if flag.starts_with("--") && flag.len() > 2 && !["--help", "--version"].contains(&flag) {
            assert!(readme_flags.contains(&flag), "the README lacks {flag}");
        }
    }
}
