//! The servers a run loads: the addresses the clients are spread over (`--addr`, repeatable)
//! and the processes whose CPU and memory are read (`--server-pid`, repeatable).
//!
//! Client `i` connects to `addrs[i % n]`, joiners and the idle flood included, so a run's
//! clients, its senders among them, are spread evenly and the same way every run. The
//! addresses must be nodes of one cluster, or one server reached several ways: the bench checks
//! every receiver gets every message sent to its room, whichever address its sender used.

use std::net::SocketAddr;

use crate::cli::{Args, Preset};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// Never empty.
    pub addrs: Vec<SocketAddr>,
    /// The server processes, at most one per address (several addresses may be one process).
    pub pids: Vec<u32>,
}

impl Targets {
    /// The servers the flags name, or why they cannot be loaded together. `--spawn-server`
    /// starts one server, so several `--addr` or `--server-pid` with it are refused rather
    /// than ignored: the run would load one server while the command line says several.
    pub fn from_args(args: &Args) -> Result<Targets, String> {
        if args.spawn_server.is_some() && (args.addr.len() > 1 || args.server_pid.len() > 1) {
            return Err(
                "--spawn-server starts one server: give it without several --addr or \
                        --server-pid (to load several, start them yourself and give each \
                        --addr and --server-pid)"
                    .into(),
            );
        }
        let several = args.addr.len() > 1 || args.server_pid.len() > 1;
        if several && matches!(args.preset, Some(Preset::Handshakes | Preset::Filefanout)) {
            // Each measures one server's work for one thing (a handshake, one file's fan-out).
            return Err(
                "--preset handshakes and filefanout load one server: give one --addr \
                        and one --server-pid"
                    .into(),
            );
        }
        if let Some(twice) = args
            .addr
            .iter()
            .enumerate()
            .find_map(|(i, a)| args.addr[..i].contains(a).then_some(a))
        {
            // Twice the same address would spread nothing, and reads as a typo for another.
            return Err(format!("--addr {twice} is given twice"));
        }
        Ok(Targets {
            addrs: args.addr.clone(),
            pids: args.server_pid.clone(),
        })
    }

    /// One server the bench started.
    pub fn one(addr: SocketAddr, pid: u32) -> Targets {
        Targets {
            addrs: vec![addr],
            pids: vec![pid],
        }
    }

    /// The address client `idx` connects to.
    pub fn addr_for(&self, idx: usize) -> SocketAddr {
        self.addrs[idx % self.addrs.len()]
    }

    /// The first address: where a load that needs one server (`handshakes`, `filefanout`) goes,
    /// and whose `/metrics` gives the history figures.
    pub fn first(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The only pid, or none: `None` with several.
    pub fn only_pid(&self) -> Option<u32> {
        match self.pids[..] {
            [pid] => Some(pid),
            _ => None,
        }
    }

    /// Every address, as the report names them: `A` alone, or `A, B, C`.
    pub fn addr_list(&self) -> String {
        let names: Vec<String> = self.addrs.iter().map(|a| a.to_string()).collect();
        names.join(", ")
    }

    /// How many of `indices` (client indices) fall on each address, in `addrs`' order.
    pub fn per_address(&self, indices: impl IntoIterator<Item = usize>) -> Vec<u64> {
        let mut counts = vec![0; self.addrs.len()];
        for idx in indices {
            counts[idx % self.addrs.len()] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn targets(flags: &[&str]) -> Result<Targets, String> {
        let mut argv = vec!["reactor-chat-bench"];
        argv.extend_from_slice(flags);
        Targets::from_args(&Args::parse_from(argv))
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_address_by_default_and_every_client_on_it() {
        let t = targets(&[]).unwrap();
        assert_eq!(t.addrs, [addr("127.0.0.1:8080")]);
        assert_eq!(
            (t.only_pid(), t.addr_list()),
            (None, "127.0.0.1:8080".into())
        );
        assert!((0..5).all(|i| t.addr_for(i) == t.first()));
        assert_eq!(t.per_address(0..5), [5]);
    }

    #[test]
    fn clients_go_round_the_addresses_in_order() {
        let t = targets(&[
            "--addr",
            "127.0.0.1:1",
            "--addr",
            "[::1]:1",
            "--addr",
            "10.0.0.1:1",
        ])
        .unwrap();
        let spread: Vec<SocketAddr> = (0..7).map(|i| t.addr_for(i)).collect();
        let [a, b, c] = [t.addrs[0], t.addrs[1], t.addrs[2]];
        assert_eq!(spread, [a, b, c, a, b, c, a]);
        assert_eq!(t.per_address(0..7), [3, 2, 2]);
        // Joiners continue the numbering, and so the rotation.
        assert_eq!(t.per_address(7..9), [0, 1, 1]);
        assert_eq!(t.addr_list(), "127.0.0.1:1, [::1]:1, 10.0.0.1:1");
    }

    #[test]
    fn pids_are_kept_in_order() {
        let t = targets(&[
            "--addr",
            "127.0.0.1:1",
            "--addr",
            "127.0.0.1:2",
            "--server-pid",
            "10",
            "--server-pid",
            "11",
        ])
        .unwrap();
        assert_eq!((t.pids.as_slice(), t.only_pid()), (&[10, 11][..], None));
        // One server reached two ways: one pid.
        let t = targets(&[
            "--addr",
            "127.0.0.1:1",
            "--addr",
            "[::1]:1",
            "--server-pid",
            "10",
        ])
        .unwrap();
        assert_eq!(t.only_pid(), Some(10));
    }

    #[test]
    fn what_cannot_be_loaded_together_is_refused() {
        let why = targets(&[
            "--spawn-server",
            "x",
            "--addr",
            "127.0.0.1:1",
            "--addr",
            "[::1]:1",
        ])
        .unwrap_err();
        assert!(why.contains("--spawn-server starts one server"), "{why}");
        let why = targets(&[
            "--spawn-server",
            "x",
            "--server-pid",
            "1",
            "--server-pid",
            "2",
        ])
        .unwrap_err();
        assert!(why.contains("--spawn-server starts one server"), "{why}");
        // One --addr with --spawn-server is ignored, as it always was.
        assert!(targets(&["--spawn-server", "x", "--addr", "127.0.0.1:1"]).is_ok());
        let why = targets(&[
            "--preset",
            "filefanout",
            "--addr",
            "127.0.0.1:1",
            "--addr",
            "[::1]:1",
        ])
        .unwrap_err();
        assert!(why.contains("load one server"), "{why}");
        // Several processes behind one address (SO_REUSEPORT): each one's pid.
        assert!(targets(&["--server-pid", "1", "--server-pid", "2"]).is_ok());
        let why = targets(&["--addr", "127.0.0.1:1", "--addr", "127.0.0.1:1"]).unwrap_err();
        assert!(why.contains("given twice"), "{why}");
    }
}
