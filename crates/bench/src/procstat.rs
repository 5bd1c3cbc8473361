//! CPU time and memory of the server (from `/proc/PID/stat` and `/proc/PID/status`) and of the
//! bench itself (`getrusage`), so every report puts the two side by side: a load generator that
//! eats more CPU than the server is measuring itself. And the machine's steal time (`/proc/stat`):
//! on a virtual machine, the time the hypervisor gave its CPUs to other guests, which moves latency
//! figures more than anything either process does.

use std::io;
use std::time::Duration;

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat_cpu(&stat, clock_ticks_per_sec())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/PID/stat"))
}

/// CPU time (user + system) of the thread of process `pid` named `name` (`/proc/PID/task/*/comm`),
/// such as reactor-chat's storage thread, `history`.
pub fn thread_cpu_time(pid: u32, name: &str) -> io::Result<Duration> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(path.join("stat"))?;
            return parse_stat_cpu(&stat, clock_ticks_per_sec()).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "unreadable /proc/PID/task/TID/stat",
                )
            });
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no thread named {name}"),
    ))
}

/// `utime + stime` from a `/proc/PID/stat` line. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_stat_cpu(stat: &str, ticks_per_sec: u64) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")" come field 3 (state) onwards; utime and stime are fields 14 and 15.
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / ticks_per_sec.max(1),
    ))
}

fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Memory {
    /// Resident now (`VmRSS`).
    pub rss_kib: u64,
    /// The peak resident size so far (`VmHWM`).
    pub peak_kib: u64,
}

/// Several processes' memory together: their resident sizes and their peaks, added up.
impl std::iter::Sum for Memory {
    fn sum<I: Iterator<Item = Memory>>(iter: I) -> Memory {
        iter.fold(Memory::default(), |sum, m| Memory {
            rss_kib: sum.rss_kib + m.rss_kib,
            peak_kib: sum.peak_kib + m.peak_kib,
        })
    }
}

pub fn memory(pid: u32) -> io::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(parse_status(&status))
}

fn parse_status(status: &str) -> Memory {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_ascii_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
    }
}

/// CPU time (user + system) this process has used so far.
pub fn own_cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The machine's CPU time so far, all CPUs together, in clock ticks: everything, and stolen.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostTicks {
    pub total: u64,
    pub steal: u64,
    /// Idle and iowait: what nobody used.
    pub idle: u64,
}

pub fn host_ticks() -> io::Result<HostTicks> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    parse_host_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/stat"))
}

/// The first line of `/proc/stat`: `cpu user nice system idle iowait irq softirq steal guest
/// guest_nice`. Guest time is already inside user and nice, so it is not added again.
fn parse_host_ticks(stat: &str) -> Option<HostTicks> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_ascii_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let steal = *ticks.get(7)?;
    Some(HostTicks {
        total: ticks.iter().take(8).sum(),
        steal,
        idle: ticks.get(3)? + ticks.get(4)?,
    })
}

/// The share of the machine's CPU time stolen between two readings, in percent.
pub fn steal_percent(before: HostTicks, after: HostTicks) -> f64 {
    let total = after.total.saturating_sub(before.total);
    if total == 0 {
        return 0.0;
    }
    100.0 * after.steal.saturating_sub(before.steal) as f64 / total as f64
}

/// The share of the machine's CPU time nobody used between two readings, in percent: on a
/// machine shared with other work, what the server and the bench had to themselves is this
/// plus their own use.
pub fn idle_percent(before: HostTicks, after: HostTicks) -> f64 {
    let total = after.total.saturating_sub(before.total);
    if total == 0 {
        return 0.0;
    }
    100.0 * after.idle.saturating_sub(before.idle) as f64 / total as f64
}

/// CPU use between two readings as a percentage of one core.
pub fn percent(cpu: Duration, wall: Duration) -> f64 {
    if wall.is_zero() {
        return 0.0;
    }
    100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "1234 (reactor (chat) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10";
        assert_eq!(parse_stat_cpu(stat, 100), Some(Duration::from_millis(3000)));
    }

    #[test]
    fn status_memory_fields() {
        let status = "Name:\treactor-chat\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        let m = parse_status(status);
        assert_eq!((m.rss_kib, m.peak_kib), (10240, 20480));
    }

    #[test]
    fn host_ticks_and_steal() {
        let before = parse_host_ticks("cpu  100 0 50 800 10 0 0 40 7 0\ncpu0 1 2 3\n").unwrap();
        assert_eq!((before.total, before.steal), (1000, 40));
        let after = HostTicks {
            total: 1200,
            steal: 90,
            idle: 860,
        };
        assert_eq!(steal_percent(before, after), 25.0);
        assert_eq!(before.idle, 810);
        assert_eq!(idle_percent(before, after), 25.0);
        assert_eq!(steal_percent(after, after), 0.0);
        assert!(parse_host_ticks("intr 1 2 3").is_none());
        assert!(host_ticks().is_ok());
    }

    #[test]
    fn this_process_is_readable() {
        let pid = std::process::id();
        assert!(memory(pid).unwrap().rss_kib > 0);
        assert!(cpu_time(pid).is_ok());
        // The test harness names its threads after the test.
        let me = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
        assert!(thread_cpu_time(pid, me.trim_end()).is_ok());
        assert!(thread_cpu_time(pid, "no-such-thread").is_err());
    }
}
