//! Integration tests: the real `reactor-chat` binary on an ephemeral port, spoken to over TCP as
//! telnet and nc would. One test binary with a module per area (see `support` for the harness).

mod support;

mod lifecycle;
mod limits;
mod login;
mod presence;
mod relay;

mod flood;
mod help;
mod history;
mod operators;
mod rooms;
mod schedule;
mod talk;
