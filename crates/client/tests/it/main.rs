//! Integration tests of `reactor-chat-client`: the real client binary, through pipes, against the
//! real server (found by the harness, `crates/testkit`), with raw TCP users on the other side.

/// The harness, under the name the server's integration tests use for it.
mod support {
    pub use reactor_chat_testkit::*;
}

mod client;
mod terminal;
mod tls;
