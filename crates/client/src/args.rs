//! The command line of `reactor-chat-client`.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// A terminal client for reactor-chat: colours, a line editor that incoming messages never
/// garble, file transfers, automatic reconnects. Plain text in pipes and scripts.
#[derive(Debug, Parser)]
#[command(name = "reactor-chat-client", version)]
pub struct Args {
    /// The server, as HOST:PORT; a port alone (`8081`, `:8081`) means this machine, a host
    /// alone the default port 8080. `tls://HOST:PORT` is the same as --tls.
    #[arg(default_value = "127.0.0.1:8080")]
    pub server: String,

    /// Connect inside TLS, verifying the server's certificate against this machine's trusted
    /// authorities (or --ca) and its host name.
    #[arg(long)]
    pub tls: bool,

    /// Trust the certificates in this PEM file instead of the system's (a private authority, or
    /// a self-signed server). Implies --tls.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Nickname to log in with; asked for when missing (or refused).
    #[arg(long, short)]
    pub name: Option<String>,

    /// Where received files are saved, as To<me>_From<sender>_<name>.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub download_dir: PathBuf,

    /// Accept offered files up to this many bytes without asking (0: never).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub accept_files: u64,

    /// Keep a plain-text log of the conversation in FILE (alone: <nickname>_chat_log.txt).
    /// Write --log=FILE, or put --log after the server address, so it does not take the address.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub log: Option<Option<PathBuf>>,

    /// Colours: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = ColorMode::Auto)]
    pub color: ColorMode,

    /// The same as --color never.
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    Auto,
    Always,
    Never,
}

impl Args {
    /// Whether to colour output, given whether stdout is a terminal.
    pub fn color(&self, stdout_is_terminal: bool) -> bool {
        match (self.no_color, self.color) {
            (true, _) | (_, ColorMode::Never) => false,
            (_, ColorMode::Always) => true,
            (_, ColorMode::Auto) => {
                stdout_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// `tls://HOST:PORT` is HOST:PORT inside TLS: whether the address asked for TLS, and the rest.
pub fn split_scheme(typed: &str) -> (bool, &str) {
    let typed = typed.trim();
    match typed.get(..6) {
        Some(scheme) if scheme.eq_ignore_ascii_case("tls://") => (true, &typed[6..]),
        _ => (false, typed),
    }
}

/// The server address as people type it, made `HOST:PORT`: `8081` and `:8081` are this machine
/// (127.0.0.1), `chat.example.org` is port 8080, `[::1]`-style and `HOST:PORT` stay as given.
pub fn server_address(typed: &str) -> String {
    let typed = typed.trim();
    if !typed.is_empty() && typed.bytes().all(|b| b.is_ascii_digit()) {
        return format!("127.0.0.1:{typed}");
    }
    if let Some(port) = typed
        .strip_prefix(':')
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return format!("127.0.0.1:{port}");
    }
    let has_port = match typed.rsplit_once(':') {
        // An IPv6 address has colons of its own: it has a port only after "]:".
        Some((host, port)) => {
            port.bytes().all(|b| b.is_ascii_digit()) && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        typed.to_string()
    } else if typed.contains(':') && !typed.starts_with('[') {
        format!("[{typed}]:8080")
    } else {
        format!("{typed}:8080")
    }
}

#[cfg(test)]
mod address_tests {
    use super::{server_address, split_scheme};

    #[test]
    fn tls_urls_ask_for_tls() {
        assert_eq!(
            split_scheme("tls://chat.example.org:8443"),
            (true, "chat.example.org:8443")
        );
        assert_eq!(split_scheme("TLS://[::1]:8443"), (true, "[::1]:8443"));
        assert_eq!(
            split_scheme("chat.example.org:8443"),
            (false, "chat.example.org:8443")
        );
        assert_eq!(
            server_address(split_scheme("tls://8443").1),
            "127.0.0.1:8443"
        );
    }

    #[test]
    fn addresses_as_people_type_them() {
        for (typed, meant) in [
            ("8081", "127.0.0.1:8081"),
            (":8081", "127.0.0.1:8081"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("chat.example.org", "chat.example.org:8080"),
            ("chat.example.org:9000", "chat.example.org:9000"),
            ("[::1]:8081", "[::1]:8081"),
            ("[::1]", "[::1]:8080"),
            ("::1", "[::1]:8080"),
            ("localhost", "localhost:8080"),
        ] {
            assert_eq!(server_address(typed), meant, "{typed}");
        }
    }
}
