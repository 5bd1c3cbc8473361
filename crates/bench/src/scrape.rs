//! The storage figures a reactor-chat server publishes on `/metrics`, read at the window's
//! edges: what storing the window's lines cost its storage thread, and whether it kept up.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The history counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HistoryCounters {
    pub stored: u64,
    pub waiting: u64,
    pub dropped: u64,
    pub cpu_secs: f64,
    /// Lines stored and not yet in the search index (indexing waits out a burst).
    pub unindexed: u64,
}

/// Reads the server's history counters, or `None` if it has no history (`--no-history`,
/// another server) or does not answer within a second or two.
pub fn history(addr: SocketAddr) -> Option<HistoryCounters> {
    parse(&get_metrics(addr).ok()?)
}

fn get_metrics(addr: SocketAddr) -> io::Result<String> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")?;
    let mut body = String::new();
    conn.read_to_string(&mut body)?;
    Ok(body)
}

/// The four counters from a Prometheus text exposition; `None` unless the stored-lines one is
/// there.
fn parse(exposition: &str) -> Option<HistoryCounters> {
    let value = |name: &str| {
        exposition.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
            rest.trim().parse::<f64>().ok()
        })
    };
    Some(HistoryCounters {
        stored: value("reactor_chat_history_stored_lines_total")? as u64,
        waiting: value("reactor_chat_history_waiting_lines").unwrap_or(0.0) as u64,
        dropped: value("reactor_chat_history_dropped_lines_total").unwrap_or(0.0) as u64,
        cpu_secs: value("reactor_chat_history_cpu_seconds_total").unwrap_or(0.0),
        unindexed: value("reactor_chat_history_unindexed_lines").unwrap_or(0.0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_are_read_by_exact_name_and_a_server_without_history_has_none() {
        let text = "HTTP/1.1 200 OK\r\n\r\n\
            # HELP reactor_chat_history_stored_lines_total History lines committed to disk.\n\
            # TYPE reactor_chat_history_stored_lines_total counter\n\
            reactor_chat_history_stored_lines_total 2720000\n\
            reactor_chat_history_waiting_lines 12\n\
            reactor_chat_history_dropped_lines_total 0\n\
            reactor_chat_history_cpu_seconds_total 2.5\n\
            reactor_chat_history_unindexed_lines 40000\n";
        assert_eq!(
            parse(text),
            Some(HistoryCounters {
                stored: 2_720_000,
                waiting: 12,
                dropped: 0,
                cpu_secs: 2.5,
                unindexed: 40_000,
            })
        );
        assert_eq!(parse("reactor_chat_deliveries_total 5\n"), None);
    }
}
