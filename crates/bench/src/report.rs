//! The run's report: one table for people, the same figures as JSON for machines.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::{Protocol, Scenario};
use crate::driver::{Outcome, ProcessSample};
use crate::procstat::{self, Memory};
use crate::targets::Targets;
use crate::units::si;

/// The bench is one thread: past this share of one core it cannot drive more load, and the
/// deliveries per second are its own limit, not the server's.
pub const BENCH_LIMIT_PCT: f64 = 90.0;

#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: Scenario,
    pub server: ServerInfo,
    /// Clients logged in (initial and joiners).
    pub connections: u64,
    pub failed: u64,
    pub closed_by_server: u64,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub ack_timeouts: u64,
    pub pacing_slips: u64,
    /// `--files`: uploads, accepts, deliveries and refusals.
    pub files: Option<crate::filemix::FileCounts>,
    pub window_secs: f64,
    pub window_delivered: u64,
    pub delivered_per_sec: f64,
    /// Bytes the clients read per second of the window: deliveries with their protocol's
    /// framing, which differs between the line protocol and IRC.
    pub delivered_bytes_per_sec: f64,
    /// Microseconds, deliveries to clients present from the start, inside the window.
    pub latency_us: Latency,
    pub connect_secs: f64,
    pub connect_per_sec: f64,
    pub server_cpu_pct: Option<f64>,
    pub bench_cpu_pct: f64,
    /// The server's CPU time over the window per delivery in it (nanoseconds): what one
    /// delivered message costs it, comparable across servers whatever their rate.
    pub server_cpu_ns_per_delivery: Option<f64>,
    /// The same for the bench.
    pub bench_cpu_ns_per_delivery: Option<f64>,
    /// Senders ran and the bench used at least [`BENCH_LIMIT_PCT`] of a core: the rate is the
    /// bench's limit, and the server might have relayed more.
    pub bench_is_limit: bool,
    /// A reactor-chat server's storage thread over the window (from its `/metrics`).
    pub history: Option<HistoryWindow>,
    /// The CPU of a reactor-chat server's storage thread over the window, in percent of one
    /// core, from `/proc` (so also for a server without the history counters on `/metrics`).
    pub storage_thread_cpu_pct: Option<f64>,
    /// The share of the machine's CPU time its hypervisor gave to other guests during the
    /// window (`/proc/stat`); on a shared VM it moves latency more than the server does.
    pub host_steal_pct: Option<f64>,
    /// The share of the machine's CPU time nobody used during the window (`/proc/stat`): with
    /// two cores, 0 means the server and the bench (and whatever else ran) took both.
    pub host_idle_pct: Option<f64>,
    /// With several `--server-pid`, all of them together, as `server_cpu_pct` is.
    pub server_memory: Option<Memory>,
    pub server_rss_before_kib: Option<u64>,
    /// (RSS at the end of the window - RSS before connecting) / connections.
    pub server_rss_per_connection_bytes: Option<f64>,
    /// With several `--server-pid`: each process's figures, in their order (the `server_*`
    /// figures above are their sums). Absent with one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_processes: Vec<ServerProcess>,
    pub joinstorm: Option<Storm>,
    pub first_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ServerInfo {
    /// The address the clients connected to; with several `--addr`, all of them, `A, B`.
    pub addr: String,
    /// The server's pid (`--server-pid`, or the spawned server's); `None` with several.
    pub pid: Option<u32>,
    /// With several `--server-pid`: all of them, in their order. Absent with one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<u32>,
    /// The flags the bench started it with (`--spawn-server`); `None` for a server started elsewhere.
    pub flags: Option<Vec<String>>,
    /// With several `--addr`: each address and how many clients it got. Absent with one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<AddressShare>,
}

/// One of several `--addr` and the clients the bench spread onto it.
#[derive(Debug, Serialize, PartialEq)]
pub struct AddressShare {
    pub addr: String,
    /// Clients (initial and joiners) that were to connect to it.
    pub clients: u64,
    /// Those of them that logged in.
    pub logged_in: u64,
}

impl ServerInfo {
    /// The servers of `targets`, with the clients `outcome` saw log in through each address.
    pub fn new(
        targets: &Targets,
        flags: Option<Vec<String>>,
        scenario: &Scenario,
        outcome: &Outcome,
    ) -> ServerInfo {
        let mut server = ServerInfo::without_clients(targets, flags);
        if targets.addrs.len() > 1 {
            let planned = targets.per_address(0..scenario.clients + scenario.joiners);
            server.addresses = targets
                .addrs
                .iter()
                .zip(planned)
                .zip(&outcome.logged_in_per_address)
                .map(|((addr, clients), &logged_in)| AddressShare {
                    addr: addr.to_string(),
                    clients,
                    logged_in,
                })
                .collect();
        }
        server
    }

    /// The servers of `targets`, for a report with no spread to tell.
    pub fn without_clients(targets: &Targets, flags: Option<Vec<String>>) -> ServerInfo {
        ServerInfo {
            addr: targets.addr_list(),
            pid: targets.only_pid(),
            pids: if targets.pids.len() > 1 {
                targets.pids.clone()
            } else {
                Vec::new()
            },
            flags,
            addresses: Vec::new(),
        }
    }

    /// The addresses for the table: `A`, or `A (10 clients), B (9 clients, 8 logged in)`.
    fn addresses_row(&self) -> String {
        if self.addresses.is_empty() {
            return self.addr.clone();
        }
        let shares: Vec<String> = self
            .addresses
            .iter()
            .map(|a| {
                if a.logged_in == a.clients {
                    format!("{} ({} clients)", a.addr, a.clients)
                } else {
                    format!(
                        "{} ({} clients, {} logged in)",
                        a.addr, a.clients, a.logged_in
                    )
                }
            })
            .collect();
        shares.join(", ")
    }
}

/// One of several server processes over the window.
#[derive(Debug, Serialize)]
pub struct ServerProcess {
    pub pid: u32,
    pub cpu_pct: Option<f64>,
    pub memory: Option<Memory>,
    pub rss_before_kib: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[derive(Debug, Serialize)]
pub struct Storm {
    pub joiners: usize,
    pub joined: u64,
    /// From the first joiner's connect to the last joiner's welcome.
    pub secs: f64,
    pub complete: bool,
}

impl Report {
    pub fn new(
        scenario: Scenario,
        server: ServerInfo,
        outcome: &Outcome,
        before_connect: &[ProcessSample],
    ) -> Report {
        let c = &outcome.counts;
        let window = outcome.window.as_secs_f64();
        let wall = outcome.after.at - outcome.before.at;
        let h = &outcome.latency;
        let us = |ns: u64| ns as f64 / 1000.0;
        let q = |quantile: f64| {
            if h.is_empty() {
                0.0
            } else {
                us(h.value_at_quantile(quantile))
            }
        };
        let server_cpu_pct = match (outcome.before.server_cpu, outcome.after.server_cpu) {
            (Some(a), Some(b)) => Some(procstat::percent(b.saturating_sub(a), wall)),
            _ => None,
        };
        let server_memory = outcome.after.server_memory;
        let rss_before = before_connect
            .iter()
            .map(|p| p.memory)
            .sum::<Option<Memory>>()
            .filter(|_| !before_connect.is_empty());
        let server_processes = if before_connect.len() > 1 {
            server_processes(outcome, before_connect, wall)
        } else {
            Vec::new()
        };
        let initial = c.ready - c.joiners_ready;
        let per_conn = match (rss_before, server_memory) {
            (Some(before), Some(after)) if c.ready > 0 => {
                Some((after.rss_kib as f64 - before.rss_kib as f64) * 1024.0 / c.ready as f64)
            }
            _ => None,
        };
        let connect_secs = outcome.connect_time.as_secs_f64();
        let own_cpu = outcome.after.own_cpu.saturating_sub(outcome.before.own_cpu);
        let bench_cpu_pct = procstat::percent(own_cpu, wall);
        let per_delivery = |cpu: std::time::Duration| {
            (c.window_delivered > 0).then(|| cpu.as_nanos() as f64 / c.window_delivered as f64)
        };
        Report {
            server,
            connections: c.ready,
            failed: c.failed,
            closed_by_server: c.closed_after_ready,
            sent: c.sent,
            delivered: c.delivered,
            lost: outcome.lost,
            duplicated: c.duplicated,
            out_of_order: c.out_of_order,
            ack_timeouts: c.ack_timeouts,
            pacing_slips: c.pacing_slips,
            files: (c.files.uploads > 0).then(|| c.files.clone()),
            window_secs: window,
            window_delivered: c.window_delivered,
            delivered_per_sec: if window > 0.0 {
                c.window_delivered as f64 / window
            } else {
                0.0
            },
            delivered_bytes_per_sec: if wall.is_zero() {
                0.0
            } else {
                c.window_bytes as f64 / wall.as_secs_f64()
            },
            latency_us: Latency {
                count: h.len(),
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                p999: q(0.999),
                max: if h.is_empty() { 0.0 } else { us(h.max()) },
            },
            connect_secs,
            connect_per_sec: if connect_secs > 0.0 {
                initial as f64 / connect_secs
            } else {
                0.0
            },
            server_cpu_pct,
            bench_cpu_pct,
            server_cpu_ns_per_delivery: match (outcome.before.server_cpu, outcome.after.server_cpu)
            {
                (Some(a), Some(b)) => per_delivery(b.saturating_sub(a)),
                _ => None,
            },
            bench_cpu_ns_per_delivery: per_delivery(own_cpu),
            bench_is_limit: scenario.senders > 0 && bench_cpu_pct >= BENCH_LIMIT_PCT,
            storage_thread_cpu_pct: match (outcome.before.storage_cpu, outcome.after.storage_cpu) {
                (Some(a), Some(b)) => Some(procstat::percent(b.saturating_sub(a), wall)),
                _ => None,
            },
            history: match (outcome.before.history, outcome.after.history) {
                (Some(a), Some(b)) => Some(HistoryWindow::between(a, b, wall)),
                _ => None,
            },
            host_steal_pct: match (outcome.before.host, outcome.after.host) {
                (Some(a), Some(b)) => Some(procstat::steal_percent(a, b)),
                _ => None,
            },
            host_idle_pct: match (outcome.before.host, outcome.after.host) {
                (Some(a), Some(b)) => Some(procstat::idle_percent(a, b)),
                _ => None,
            },
            server_memory,
            server_rss_before_kib: rss_before.map(|m| m.rss_kib),
            server_rss_per_connection_bytes: per_conn,
            server_processes,
            joinstorm: (scenario.joiners > 0).then_some(Storm {
                joiners: scenario.joiners,
                joined: c.joiners_ready,
                secs: window,
                complete: outcome.storm_complete,
            }),
            first_error: c.first_error.clone(),
            scenario,
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The table for people.
    pub fn table(&self) -> String {
        let s = &self.scenario;
        let mut rows: Vec<(&str, String)> = Vec::new();
        let load = if s.senders == 0 {
            "idle".to_string()
        } else if s.paced() {
            format!("{} senders x {} msg/s", s.senders, s.rate)
        } else {
            format!(
                "{} senders unpaced, {} in flight each",
                s.senders, s.inflight
            )
        };
        rows.push((
            "scenario",
            format!(
                "{} ({load}, {} B, {} room(s)){}",
                s.name,
                s.size,
                s.rooms,
                if s.tls { ", over TLS" } else { "" }
            ),
        ));
        let kind = match s.protocol {
            Protocol::ReactorChat => "reactor-chat",
            // Spawned, the IRC server is reactor-chat's IRC side.
            Protocol::Irc if self.server.flags.is_some() => "reactor-chat over IRC",
            Protocol::Irc => "IRC server",
            Protocol::Redis => "redis pub/sub",
        };
        rows.push((
            "server",
            match &self.server.flags {
                Some(flags) => {
                    let flags: Vec<&str> = flags
                        .iter()
                        .map(|f| if f.is_empty() { "\"\"" } else { f.as_str() })
                        .collect();
                    format!("{kind} {} {}", self.server.addresses_row(), flags.join(" "))
                }
                None => format!("{kind} {} (started elsewhere)", self.server.addresses_row()),
            },
        ));
        rows.push((
            "connections",
            format!(
                "{} logged in, {} failed, {} closed by server",
                self.connections, self.failed, self.closed_by_server
            ),
        ));
        rows.push((
            "connect",
            format!(
                "{:.2} s ({}/s)",
                self.connect_secs,
                si(self.connect_per_sec)
            ),
        ));
        if let Some(storm) = &self.joinstorm {
            rows.push((
                "join storm",
                format!(
                    "{}/{} joiners in after {:.2} s{}",
                    storm.joined,
                    storm.joiners,
                    storm.secs,
                    if storm.complete { "" } else { " (INCOMPLETE)" }
                ),
            ));
        }
        if s.senders > 0 {
            rows.push(("sent", self.sent.to_string()));
            rows.push(("delivered", self.delivered.to_string()));
            let mut lost = format!(
                "{} / {} / {}",
                self.lost, self.duplicated, self.out_of_order
            );
            if self.lost > 0 && !self.server.addresses.is_empty() {
                // Separate servers lose by design what is sent on one and owed on another.
                lost.push_str(
                    " (with several --addr: lost unless they are nodes of one cluster, or one server)",
                );
            }
            rows.push(("lost / dup / ooo", lost));
            rows.push((
                "delivered msgs/s",
                format!(
                    "{} ({} in {:.2} s)",
                    si(self.delivered_per_sec),
                    self.window_delivered,
                    self.window_secs
                ),
            ));
            rows.push((
                "delivered bytes/s",
                format!(
                    "{}B/s (all the clients read, framing included)",
                    si(self.delivered_bytes_per_sec)
                ),
            ));
            let l = &self.latency_us;
            rows.push((
                "latency (us)",
                format!(
                    "p50 {:.0}  p90 {:.0}  p99 {:.0}  p99.9 {:.0}  max {:.0}  (n={})",
                    l.p50, l.p90, l.p99, l.p999, l.max, l.count
                ),
            ));
            if let Some(f) = &self.files {
                rows.push((
                    "files",
                    format!(
                        "{} uploaded, {} accepts, {} delivered ({:.1} MiB), {} corrupted, {} refused",
                        f.uploads,
                        f.accepts,
                        f.delivered,
                        f.bytes as f64 / (1024.0 * 1024.0),
                        f.corrupted,
                        f.refused
                    ),
                ));
            }
            if self.ack_timeouts + self.pacing_slips > 0 {
                rows.push((
                    "stalls",
                    format!(
                        "{} ack timeouts, {} pacing slips",
                        self.ack_timeouts, self.pacing_slips
                    ),
                ));
            }
        }
        rows.push(("cpu", self.cpu_row()));
        if let Some(bench) = self.bench_cpu_ns_per_delivery {
            rows.push((
                "cpu per delivery",
                match self.server_cpu_ns_per_delivery {
                    Some(server) if !self.server_processes.is_empty() => {
                        format!("servers together {server:.0} ns, bench {bench:.0} ns")
                    }
                    Some(server) => format!("server {server:.0} ns, bench {bench:.0} ns"),
                    None => format!("bench {bench:.0} ns; server: give --server-pid"),
                },
            ));
        }
        let history = self
            .history
            .as_ref()
            .filter(|h| h.stored > 0 || h.waiting_at_end > 0);
        if let (None, Some(pct)) = (history, self.storage_thread_cpu_pct) {
            rows.push(("history", format!("storage thread {pct:.0}% of a core")));
        }
        if let Some(h) = history {
            rows.push((
                "history",
                format!(
                    "{} lines stored ({}/s), storage thread {:.0}% of a core, {} a line; at the end {} waiting to be stored, {} to be indexed; {} dropped",
                    h.stored,
                    crate::units::si(h.stored_per_sec),
                    h.cpu_pct,
                    h.us_per_line.map_or("-".to_string(), |us| format!("{us:.2} us")),
                    h.waiting_at_end,
                    h.unindexed_at_end,
                    h.dropped
                ),
            ));
        }
        if let Some(steal) = self.host_steal_pct {
            rows.push((
                "host steal",
                format!("{steal:.1}% of the machine's CPU time went to other guests"),
            ));
        }
        if let Some(idle) = self.host_idle_pct {
            rows.push((
                "host idle",
                format!("{idle:.1}% of the machine's CPU time was unused during the window"),
            ));
        }
        if let Some(m) = &self.server_memory {
            let together = if self.server_processes.is_empty() {
                ""
            } else {
                "together "
            };
            let mut mem = format!("{together}rss {} KiB, peak {} KiB", m.rss_kib, m.peak_kib);
            if let (Some(before), Some(per)) = (
                self.server_rss_before_kib,
                self.server_rss_per_connection_bytes,
            ) {
                let _ = write!(mem, ", before {before} KiB, {per:.0} B per connection");
            }
            if !self.server_processes.is_empty() {
                let each: Vec<String> = self
                    .server_processes
                    .iter()
                    .map(|p| match p.memory {
                        Some(m) => format!("pid {} {} KiB", p.pid, m.rss_kib),
                        None => format!("pid {} -", p.pid),
                    })
                    .collect();
                let _ = write!(mem, "; each rss: {}", each.join(", "));
            }
            rows.push(("server memory", mem));
        }
        if let Some(e) = &self.first_error {
            rows.push(("first error", e.clone()));
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<width$}  {v}");
        }
        out
    }

    /// Both processes' CPU, and which of them set the pace.
    fn cpu_row(&self) -> String {
        let mut row = match self.server_cpu_pct {
            Some(pct) if !self.server_processes.is_empty() => format!(
                "servers {pct:.0}% ({}), bench {:.0}% (of one core)",
                self.each_server_cpu(),
                self.bench_cpu_pct
            ),
            Some(pct) => format!(
                "server {pct:.0}%, bench {:.0}% (of one core)",
                self.bench_cpu_pct
            ),
            None => format!(
                "bench {:.0}% (of one core); server: give --server-pid",
                self.bench_cpu_pct
            ),
        };
        if self.bench_is_limit {
            let _ = write!(
                row,
                "; the bench is the limit (its one thread near a full core)"
            );
        }
        row
    }

    /// Several server processes' CPU one by one: `pid 12 20%, pid 13 21%`.
    fn each_server_cpu(&self) -> String {
        let each: Vec<String> = self
            .server_processes
            .iter()
            .map(|p| match p.cpu_pct {
                Some(pct) => format!("pid {} {pct:.0}%", p.pid),
                None => format!("pid {} -", p.pid),
            })
            .collect();
        each.join(", ")
    }
}

/// Each server process's CPU over the window and memory at its end, in `--server-pid`'s order.
fn server_processes(
    outcome: &Outcome,
    before_connect: &[ProcessSample],
    wall: std::time::Duration,
) -> Vec<ServerProcess> {
    let (before, after) = (&outcome.before.servers, &outcome.after.servers);
    before_connect
        .iter()
        .zip(before.iter().zip(after))
        .map(|(start, (a, b))| ServerProcess {
            pid: b.pid,
            cpu_pct: match (a.cpu, b.cpu) {
                (Some(a), Some(b)) => Some(procstat::percent(b.saturating_sub(a), wall)),
                _ => None,
            },
            memory: b.memory,
            rss_before_kib: start.memory.map(|m| m.rss_kib),
        })
        .collect()
}

/// What storing the window's lines cost a reactor-chat server's storage thread.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryWindow {
    /// Lines committed during the window.
    pub stored: u64,
    pub stored_per_sec: f64,
    /// The storage thread's CPU over the window, in percent of one core.
    pub cpu_pct: f64,
    /// Its CPU time per line committed, in microseconds.
    pub us_per_line: Option<f64>,
    /// Lines handed to it and not yet written when the window ended: a storage thread that
    /// falls behind shows here (and in `dropped`) rather than in its CPU.
    pub waiting_at_end: u64,
    /// Lines not stored during the window because it was too far behind.
    pub dropped: u64,
    /// Lines stored and not yet in the search index when the window ended.
    pub unindexed_at_end: u64,
}

impl HistoryWindow {
    fn between(
        before: crate::scrape::HistoryCounters,
        after: crate::scrape::HistoryCounters,
        wall: std::time::Duration,
    ) -> HistoryWindow {
        let stored = after.stored.saturating_sub(before.stored);
        let cpu = (after.cpu_secs - before.cpu_secs).max(0.0);
        let secs = wall.as_secs_f64();
        HistoryWindow {
            stored,
            stored_per_sec: if secs > 0.0 {
                stored as f64 / secs
            } else {
                0.0
            },
            cpu_pct: if secs > 0.0 { 100.0 * cpu / secs } else { 0.0 },
            us_per_line: (stored > 0).then(|| cpu * 1e6 / stored as f64),
            waiting_at_end: after.waiting,
            dropped: after.dropped.saturating_sub(before.dropped),
            unindexed_at_end: after.unindexed,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use clap::Parser as _;

    use super::*;
    use crate::driver::{Counts, ProcessSample, Sample};

    /// The samples at a window's edges `wall` apart: the bench used `own_cpu` in it, and each
    /// server process `(pid, cpu)` its cpu, with 1000 KiB resident per pid.
    fn samples(wall: Duration, own_cpu: Duration, servers: &[(u32, Duration)]) -> (Sample, Sample) {
        let at = Instant::now();
        let memory = Memory {
            rss_kib: 1000,
            peak_kib: 1000,
        };
        let process = |pid: u32, cpu: Duration| ProcessSample {
            pid,
            cpu: Some(cpu),
            memory: Some(memory),
        };
        let sample = |at: Instant, own_cpu: Duration, servers: Vec<ProcessSample>| Sample {
            at,
            own_cpu,
            server_cpu: servers.iter().map(|s| s.cpu).sum(),
            server_memory: servers.iter().map(|s| s.memory).sum(),
            servers,
            host: None,
            history: None,
            storage_cpu: None,
        };
        let start = Duration::from_secs(2);
        let before = servers
            .iter()
            .map(|&(pid, _)| process(pid, start))
            .collect();
        let after = servers
            .iter()
            .map(|&(pid, cpu)| process(pid, start + cpu))
            .collect();
        (
            sample(at, Duration::from_secs(1), before),
            sample(at + wall, Duration::from_secs(1) + own_cpu, after),
        )
    }

    /// What a run measured, with `delivered` deliveries of 100 bytes each in the window and
    /// `logged_in` clients per address.
    fn outcome(wall: Duration, (before, after): (Sample, Sample), delivered: u64) -> Outcome {
        let mut counts = Counts::default();
        counts.window_delivered = delivered;
        counts.window_bytes = delivered * 100;
        Outcome {
            counts,
            lost: 0,
            logged_in_per_address: vec![100],
            latency: hdrhistogram::Histogram::new(3).unwrap(),
            connect_time: Duration::ZERO,
            window: wall,
            before,
            after,
            storm_complete: true,
        }
    }

    fn saturate(flags: &[&str]) -> (Scenario, Targets) {
        let mut argv = vec!["reactor-chat-bench", "--preset", "saturate"];
        argv.extend_from_slice(flags);
        let args = crate::cli::Args::parse_from(argv);
        (
            Scenario::from_args(&args).unwrap(),
            Targets::from_args(&args).unwrap(),
        )
    }

    /// A run of one server whose window is `wall` long, with these CPU times used in it and
    /// `delivered` deliveries.
    fn report(wall: Duration, server_cpu: Duration, own_cpu: Duration, delivered: u64) -> Report {
        let outcome = outcome(wall, samples(wall, own_cpu, &[(1, server_cpu)]), delivered);
        let (scenario, targets) = saturate(&["--addr", "127.0.0.1:1", "--server-pid", "1"]);
        let server = ServerInfo::new(&targets, None, &scenario, &outcome);
        let before_connect = &outcome.before.servers.clone();
        Report::new(scenario, server, &outcome, before_connect)
    }

    #[test]
    fn one_server_is_reported_as_it_always_was() {
        let r = report(
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::ZERO,
            10,
        );
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        let server = json["server"].as_object().unwrap();
        let keys: Vec<&str> = server.keys().map(String::as_str).collect();
        // serde_json's map sorts its keys.
        assert_eq!(keys, ["addr", "flags", "pid"], "{json:#}");
        assert_eq!(
            (&json["server"]["addr"], &json["server"]["pid"]),
            (&"127.0.0.1:1".into(), &1.into())
        );
        assert!(json.get("server_processes").is_none(), "{json:#}");
        assert_eq!(json["server_cpu_pct"], 50.0);
        assert!(r
            .table()
            .contains("reactor-chat 127.0.0.1:1 (started elsewhere)"));
        assert!(r.table().contains("server 50%, bench 0%"), "{}", r.table());
    }

    #[test]
    fn several_processes_are_reported_each_and_summed() {
        let wall = Duration::from_secs(2);
        let cpu = [(7, Duration::from_secs(1)), (8, Duration::from_millis(500))];
        let outcome = outcome(wall, samples(wall, Duration::ZERO, &cpu), 1_000_000);
        let (scenario, targets) = saturate(&[
            "--addr",
            "127.0.0.1:1",
            "--addr",
            "127.0.0.1:2",
            "--server-pid",
            "7",
            "--server-pid",
            "8",
        ]);
        let mut outcome = outcome;
        outcome.logged_in_per_address = vec![50, 49];
        outcome.lost = 3;
        let server = ServerInfo::new(&targets, None, &scenario, &outcome);
        let before_connect = outcome.before.servers.clone();
        let r = Report::new(scenario, server, &outcome, &before_connect);
        // The sum's figures, as one server's would be.
        assert_eq!(r.server_cpu_pct, Some(75.0));
        assert_eq!(r.server_cpu_ns_per_delivery, Some(1500.0));
        assert_eq!(r.server_memory.map(|m| m.rss_kib), Some(2000));
        assert_eq!(r.server_rss_before_kib, Some(2000));
        let each: Vec<(u32, Option<f64>)> = r
            .server_processes
            .iter()
            .map(|p| (p.pid, p.cpu_pct))
            .collect();
        assert_eq!(each, [(7, Some(50.0)), (8, Some(25.0))]);
        assert_eq!(
            (r.server.pid, r.server.pids.as_slice()),
            (None, &[7, 8][..])
        );
        let table = r.table();
        assert!(
            table.contains("servers 75% (pid 7 50%, pid 8 25%)"),
            "{table}"
        );
        assert!(table.contains("servers together 1500 ns"), "{table}");
        assert!(table.contains("3 / 0 / 0 (with several --addr"), "{table}");
        assert!(
            table.contains("each rss: pid 7 1000 KiB, pid 8 1000 KiB"),
            "{table}"
        );
        assert!(
            table.contains("127.0.0.1:1 (50 clients), 127.0.0.1:2 (50 clients, 49 logged in)"),
            "{table}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["server"]["addr"], "127.0.0.1:1, 127.0.0.1:2");
        assert_eq!(json["server"]["pids"], serde_json::json!([7, 8]));
        assert_eq!(
            json["server"]["addresses"][1],
            serde_json::json!({"addr": "127.0.0.1:2", "clients": 50, "logged_in": 49})
        );
        assert_eq!(json["server_processes"][1]["cpu_pct"], 25.0);
    }

    #[test]
    fn cpu_per_delivery_and_who_set_the_pace() {
        let r = report(
            Duration::from_secs(2),
            Duration::from_millis(1500),
            Duration::from_millis(1900),
            1_000_000,
        );
        assert_eq!(r.server_cpu_ns_per_delivery, Some(1500.0));
        assert_eq!(r.bench_cpu_ns_per_delivery, Some(1900.0));
        assert_eq!(r.delivered_bytes_per_sec, 50_000_000.0);
        assert!(r.bench_is_limit, "95 % of a core is the bench's limit");
        assert!(
            r.table().contains("the bench is the limit"),
            "{}",
            r.table()
        );

        let r = report(
            Duration::from_secs(2),
            Duration::from_secs(2),
            Duration::from_millis(600),
            1_000_000,
        );
        assert!(!r.bench_is_limit);
        assert!(!r.table().contains("the bench is the limit"));
        assert!(
            r.table().contains("server 2000 ns, bench 600 ns"),
            "{}",
            r.table()
        );

        let r = report(Duration::from_secs(1), Duration::ZERO, Duration::ZERO, 0);
        assert_eq!(r.server_cpu_ns_per_delivery, None, "nothing delivered");
    }
}
