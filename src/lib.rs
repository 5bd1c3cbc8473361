//! reactor-chat: a multi-client chat server on one `mio` event loop.
//!
//! # Layout
//! - [`config`]: every flag and limit, with its default and the reason for it.
//! - [`reactor`]: the poll loop that owns every socket; [`reactor::conn`] is one connection,
//!   [`reactor::outqueue`] its bounded output queue.
//! - [`codec`]: sans-IO decoders (bytes in, frames out); [`codec::line`] is the telnet-friendly
//!   line decoder.
//! - [`chat`]: the chat core (sessions, nicknames, rooms, presence, reconnects); it never sees a
//!   socket. [`chat::event`] holds its events as plain data, [`render::line`] turns them into
//!   protocol lines, [`chat::command`] parses user lines, [`chat::nick`] validates nicknames and
//!   [`chat::text`] cleans user text.
//! - [`storage`]: the storage thread that keeps room history in SQLite off the loop;
//!   [`storage::store`] is the database code, [`chat::history`] the commands that read it.
//! - [`timer`]: the deadline heap both the reactor and the chat core use.
//! - [`logging`] and [`system`]: start-up chores of the binary.
//!
//! # The path of one message
//! `Reactor::run` polls → a connection is readable → `on_readable` reads until a short read,
//! `WouldBlock` or its budget → `LineDecoder::decode` yields a line → `Chat::line` cleans and
//! parses it and, for a message, appends one `Output::ToMany` listing the room's other live
//! members → `apply_outbox` renders the event once into the open broadcast block and queues a
//! reference to it for each recipient, as part of one entry with the lines it already holds from
//! that block (the limit check may mark a slow reader dead) → `flush_pending` seals the block and
//! writes each queue with vectored writes → `reap` removes the dead and tells the chat core, whose "lost the connection" notices go
//! out on the next flush. The same message, as an `Output::Store` beside the broadcast, joins the
//! turn's batch for the storage thread, which commits it to disk within `--flush-ms`.

pub mod chat;
pub mod clock;
pub mod codec;
pub mod config;
pub mod logging;
pub mod reactor;
pub mod render;
pub mod storage;
pub mod system;
pub mod timer;
