//! reactor-chat: a multi-client chat server on one `mio` event loop.
//!
//! # Layout
//! - [`config`]: every flag and limit, with its default and the reason for it
//!   ([`config::admin_key`] makes and keeps the admin key when none is configured);
//!   [`config::listen`] reads listener addresses as people type them (`:8080`, `localhost:8080`),
//!   [`config::file`] loads them from a TOML file (`--config`), [`config::reload`] says which a
//!   SIGHUP may change while serving (the reactor's `reload` step applies them).
//! - [`reactor`]: the poll loop that owns every socket; `Reactor::run` is one loop turn, each
//!   step in its own file: the listening sockets (`listen`: chat and metrics listeners, each
//!   connection remembering its listener's kind), accepting and refusing (`accept`), reading and decoding (`read`, with
//!   [`reactor::flood`]'s token bucket and `throttle`'s pauses), applying the chat core's outbox
//!   (`output`, through `wire`: one rendering per wire format), writing (`write`), closing and
//!   reaping (`close`), timers and the sweep (`timers`), the storage thread's link (`storage`),
//!   HTTP and WebSocket on the same port (`web`), real client addresses behind a proxy (`proxy`). [`reactor::conn`] is one connection,
//!   [`reactor::outqueue`] its bounded output queue, [`reactor::broadcast`] the shared blocks
//!   broadcasts are rendered into, [`reactor::metrics`] the counters and `GET /metrics`.
//!   [`reactor::net`] is its seam to the operating system (sockets, poller, clock); behind it,
//!   `reactor::sim` (tests and the `sim` feature) is a simulated kernel the same loop runs on.
//!   `admission` budgets the connections still waiting to log in.
//! - [`codec`]: sans-IO decoders (bytes in, frames out): [`codec::line`] the telnet-friendly line
//!   decoder, [`codec::file`] file uploads, [`codec::http`], [`codec::websocket`];
//!   [`codec::forwarded`] reads who a proxied request is from (`Forwarded`, `X-Forwarded-For`).
//! - [`chat`]: the chat core; it never sees a socket and never formats a line. One module per
//!   feature, each owning its state, commands and tests: `session` (login, resume, grace),
//!   `room` (a `Room`, its members and its recent lines: the one copy that replays, backlogs
//!   and `/history N` read), `talk`, `ops` (operators, bans and the grants that keep operators across restarts),
//!   [`chat::kept`] (what survives a restart, as plain data), [`chat::files`] (the
//!   offer store and its commands), `invite`, [`chat::game`] (rules, words, commands),
//!   `schedule`, `presence`, [`chat::history`] (the history commands). [`chat::event`] holds its
//!   events as plain data, [`chat::command`] parses user lines, [`chat::help`] is the command
//!   table, [`chat::nick`] validates nicknames (and [`chat::nick::reserved`] matches the names
//!   reserved for the server) and [`chat::text`] cleans user text.
//! - [`render`]: the wire formats, beside each other: [`render::texts`] every sentence in English
//!   and Korean as data, [`render::line`] the line protocol that frames them (PROTOCOL.md),
//!   [`render::stamp`] and [`render::human`] times, durations and sizes for people.
//! - [`storage`]: the storage thread that keeps room history, bans, topics and operators in
//!   SQLite off the loop; [`storage::store`] is the database code.
//! - [`clock`]: the present moment and calendar days; [`timer`]: the deadline heap both the
//!   reactor and the chat core use.
//! - [`logging`], [`system`] and [`data_dir`] (one server per `--data-dir`, by a lock held
//!   while it runs): start-up chores of the binary.
//!
//! # The path of one message
//! `Reactor::run` polls → a connection is readable → `on_readable` (`reactor::read`) reads
//! until a short read, `WouldBlock` or its budget → `LineDecoder::decode` yields a line →
//! `Chat::line` cleans and parses it and, for a message, appends one `Output::ToMany` listing the
//! room's other live members → `apply_outbox` (`reactor::output`) has `render::line::Renderer`
//! render the event once per wire format into the open broadcast block and queues a reference to
//! it for each recipient, as part of one entry with the lines it already holds from that block
//! (the limit check may mark a slow reader dead) → `flush_pending` (`reactor::write`) seals the
//! block and writes each queue with vectored writes → `reap` (`reactor::close`) removes the dead
//! and tells the chat core, whose "lost the connection" notices go out on the next flush. The same message, as an `Output::Store` beside the broadcast, joins the
//! turn's batch for the storage thread, which commits it to disk within `--flush-ms`.

pub mod chat;
pub mod clock;
pub mod cluster;
pub mod codec;
pub mod config;
pub mod data_dir;
pub mod logging;
pub mod reactor;
pub mod render;
pub mod storage;
pub mod system;
pub mod timer;
pub mod tls;
