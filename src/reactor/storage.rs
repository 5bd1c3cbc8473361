//! The storage thread's link: starting it, the room events, history queries and changes to what
//! is kept (bans, topics, operators) the chat core produces (gathered into one batch a turn),
//! and its answers, which come back through a `mio::Waker`.

use std::io;

use mio::Poll;

use super::{Reactor, STORAGE};
use crate::chat::kept::Kept;
use crate::chat::{ConnId, Event, HistoryQuery};
use crate::config::Config;
use crate::storage::store::SearchLimits;
use crate::storage::store::Store;
use crate::storage::{Storage, StorageSettings};

/// Starts the storage thread on `store`, waking the reactor's poll when it has answers; none
/// when nothing is kept on disk (`--ephemeral`).
pub(super) fn start(
    store: Option<Store>,
    cfg: &Config,
    poll: &Poll,
) -> io::Result<Option<Storage>> {
    let Some(store) = store else {
        return Ok(None);
    };
    let settings = StorageSettings {
        flush: cfg.flush_interval(),
        retention: cfg.history_retention(),
        index_defer_above: cfg.index_defer_above,
        max_unindexed: cfg.max_unindexed,
        search: SearchLimits {
            max_unindexed: cfg.search_max_unindexed,
            max_examined: cfg.search_max_examined,
        },
        max_waiting: cfg.history_max_waiting,
    };
    let waker = mio::Waker::new(poll.registry(), STORAGE)?;
    Ok(Some(Storage::start(store, settings, waker)?))
}

impl Reactor {
    /// A room event for the history. Once shutting down, no input is read any more: what the
    /// chat core still says is the departures the shutdown itself causes, which are not room
    /// history.
    pub(super) fn store(&mut self, event: Event) {
        if let Some(storage) = self.storage.as_mut().filter(|_| !self.shutting_down) {
            storage.store(event);
        }
    }

    /// A change to the bans, topics or operators, kept across a restart (with `--ephemeral`,
    /// there is no storage thread and it is dropped).
    pub(super) fn keep(&mut self, change: Kept) {
        if let Some(storage) = &mut self.storage {
            storage.keep(change);
        }
    }

    /// A history query for a connection; its answer names the connection's serial, so it is
    /// dropped if the slab key belongs to another connection by then.
    pub(super) fn query(&mut self, key: usize, query: HistoryQuery) {
        if let (Some(storage), Some(c)) = (&mut self.storage, self.conns.get(key)) {
            storage.query(key, c.serial, query);
            self.irc_query_sent(key);
        }
    }

    /// Loop step 8: the turn's events and queries go to the storage thread as one batch, when
    /// its flush interval says so.
    pub(super) fn send_to_storage(&mut self) {
        if let Some(storage) = &mut self.storage {
            storage.send_if_due(self.clock.now());
        }
    }

    /// The storage thread has answers: each goes to the chat core for its connection, unless that
    /// connection has gone (or its slab key now belongs to another connection).
    pub(super) fn on_storage_answers(&mut self) {
        let Some(storage) = &self.storage else {
            return;
        };
        let now = self.now();
        for answer in storage.answers() {
            if self.is_current(answer.conn, answer.serial) {
                self.chat
                    .history_answer(ConnId(answer.conn), answer.answer, now, &mut self.outbox);
                self.apply_outbox();
                self.irc_query_answered(answer.conn);
            }
        }
    }

    /// Ends the storage thread, which commits what it still holds first.
    pub(super) fn stop_storage(&mut self) {
        if let Some(mut storage) = self.storage.take() {
            storage.finish();
        }
    }
}
