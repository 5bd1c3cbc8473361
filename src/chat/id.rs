//! Message ids that stay unique across nodes and restarts.
//!
//! A `MsgId` is a 64-bit "snowflake": 42 bits of milliseconds since 2024-01-01, 10 bits of node id
//! and 12 bits of sequence within the millisecond. Ids sort by time, need no coordination between
//! nodes that have distinct node ids, and fit an SQLite INTEGER.

/// 2024-01-01T00:00:00Z in Unix milliseconds.
const EPOCH_MS: u64 = 1_704_067_200_000;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

/// A globally unique, time-ordered message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgId(pub u64);

/// Hands out `MsgId`s for one node.
#[derive(Debug)]
pub struct IdGen {
    node: u64,
    last_ms: u64,
    seq: u64,
}

impl IdGen {
    /// `node` must be unique among nodes sharing storage; only its low 10 bits are used.
    pub fn new(node: u16) -> Self {
        IdGen {
            node: u64::from(node) & ((1 << NODE_BITS) - 1),
            last_ms: 0,
            seq: 0,
        }
    }

    /// The next id at wall time `now_ms`. If the clock steps back, or 4096 ids are taken within one
    /// millisecond, the id borrows the next millisecond so ids never repeat or go backwards.
    pub fn next(&mut self, now_ms: u64) -> MsgId {
        let ms = now_ms.saturating_sub(EPOCH_MS);
        if ms > self.last_ms {
            self.last_ms = ms;
            self.seq = 0;
        } else {
            self.seq += 1;
            if self.seq > SEQ_MASK {
                self.last_ms += 1;
                self.seq = 0;
            }
        }
        MsgId((self.last_ms << (NODE_BITS + SEQ_BITS)) | (self.node << SEQ_BITS) | self.seq)
    }
}

impl MsgId {
    /// The smallest id any node can hand out at wall time `ms`: ids below it are older, which
    /// lets the history prune by id range.
    pub fn first_at(ms: u64) -> MsgId {
        MsgId(ms.saturating_sub(EPOCH_MS) << (NODE_BITS + SEQ_BITS))
    }

    /// The wall time this id was handed out at (to the millisecond, give or take a borrowed one).
    pub fn millis(self) -> u64 {
        (self.0 >> (NODE_BITS + SEQ_BITS)) + EPOCH_MS
    }
}

/// The alphabet of keys people may have to type or read out: Crockford's base32 (no i, l, o, u to
/// misread).
pub const KEY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A random key of `len` characters of [`KEY_ALPHABET`], 5 bits each, from the OS's random source:
/// resume keys and download keys.
pub fn random_key(len: usize) -> String {
    let mut raw = vec![0u8; len];
    getrandom::getrandom(&mut raw).expect("the OS random source failed");
    raw.iter()
        .map(|b| KEY_ALPHABET[usize::from(b & 31)] as char)
        .collect()
}

/// Compares two keys in time that depends on their lengths only, so a guesser learns nothing
/// from how fast a wrong key is refused.
pub fn keys_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_strictly_increasing_even_when_the_clock_stalls_or_steps_back() {
        let mut gen = IdGen::new(3);
        let mut last = gen.next(EPOCH_MS + 1000);
        for now in [EPOCH_MS + 1000; 5000]
            .into_iter()
            .chain([EPOCH_MS + 10, EPOCH_MS + 2000])
        {
            let id = gen.next(now);
            assert!(id > last);
            last = id;
        }
    }

    #[test]
    fn first_at_bounds_the_ids_of_a_moment() {
        let mut gen = IdGen::new(1023);
        let id = gen.next(EPOCH_MS + 5000);
        assert!(MsgId::first_at(EPOCH_MS + 5000) <= id);
        assert!(id < MsgId::first_at(EPOCH_MS + 5001));
        assert_eq!(id.millis(), EPOCH_MS + 5000);
    }

    #[test]
    fn node_ids_keep_nodes_apart() {
        let a = IdGen::new(1).next(EPOCH_MS + 5);
        let b = IdGen::new(2).next(EPOCH_MS + 5);
        assert_ne!(a, b);
    }
}
