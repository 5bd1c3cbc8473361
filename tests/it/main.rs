//! Integration tests: the real `reactor-chat` binary on an ephemeral port, spoken to over TCP as
//! telnet and nc would, and (in `browser`) the web client in headless Chromium. One test binary
//! with a module per area (see `support` for the harness).

mod support;

mod abuse;
mod bench;
mod browser;
mod client;
mod files;
mod flood;
mod game;
mod help;
mod history;
mod lifecycle;
mod limits;
mod login;
mod operators;
mod presence;
mod relay;
mod rooms;
mod schedule;
mod talk;
mod web;
