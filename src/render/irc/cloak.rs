//! Cloaked hosts: what IRC users see of each other's addresses.
//!
//! An address is shown as a keyed hash of it (HMAC-SHA256 under a secret of the server's), so a
//! user keeps one stable host across reconnects and renames, and bans and ignores by host work,
//! without anyone learning where it connects from. Operators see real addresses (WHOIS's 338,
//! WHO). The key comes from the server's admin key (`ServerKey`): the same admin key, the same
//! cloaks after a restart.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;

use ring::hmac;

/// Makes cloaked hosts under one key.
pub struct Cloak {
    key: hmac::Key,
    /// Hosts made lately: a busy room's sender is cloaked once, not once per line (an HMAC
    /// costs about a microsecond). Cleared when full, so it stays bounded.
    made: RefCell<HashMap<IpAddr, String>>,
}

/// Addresses whose cloaks are kept at once.
const MADE_MAX: usize = 4096;

impl std::fmt::Debug for Cloak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cloak { .. }")
    }
}

impl Cloak {
    /// A cloak keyed by `secret` (the admin key, or a random one for a server without).
    pub fn new(secret: &[u8]) -> Self {
        // Derived, not the secret itself: a cloak never helps guess the admin key.
        let outer = hmac::Key::new(hmac::HMAC_SHA256, b"reactor-chat host cloak");
        let derived = hmac::sign(&outer, secret);
        Cloak {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            made: RefCell::new(HashMap::new()),
        }
    }

    /// The host shown for `ip`: `ab12cd34.ef56ab78.ip` (IPv4 and IPv6 alike; an IPv4 user on a
    /// dual-stack socket is the same user as on an IPv4 one).
    pub fn host(&self, ip: IpAddr) -> String {
        let ip = ip.to_canonical();
        if let Some(host) = self.made.borrow().get(&ip) {
            return host.clone();
        }
        let host = self.make(ip);
        let mut made = self.made.borrow_mut();
        if made.len() >= MADE_MAX {
            made.clear();
        }
        made.insert(ip, host.clone());
        host
    }

    fn make(&self, ip: IpAddr) -> String {
        let bytes: Vec<u8> = match ip {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        let tag = hmac::sign(&self.key, &bytes);
        let t = tag.as_ref();
        format!(
            "{:02x}{:02x}{:02x}{:02x}.{:02x}{:02x}{:02x}{:02x}.ip",
            t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cloak_is_stable_per_key_and_hides_the_address() {
        let a = Cloak::new(b"one key");
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(a.host(ip), a.host(ip));
        assert_eq!(a.host(ip), a.host(mapped));
        assert!(!a.host(ip).contains("192"));
        assert_ne!(a.host(ip), Cloak::new(b"another key").host(ip));
        assert_ne!(a.host(ip), a.host("192.0.2.8".parse().unwrap()));
        assert_eq!(a.host(ip).len(), "ab12cd34.ef56ab78.ip".len());
    }
}
