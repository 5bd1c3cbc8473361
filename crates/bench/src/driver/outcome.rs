//! What a run measures: its counters, the outcome `run` returns, CPU samples for rates.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::filemix::FileCounts;

/// Counters of one run. Everything is over the whole run except `window_*`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Counts {
    pub opened: u64,
    pub ready: u64,
    pub joiners_ready: u64,
    /// Connections that never logged in (refused, timed out, connect error).
    pub failed: u64,
    /// Connections closed by the server after they logged in.
    pub closed_after_ready: u64,
    pub sent: u64,
    /// Distinct deliveries of bench messages, all receivers.
    pub delivered: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Deliveries inside the measured window.
    pub window_delivered: u64,
    /// Bytes the clients read inside the measured window: in a loaded run nearly all of them
    /// deliveries, each with its protocol's framing (the line protocol's time and nick, IRC's
    /// prefix and command), so protocols compare by what crossed the wire.
    pub window_bytes: u64,
    /// Lines that were not bench messages (presence notices, welcomes of others, ...).
    pub other_lines: u64,
    pub ack_timeouts: u64,
    pub pacing_slips: u64,
    /// `--files`: uploads, accepts and deliveries.
    pub files: FileCounts,
    /// The first reason a connection failed or was closed, for the report.
    pub first_error: Option<String>,
    #[serde(skip)]
    pub(super) initial_unique: u64,
    #[serde(skip)]
    pub(super) last_ready_at: Option<Instant>,
    /// When (nanoseconds since the epoch) the last bench message arrived.
    #[serde(skip)]
    pub(super) last_delivery_ns: u64,
}

/// What `run` measured.
pub struct Outcome {
    pub counts: Counts,
    pub lost: u64,
    /// Clients that logged in through each address, in `--addr`'s order.
    pub logged_in_per_address: Vec<u64>,
    /// Latency of deliveries to clients present from the start, in the window, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Time from the first connect to the last initial client logged in.
    pub connect_time: Duration,
    /// The measured window (joinstorm: first joiner connect to last joiner in).
    pub window: Duration,
    /// CPU samples at the window's edges.
    pub before: Sample,
    pub after: Sample,
    /// Join storm: whether every joiner got in before the window's deadline.
    pub storm_complete: bool,
}

/// CPU use at one moment, for rates over the window.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    pub own_cpu: Duration,
    /// Every server process's CPU time together (`--server-pid`, all of them): `None` unless
    /// each was readable, so that a sum missing a process never passes for the whole.
    pub server_cpu: Option<Duration>,
    /// Their memory together, on the same terms (each one's peak, added up).
    pub server_memory: Option<crate::procstat::Memory>,
    /// Each server process on its own, in `--server-pid`'s order.
    pub servers: Vec<ProcessSample>,
    /// The machine's CPU ticks (for its steal share), when `/proc/stat` is readable.
    pub host: Option<crate::procstat::HostTicks>,
    /// CPU time of reactor-chat's storage threads (`history`), all the server processes'
    /// together, on the same terms as `server_cpu`.
    pub storage_cpu: Option<Duration>,
    /// A reactor-chat server's history counters (`/metrics`), when it stores history.
    pub history: Option<crate::scrape::HistoryCounters>,
}

/// One server process at one moment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSample {
    pub pid: u32,
    pub cpu: Option<Duration>,
    pub memory: Option<crate::procstat::Memory>,
}

impl ProcessSample {
    /// Each of `pids` now, in their order.
    pub fn take_all(pids: &[u32]) -> Vec<ProcessSample> {
        pids.iter()
            .map(|&pid| ProcessSample {
                pid,
                cpu: crate::procstat::cpu_time(pid).ok(),
                memory: crate::procstat::memory(pid).ok(),
            })
            .collect()
    }
}

/// The sum of `values`, or `None` if there are none or any is missing.
fn total<T: std::iter::Sum<T>>(values: impl IntoIterator<Item = Option<T>>) -> Option<T> {
    let mut values = values.into_iter().peekable();
    values.peek()?;
    values.sum()
}

impl Sample {
    /// CPU and memory now of this process and of the server processes `pids`; `metrics` is
    /// where to read a reactor-chat server's `/metrics`.
    pub fn take(pids: &[u32], metrics: Option<std::net::SocketAddr>) -> Sample {
        let servers = ProcessSample::take_all(pids);
        Sample {
            history: metrics.and_then(crate::scrape::history),
            storage_cpu: total(
                pids.iter()
                    .map(|&pid| crate::procstat::thread_cpu_time(pid, "history").ok()),
            ),
            at: Instant::now(),
            own_cpu: crate::procstat::own_cpu_time(),
            server_cpu: total(servers.iter().map(|s| s.cpu)),
            server_memory: total(servers.iter().map(|s| s.memory)),
            servers,
            host: crate::procstat::host_ticks().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_need_every_part() {
        assert_eq!(total([Some(1), Some(2)]), Some(3));
        assert_eq!(total([Some(1), None]), None, "a missing process is no zero");
        assert_eq!(
            total(Vec::<Option<u32>>::new()),
            None,
            "no process, no figure"
        );
    }
}
