//! The IRCv3 capabilities reactor-chat offers, as a set of bits a connection negotiates with
//! `CAP REQ` (<https://ircv3.net/specs/extensions/capability-negotiation>).
//!
//! The low bits are the ones that change the bytes of a broadcast: a broadcast is rendered once
//! per combination of them among its IRC recipients ([`Caps::broadcast_key`]), never once per
//! recipient. The others change what a connection is sent, not how.

/// A set of capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Caps(pub u16);

impl Caps {
    /// `@time=` on every room line, the original time on history and replays.
    pub const SERVER_TIME: Caps = Caps(1);
    /// Tags on messages: `msgid` (the message's id), and `batch` (with the batch capability).
    pub const MESSAGE_TAGS: Caps = Caps(1 << 1);
    /// `AWAY` lines when someone sharing a room goes away or comes back.
    pub const AWAY_NOTIFY: Caps = Caps(1 << 2);
    /// The sender gets its own messages back, with their ids and times.
    pub const ECHO_MESSAGE: Caps = Caps(1 << 3);
    /// `BATCH` around the join backlog, history replies and the missed-line replay.
    pub const BATCH: Caps = Caps(1 << 4);
    /// `CAP NEW`/`CAP DEL` while connected (implied by `CAP LS 302`).
    pub const CAP_NOTIFY: Caps = Caps(1 << 5);
    /// Every prefix of a member in NAMES and WHO (`@+`), not only the highest.
    pub const MULTI_PREFIX: Caps = Caps(1 << 6);
    /// `nick!user@host` in NAMES.
    pub const USERHOST_IN_NAMES: Caps = Caps(1 << 7);

    /// The capabilities that change a broadcast's bytes: the bits below this mask.
    const BROADCAST_BITS: u16 = 0b111;
    /// How many renderings one broadcast may need for IRC: one per combination of those bits.
    pub const BROADCAST_VARIANTS: usize = 8;

    /// Every capability offered, by its name in `CAP LS`, in the order offered.
    pub const OFFERED: [(&'static str, Caps); 8] = [
        ("away-notify", Caps::AWAY_NOTIFY),
        ("batch", Caps::BATCH),
        ("cap-notify", Caps::CAP_NOTIFY),
        ("echo-message", Caps::ECHO_MESSAGE),
        ("message-tags", Caps::MESSAGE_TAGS),
        ("multi-prefix", Caps::MULTI_PREFIX),
        ("server-time", Caps::SERVER_TIME),
        ("userhost-in-names", Caps::USERHOST_IN_NAMES),
    ];

    pub fn has(self, cap: Caps) -> bool {
        self.0 & cap.0 == cap.0
    }

    pub fn with(self, cap: Caps) -> Caps {
        Caps(self.0 | cap.0)
    }

    pub fn without(self, cap: Caps) -> Caps {
        Caps(self.0 & !cap.0)
    }

    /// The capability called `name`, if offered.
    pub fn named(name: &str) -> Option<Caps> {
        Caps::OFFERED
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, c)| c)
    }

    /// Which of the broadcast renderings this connection reads.
    pub fn broadcast_key(self) -> usize {
        usize::from(self.0 & Caps::BROADCAST_BITS)
    }

    /// The capabilities a broadcast rendering was made for, from its key.
    pub fn of_broadcast_key(key: usize) -> Caps {
        Caps(key as u16 & Caps::BROADCAST_BITS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_byte_changing_capabilities_split_a_broadcast() {
        let all = Caps::OFFERED
            .iter()
            .fold(Caps::default(), |a, &(_, c)| a.with(c));
        assert_eq!(all.broadcast_key(), Caps::BROADCAST_VARIANTS - 1);
        let echo_batch = Caps::ECHO_MESSAGE
            .with(Caps::BATCH)
            .with(Caps::MULTI_PREFIX);
        assert_eq!(echo_batch.broadcast_key(), 0);
        for key in 0..Caps::BROADCAST_VARIANTS {
            assert_eq!(Caps::of_broadcast_key(key).broadcast_key(), key);
        }
        assert_eq!(Caps::named("SERVER-TIME"), Some(Caps::SERVER_TIME));
        assert_eq!(Caps::named("sasl"), None);
    }
}
