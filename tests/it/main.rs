//! Integration tests: the real `reactor-chat` binary on an ephemeral port, spoken to over TCP as
//! telnet and nc would, real telnets and IRC clients in tmux (`telnet`, `irssi`, `weechat`), and
//! (in `browser`) the web client in headless Chromium. One test binary
//! with a module per area (see `support` for the harness). The client's and the bench's
//! tests are in their own crates (`crates/client`, `crates/bench`).

/// The harness (`crates/testkit`), under the name every module here uses.
mod support {
    pub use reactor_chat_testkit::*;
}

mod abuse;
mod browser;
mod cluster;
mod config;
mod data_dir;
mod files;
mod flood;
mod game;
mod held;
mod help;
mod history;
mod irc;
mod irssi;
mod lifecycle;
mod limits;
mod listen;
mod login;
mod operators;
mod presence;
mod proxy;
mod relay;
mod restart;
mod rooms;
mod schedule;
mod talk;
mod telnet;
mod tls;
mod web;
mod weechat;
