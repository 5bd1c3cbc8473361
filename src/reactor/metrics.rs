//! The reactor's counters, and `GET /metrics`: them and the chat core's in the Prometheus text
//! format (version 0.0.4).
//!
//! Everything here is read from counters the reactor and the chat core keep anyway; a scrape
//! costs one pass over the connections (to count them by protocol) and no allocation per metric
//! beyond the text itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::Reactor;

/// Counters for the activity log and the metrics.
#[derive(Debug, Default, Clone)]
pub struct ReactorStats {
    pub accepted: u64,
    pub refused_full: u64,
    pub refused_per_ip: u64,
    /// New connections refused by --max-unregistered-per-ip or a full --max-unregistered.
    pub refused_unregistered: u64,
    /// Connections waiting to log in closed to make room for a newcomer.
    pub displaced_unregistered: u64,
    /// Connections dropped because all output together passed --max-output-memory.
    pub output_memory_drops: u64,
    /// Configuration reloads (SIGHUP) that took effect.
    pub reloads: u64,
    /// Connections closed for their PROXY header (bad, missing when required, or untrusted).
    pub proxy_refused: u64,
    /// `/metrics` and `/status` requests refused on a chat listener (not loopback nor
    /// --metrics-allow).
    pub metrics_refused: u64,
    pub refused_dropped: u64,
    pub refused_banned: u64,
    pub login_timeouts: u64,
    pub idle_timeouts: u64,
    pub queue_hard_drops: u64,
    pub queue_soft_drops: u64,
    pub lines_too_long: u64,
    pub invalid_utf8: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub loop_turns: u64,
    pub accept_pauses: u64,
    pub flood_throttles: u64,
    pub flood_kicks: u64,
    pub files_in: u64,
    pub files_out: u64,
    pub files_busy: u64,
    pub http_requests: u64,
    pub ws_upgrades: u64,
    /// Telnets asked for BINARY (their first line ended with `\r`).
    pub telnet_binary: u64,
    /// Connections that spoke IRC.
    pub irc_connections: u64,
    /// IRC OPER attempts refused unchecked (one check a second, server-wide).
    pub oper_throttled: u64,
    /// TLS handshakes completed.
    pub tls_handshakes: u64,
    /// TLS connections ended by a protocol error (a bad record, a failed handshake).
    pub tls_errors: u64,
    /// ClientHellos refused by --max-tls-handshakes, and handshakes past their deadline.
    pub tls_refused: u64,
    /// Clear-text connections refused by --tls-only.
    pub tls_clear_refused: u64,
    /// Events queued to connections (one per recipient of a broadcast).
    pub deliveries: u64,
    /// Time spent working (not waiting in poll), for time per loop iteration.
    pub busy: Duration,
    /// Connections removed, by the reason they ended.
    pub disconnects: BTreeMap<&'static str, u64>,
}

impl ReactorStats {
    /// Every counter by name, the disconnects as `disconnects.REASON`: the shutdown's log line.
    pub fn fields(&self) -> Vec<(String, u64)> {
        let fields: [(&str, u64); 35] = [
            ("accepted", self.accepted),
            ("refused_full", self.refused_full),
            ("refused_per_ip", self.refused_per_ip),
            ("refused_unregistered", self.refused_unregistered),
            ("displaced_unregistered", self.displaced_unregistered),
            ("refused_dropped", self.refused_dropped),
            ("refused_banned", self.refused_banned),
            ("login_timeouts", self.login_timeouts),
            ("idle_timeouts", self.idle_timeouts),
            ("queue_hard_drops", self.queue_hard_drops),
            ("queue_soft_drops", self.queue_soft_drops),
            ("output_memory_drops", self.output_memory_drops),
            ("lines_too_long", self.lines_too_long),
            ("invalid_utf8", self.invalid_utf8),
            ("bytes_in", self.bytes_in),
            ("bytes_out", self.bytes_out),
            ("deliveries", self.deliveries),
            ("loop_turns", self.loop_turns),
            ("accept_pauses", self.accept_pauses),
            ("flood_throttles", self.flood_throttles),
            ("flood_kicks", self.flood_kicks),
            ("files_in", self.files_in),
            ("files_out", self.files_out),
            ("files_busy", self.files_busy),
            ("http_requests", self.http_requests),
            ("ws_upgrades", self.ws_upgrades),
            ("metrics_refused", self.metrics_refused),
            ("telnet_binary", self.telnet_binary),
            ("irc_connections", self.irc_connections),
            ("oper_throttled", self.oper_throttled),
            ("tls_handshakes", self.tls_handshakes),
            ("tls_errors", self.tls_errors),
            ("tls_refused", self.tls_refused),
            ("tls_clear_refused", self.tls_clear_refused),
            (
                "busy_ms",
                u64::try_from(self.busy.as_millis()).unwrap_or(u64::MAX),
            ),
        ];
        let mut all: Vec<(String, u64)> = fields.iter().map(|&(k, v)| (k.to_string(), v)).collect();
        for (reason, n) in &self.disconnects {
            all.push((format!("disconnects.{reason}"), *n));
        }
        all
    }
}

impl std::fmt::Display for ReactorStats {
    /// One line of `key=value` fields, the disconnects as `disconnects.REASON=N`: parseable,
    /// unlike a `Debug` dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sep = "";
        for (key, value) in self.fields() {
            write!(f, "{sep}{key}={value}")?;
            sep = " ";
        }
        Ok(())
    }
}

/// Appends one metric with its help and type lines.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// The whole exposition.
pub fn render(reactor: &Reactor) -> String {
    let stats = &reactor.stats;
    let chat = &reactor.chat.stats;
    let mut by_proto: BTreeMap<&str, f64> = BTreeMap::new();
    for (_, conn) in reactor.conns.iter() {
        *by_proto.entry(conn.proto.name()).or_default() += 1.0;
    }
    let proto_labels: Vec<(String, f64)> = ["line", "websocket", "http", "new"]
        .iter()
        .map(|p| {
            (
                format!("protocol=\"{p}\""),
                by_proto.get(p).copied().unwrap_or(0.0),
            )
        })
        .collect();
    let disconnect_labels: Vec<(String, f64)> = stats
        .disconnects
        .iter()
        .map(|(reason, n)| (format!("reason=\"{reason}\""), *n as f64))
        .collect();
    let mut out = String::with_capacity(4096);
    let labelled = |out: &mut String, name: &str, kind: &str, help: &str, v: &[(String, f64)]| {
        let samples: Vec<(&str, f64)> = v.iter().map(|(l, n)| (l.as_str(), *n)).collect();
        metric(out, name, kind, help, &samples);
    };
    labelled(
        &mut out,
        "reactor_chat_connections",
        "gauge",
        "Open connections by protocol.",
        &proto_labels,
    );
    let plain: [(&str, &str, &str, f64); 39] = [
        ("reactor_chat_users_online", "gauge", "Users logged in with a live connection.", reactor.chat.online() as f64),
        ("reactor_chat_rooms", "gauge", "Rooms that exist now.", reactor.chat.room_count() as f64),
        ("reactor_chat_file_store_bytes", "gauge", "Bytes held for open file offers.", reactor.chat.file_store_bytes() as f64),
        ("reactor_chat_held_sessions", "gauge", "Sessions held for a reconnect.", reactor.chat.held() as f64),
        ("reactor_chat_recent_lines_bytes", "gauge", "About what the rooms' recent lines (the one copy replays read) weigh.", reactor.chat.recent_bytes() as f64),
        ("reactor_chat_held_dropped_total", "counter", "Held sessions ended early by --max-held-per-ip or --max-held.", chat.held_dropped as f64),
        ("reactor_chat_accepted_total", "counter", "Connections accepted.", stats.accepted as f64),
        ("reactor_chat_refused_total", "counter", "Connections refused (server full, per-address limit, waiting-to-log-in budget, banned address, dropped under a flood).", (stats.refused_full + stats.refused_per_ip + stats.refused_unregistered + stats.refused_dropped + stats.refused_banned) as f64),
        ("reactor_chat_output_queued_bytes", "gauge", "Bytes queued for output across all connections (against --max-output-memory).", reactor.output_bytes as f64),
        ("reactor_chat_output_memory_drops_total", "counter", "Connections dropped because all output together passed --max-output-memory.", stats.output_memory_drops as f64),
        ("reactor_chat_unregistered_connections", "gauge", "Connections that have not logged in yet (against --max-unregistered).", reactor.unregistered.total() as f64),
        ("reactor_chat_displaced_unregistered_total", "counter", "Connections waiting to log in closed to make room for a newcomer.", stats.displaced_unregistered as f64),
        ("reactor_chat_logins_total", "counter", "Logins, new sessions and resumed ones.", (chat.logins + chat.resumes) as f64),
        ("reactor_chat_messages_in_total", "counter", "Chat messages and actions received.", chat.messages as f64),
        ("reactor_chat_whispers_total", "counter", "Whispers sent.", chat.whispers as f64),
        ("reactor_chat_deliveries_total", "counter", "Events queued to connections (one per recipient).", stats.deliveries as f64),
        ("reactor_chat_bytes_in_total", "counter", "Bytes read from clients.", stats.bytes_in as f64),
        ("reactor_chat_bytes_out_total", "counter", "Bytes written to clients.", stats.bytes_out as f64),
        ("reactor_chat_queue_drops_total", "counter", "Clients dropped for their output queue (hard or soft cap).", (stats.queue_hard_drops + stats.queue_soft_drops) as f64),
        ("reactor_chat_flood_throttles_total", "counter", "Times flood control started delaying a client.", stats.flood_throttles as f64),
        ("reactor_chat_file_offers_total", "counter", "Files offered to rooms.", chat.files_offered as f64),
        ("reactor_chat_files_sent_total", "counter", "File deliveries queued.", stats.files_out as f64),
        ("reactor_chat_http_requests_total", "counter", "HTTP requests served (chat and metrics listeners).", stats.http_requests as f64),
        ("reactor_chat_metrics_refused_total", "counter", "/metrics and /status requests refused on a chat listener (not loopback nor --metrics-allow).", stats.metrics_refused as f64),
        ("reactor_chat_websocket_upgrades_total", "counter", "WebSocket connections opened.", stats.ws_upgrades as f64),
        ("reactor_chat_telnet_binary_requests_total", "counter", "Telnet clients asked for 8-bit input (RFC 856 BINARY).", stats.telnet_binary as f64),
        ("reactor_chat_irc_connections_total", "counter", "Connections that spoke IRC.", stats.irc_connections as f64),
        ("reactor_chat_irc_connections", "gauge", "Connections speaking IRC now.", reactor.conns.iter().filter(|(_, c)| c.proto.name() == "irc").count() as f64),
        ("reactor_chat_tls_connections", "gauge", "Connections inside TLS.", reactor.conns.iter().filter(|(_, c)| c.tls.is_some()).count() as f64),
        ("reactor_chat_tls_handshakes_total", "counter", "TLS handshakes completed.", stats.tls_handshakes as f64),
        ("reactor_chat_tls_errors_total", "counter", "TLS connections ended by a protocol error.", stats.tls_errors as f64),
        ("reactor_chat_tls_refused_total", "counter", "TLS handshakes refused by --max-tls-handshakes or past --tls-handshake-timeout.", stats.tls_refused as f64),
        ("reactor_chat_tls_clear_refused_total", "counter", "Clear-text connections refused by --tls-only.", stats.tls_clear_refused as f64),
        ("reactor_chat_kicks_total", "counter", "Users kicked or banned by operators.", chat.kicks as f64),
        ("reactor_chat_rooms_per_user_refused_total", "counter", "IRC joins refused by --max-rooms-per-user.", chat.rooms_per_user_refused as f64),
        ("reactor_chat_loop_iterations_total", "counter", "Reactor loop iterations.", stats.loop_turns as f64),
        ("reactor_chat_loop_busy_seconds_total", "counter", "Time the reactor spent working rather than waiting; divided by iterations, the time per iteration.", stats.busy.as_secs_f64()),
        ("reactor_chat_login_timeouts_total", "counter", "Connections that did not log in in time.", stats.login_timeouts as f64),
        ("reactor_chat_reserved_nicks_refused_total", "counter", "Logins and renames refused because the name is reserved for the server.", chat.reserved_nicks as f64),
    ];
    for (name, kind, help, value) in plain {
        metric(&mut out, name, kind, help, &[("", value)]);
    }
    if let Some(storage) = &reactor.storage {
        let (stored, cpu, unindexed) = storage.progress();
        let history: [(&str, &str, &str, f64); 5] = [
            (
                "reactor_chat_history_stored_lines_total",
                "counter",
                "History lines committed to disk.",
                stored as f64,
            ),
            (
                "reactor_chat_history_waiting_lines",
                "gauge",
                "History lines handed to the storage thread and not written yet.",
                storage.waiting() as f64,
            ),
            (
                "reactor_chat_history_dropped_lines_total",
                "counter",
                "History lines not stored because the storage thread was too far behind.",
                storage.dropped as f64,
            ),
            (
                "reactor_chat_history_cpu_seconds_total",
                "counter",
                "CPU time of the storage thread (updated at each commit).",
                cpu,
            ),
            (
                "reactor_chat_history_unindexed_lines",
                "gauge",
                "History lines stored and waiting for the search index (during a burst of lines).",
                unindexed as f64,
            ),
        ];
        for (name, kind, help, value) in history {
            metric(&mut out, name, kind, help, &[("", value)]);
        }
    }
    if let Some(node) = reactor.cluster.as_deref() {
        let cluster = node.stats;
        let link = node.link().stats();
        let chat = &reactor.chat.stats;
        let figures: [(&str, &str, &str, f64); 12] = [
            ("reactor_chat_cluster_link_up", "gauge", "1 while the link to the cluster's Redis is up.", f64::from(u8::from(node.is_up()))),
            ("reactor_chat_cluster_node_id", "gauge", "This node's id in the cluster.", f64::from(node.id())),
            ("reactor_chat_cluster_published_total", "counter", "Room events sent to the other nodes.", cluster.published as f64),
            ("reactor_chat_cluster_dropped_total", "counter", "Room events not sent to the other nodes: the link was down or past --cluster-max-queued.", cluster.dropped as f64),
            ("reactor_chat_cluster_received_total", "counter", "Room events received from the other nodes.", cluster.received as f64),
            ("reactor_chat_cluster_skipped_total", "counter", "Messages from other nodes not understood (a newer node's, or damaged).", cluster.skipped as f64),
            ("reactor_chat_cluster_reconnects_total", "counter", "Times the link to Redis was made again after it was lost.", link.reconnects as f64),
            ("reactor_chat_cluster_nick_conflicts_total", "counter", "Names of this node's users that another node granted while this node's claims had lapsed (cut off from Redis longer than they live); the earlier claim keeps the name and the other user is renamed.", cluster.claim_conflicts as f64),
            ("reactor_chat_cluster_sessions_moved_in_total", "counter", "Sessions resumed here with a resume key another node held.", chat.moved_in as f64),
            ("reactor_chat_cluster_sessions_moved_away_total", "counter", "Sessions let go to another node, resumed there with their resume key.", chat.moved_away as f64),
            ("reactor_chat_cluster_queued_bytes", "gauge", "Bytes of commands waiting to be written to Redis.", link.queued_bytes as f64),
            // The lag of an event is its arrival here less its time on the node it happened on
            // (so it includes the clocks' difference); sum over count is the mean.
            ("reactor_chat_cluster_lag_seconds_total", "counter", "Seconds between received events' times and their arrival, summed (divide by reactor_chat_cluster_received_total).", cluster.lag_ms_sum as f64 / 1000.0),
        ];
        for (name, kind, help, value) in figures {
            metric(&mut out, name, kind, help, &[("", value)]);
        }
    }
    labelled(
        &mut out,
        "reactor_chat_disconnects_total",
        "counter",
        "Connections removed, by reason.",
        &disconnect_labels,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shutdown_line_is_key_value_fields() {
        let mut stats = ReactorStats {
            accepted: 3,
            busy: Duration::from_millis(1500),
            ..ReactorStats::default()
        };
        stats.disconnects.insert("closed", 2);
        let line = stats.to_string();
        assert!(line.starts_with("accepted=3 refused_full=0 "), "{line}");
        assert!(
            line.contains(" busy_ms=1500") && line.ends_with(" disconnects.closed=2"),
            "{line}"
        );
        assert!(
            line.split(' ').all(|field| field.split_once('=').is_some()),
            "{line}"
        );
    }
}
