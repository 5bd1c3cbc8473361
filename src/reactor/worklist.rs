//! A list of connections with work left for a later step of the loop turn (the write list, the
//! ready-to-read list), each on it at most once.
//!
//! Whether a connection is listed is a flag on the connection itself rather than a set beside
//! the list: putting a recipient on the write list happens for every recipient of every
//! broadcast, and a flag the queueing code already holds a borrow of costs a compare.

/// Slab keys in the order they were listed.
#[derive(Debug, Default)]
pub(super) struct WorkList {
    keys: Vec<usize>,
}

impl WorkList {
    /// Lists `key` unless its flag says it is listed already, and sets the flag. The flag is the
    /// connection's own (`Conn::write_listed`, `Conn::read_listed`), so a caller that holds the
    /// connection borrowed lists it without looking it up again.
    #[inline]
    pub fn add(&mut self, key: usize, listed: &mut bool) {
        if !*listed {
            *listed = true;
            self.keys.push(key);
        }
    }

    /// Empties the list for one pass over it; the pass clears each connection's flag as it goes.
    pub fn take(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.keys)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
