//! The run's report: one table for people, the same figures as JSON for machines.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::{Protocol, Scenario};
use crate::driver::Outcome;
use crate::procstat::{self, Memory};
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
    pub server_memory: Option<Memory>,
    pub server_rss_before_kib: Option<u64>,
    /// (RSS at the end of the window - RSS before connecting) / connections.
    pub server_rss_per_connection_bytes: Option<f64>,
    pub joinstorm: Option<Storm>,
    pub first_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ServerInfo {
    pub addr: String,
    pub pid: Option<u32>,
    /// The flags the bench started it with (`--spawn-server`); `None` for a server started elsewhere.
    pub flags: Option<Vec<String>>,
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
        rss_before: Option<Memory>,
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
                    format!("{kind} {} {}", self.server.addr, flags.join(" "))
                }
                None => format!("{kind} {} (started elsewhere)", self.server.addr),
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
            rows.push((
                "lost / dup / ooo",
                format!(
                    "{} / {} / {}",
                    self.lost, self.duplicated, self.out_of_order
                ),
            ));
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
            let mut mem = format!("rss {} KiB, peak {} KiB", m.rss_kib, m.peak_kib);
            if let (Some(before), Some(per)) = (
                self.server_rss_before_kib,
                self.server_rss_per_connection_bytes,
            ) {
                let _ = write!(mem, ", before {before} KiB, {per:.0} B per connection");
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
    use crate::driver::{Counts, Sample};

    /// A run whose window is `wall` long, with these CPU times used in it and `delivered`
    /// deliveries of 100 bytes each.
    fn report(wall: Duration, server_cpu: Duration, own_cpu: Duration, delivered: u64) -> Report {
        let at = Instant::now();
        let before = Sample {
            at,
            own_cpu: Duration::from_secs(1),
            server_cpu: Some(Duration::from_secs(2)),
            server_memory: None,
            host: None,
            history: None,
            storage_cpu: None,
        };
        let after = Sample {
            at: at + wall,
            own_cpu: before.own_cpu + own_cpu,
            server_cpu: before.server_cpu.map(|c| c + server_cpu),
            ..before
        };
        let mut counts = Counts::default();
        counts.window_delivered = delivered;
        counts.window_bytes = delivered * 100;
        let outcome = Outcome {
            counts,
            lost: 0,
            latency: hdrhistogram::Histogram::new(3).unwrap(),
            connect_time: Duration::ZERO,
            window: wall,
            before,
            after,
            storm_complete: true,
        };
        let args = crate::cli::Args::parse_from(["reactor-chat-bench", "--preset", "saturate"]);
        let scenario = Scenario::from_args(&args).unwrap();
        let server = ServerInfo {
            addr: "127.0.0.1:1".into(),
            pid: Some(1),
            flags: None,
        };
        Report::new(scenario, server, &outcome, None)
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
