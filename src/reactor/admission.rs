//! The budget of connections that have not logged in yet (`--max-unregistered`, and
//! `--max-unregistered-per-ip` for one address).
//!
//! A connection that has not logged in costs the server a descriptor and a little memory and
//! gives nothing back, so an attacker holding thousands of them open could fill `--max-clients`
//! and keep real users out. They get a budget of their own, smaller than `--max-clients`. When it
//! is full, a newcomer still gets in by displacing the oldest waiting connection of the address
//! that holds the most of them, as long as that address holds more than the newcomer's own: the
//! attacker's connections make way first, never a user who is still typing a name on the one
//! connection their address has. Loopback addresses are counted like any other.
//!
//! The same budget will count TLS handshakes and IRC registrations in progress: anything that
//! holds a connection open before it is a user.

use std::collections::hash_map::{Entry, HashMap};
use std::collections::VecDeque;
use std::net::IpAddr;

/// What to do with a new connection, as far as the unregistered budget goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Room in the budget.
    Admit,
    /// The budget is full: admit it and close this waiting connection (a slab key) to make room.
    Displace(usize),
    /// Its address already holds `--max-unregistered-per-ip` waiting connections.
    RefuseAddress,
    /// The budget is full and the newcomer's address holds as many as any other.
    RefuseFull,
}

/// The connections that have not logged in, by address, oldest first.
#[derive(Debug)]
pub struct Unregistered {
    /// Per address, its waiting connections as (arrival number, slab key), oldest first.
    by_ip: HashMap<IpAddr, VecDeque<(u64, usize)>>,
    total: usize,
    arrivals: u64,
    max_total: usize,
    max_per_ip: usize,
}

impl Unregistered {
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        Unregistered {
            by_ip: HashMap::new(),
            total: 0,
            arrivals: 0,
            max_total,
            max_per_ip,
        }
    }

    /// New caps (a reload); connections already waiting above them stay.
    pub fn set_caps(&mut self, max_total: usize, max_per_ip: usize) {
        self.max_total = max_total;
        self.max_per_ip = max_per_ip;
    }

    /// Connections waiting to log in, in all.
    pub fn total(&self) -> usize {
        self.total
    }

    fn count(&self, ip: IpAddr) -> usize {
        self.by_ip.get(&ip).map_or(0, VecDeque::len)
    }

    /// Decides on a newcomer from `ip` (nothing is counted until [`Unregistered::add`]).
    pub fn admission(&self, ip: IpAddr) -> Admission {
        let own = self.count(ip);
        if own >= self.max_per_ip {
            return Admission::RefuseAddress;
        }
        if self.total < self.max_total {
            return Admission::Admit;
        }
        self.most_waiting_over(own)
    }

    /// The waiting connection a newcomer from `ip` may displace when the server is full, whatever
    /// the budget's own room: the oldest of the address holding the most, if more than `ip`.
    pub fn displacement(&self, ip: IpAddr) -> Admission {
        self.most_waiting_over(self.count(ip))
    }

    fn most_waiting_over(&self, own: usize) -> Admission {
        // O(addresses) only while full; addresses are at most `max_total`. Among addresses that
        // hold as many, the one whose oldest connection has waited longest makes way: the choice
        // never depends on the map's order.
        let oldest_of_most = self
            .by_ip
            .values()
            .filter(|waiting| waiting.len() > own)
            .filter_map(|waiting| Some((waiting.len(), std::cmp::Reverse(*waiting.front()?))))
            .max();
        match oldest_of_most {
            Some((_, std::cmp::Reverse((_, key)))) => Admission::Displace(key),
            None => Admission::RefuseFull,
        }
    }

    /// As `admission`, without the address's share (a trusted proxy's connections are judged by
    /// their clients' addresses once their headers come).
    pub fn admission_in_all(&self) -> Admission {
        if self.total < self.max_total {
            Admission::Admit
        } else {
            self.most_waiting_over(0)
        }
    }

    /// Counts a connection that is now waiting to log in.
    pub fn add(&mut self, ip: IpAddr, key: usize) {
        self.arrivals += 1;
        self.by_ip
            .entry(ip)
            .or_default()
            .push_back((self.arrivals, key));
        self.total += 1;
    }

    /// The connection logged in or went away; false if it was not counted.
    pub fn remove(&mut self, ip: IpAddr, key: usize) -> bool {
        let Entry::Occupied(mut waiting) = self.by_ip.entry(ip) else {
            return false;
        };
        let Some(at) = waiting.get().iter().position(|&(_, k)| k == key) else {
            return false;
        };
        waiting.get_mut().remove(at);
        if waiting.get().is_empty() {
            waiting.remove();
        }
        self.total -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    #[test]
    fn admits_within_the_budget_and_refuses_an_address_over_its_share() {
        let mut u = Unregistered::new(10, 2);
        assert_eq!(u.admission(ip(1)), Admission::Admit);
        u.add(ip(1), 1);
        u.add(ip(1), 2);
        assert_eq!(u.admission(ip(1)), Admission::RefuseAddress);
        assert_eq!(u.admission(ip(2)), Admission::Admit);
        assert!(u.remove(ip(1), 1));
        assert!(!u.remove(ip(1), 1), "counted once");
        assert_eq!(u.admission(ip(1)), Admission::Admit);
        assert_eq!(u.total(), 1);
    }

    #[test]
    fn a_full_budget_displaces_the_oldest_of_the_address_holding_the_most() {
        let mut u = Unregistered::new(5, 5);
        for key in 0..3 {
            u.add(ip(1), key);
        }
        u.add(ip(2), 10);
        u.add(ip(3), 20);
        assert_eq!(u.admission(ip(4)), Admission::Displace(0));
        assert_eq!(u.admission(ip(2)), Admission::Displace(0));
        // The address holding the most is the newcomer's own: nobody else makes way for it.
        assert_eq!(u.admission(ip(1)), Admission::RefuseFull);
    }

    #[test]
    fn equal_shares_are_not_displaced_for_each_other() {
        let mut u = Unregistered::new(2, 5);
        u.add(ip(1), 1);
        u.add(ip(2), 2);
        assert_eq!(u.admission(ip(1)), Admission::RefuseFull);
        // A newcomer whose address holds none displaces the one that has waited longest.
        assert_eq!(u.admission(ip(3)), Admission::Displace(1));
    }
}
