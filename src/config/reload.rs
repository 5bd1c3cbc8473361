//! What a reload (SIGHUP) may change while the server runs, and what needs a restart.
//!
//! Every setting is named once in [`merge`], which destructures the whole configuration: adding
//! a flag does not compile until it is placed on one side. Live settings are read where they
//! are used (limits, timeouts, texts) or copied into the reactor and the chat core by the
//! reload; the others (sockets, the data directory, sizes of structures already built) keep
//! the values the server started with until it restarts.

use super::Config;

/// The outcome of merging a reloaded configuration into the running one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// Live settings whose value changed (their keys).
    pub applied: Vec<&'static str>,
    /// Settings that changed in the file but keep their running value until a restart.
    pub need_restart: Vec<&'static str>,
}

/// Takes into `running` the live settings of `reloaded`, leaving the others as they are, and
/// says which changed on each side.
pub fn merge(running: &mut Config, reloaded: Config) -> Merged {
    let mut merged = Merged::default();
    // The whole configuration, field by field: `live!` takes the new value, `restart!` keeps the
    // running one and notes the change.
    let Config {
        task: _,
        config: _,
        check_config: _,
        print_config: _,
        bind,
        tls_cert,
        tls_key,
        tls_only,
        tls_handshake_timeout,
        max_tls_handshakes,
        listen,
        reuse_port,
        metrics_allow,
        log_level,
        log_format,
        log_file,
        lang,
        utc,
        rules,
        max_clients,
        max_unregistered,
        max_unregistered_per_ip,
        max_output_memory,
        trusted_proxy,
        proxy_protocol,
        max_per_ip,
        limit_loopback,
        max_line,
        max_login_line,
        login_timeout,
        idle_timeout,
        keepalive,
        grace,
        replay_max,
        recent_bytes,
        recent_rooms,
        held_own_bytes,
        max_held_per_ip,
        max_held,
        presence_max_room,
        max_rooms_per_user,
        max_targets,
        oper_interval_ms,
        presence_summary_secs,
        presence_rate,
        max_queue,
        soft_queue,
        soft_queue_secs,
        greet_delay_ms,
        linger_ms,
        shutdown_timeout,
        backlog,
        accept_batch,
        admin_key,
        admin_key_file,
        first_user_op,
        max_op_grants,
        reserved_nicks,
        max_schedules,
        schedule_horizon,
        rate,
        burst,
        flood_kick_secs,
        max_file,
        file_store,
        max_uploads_per_ip,
        max_uploads,
        file_ttl,
        auto_accept_max,
        public_url,
        server_name,
        network_name,
        irc_oper,
        max_http_head,
        hint_interval,
        words,
        invite_ttl,
        clock_offset,
        data_dir,
        no_history,
        ephemeral,
        max_kept_topics,
        flush_ms,
        history_days,
        history_max_waiting,
        index_defer_above,
        max_unindexed,
        search_max_unindexed,
        search_max_examined,
        backlog_lines,
        cluster,
        node_id,
        cluster_timeout,
        cluster_max_queued,
        // Claimed at start: the running value stays.
        cluster_claim: _,
        // Made at start when no key is configured: the running value stays.
        generated_admin_key: _,
    } = reloaded;
    macro_rules! live {
        ($($field:ident => $key:literal),* $(,)?) => {$(
            if format!("{:?}", running.$field) != format!("{:?}", $field) {
                merged.applied.push($key);
                running.$field = $field;
            }
        )*};
    }
    macro_rules! restart {
        ($($field:ident => $key:literal),* $(,)?) => {$(
            if format!("{:?}", running.$field) != format!("{:?}", $field) {
                merged.need_restart.push($key);
            }
        )*};
    }
    live! {
        tls_cert => "tls-cert",
        tls_key => "tls-key",
        tls_only => "tls-only",
        tls_handshake_timeout => "tls-handshake-timeout",
        max_tls_handshakes => "max-tls-handshakes",
        log_level => "log-level",
        log_format => "log-format",
        log_file => "log-file",
        rules => "rules",
        max_clients => "max-clients",
        max_unregistered => "max-unregistered",
        max_unregistered_per_ip => "max-unregistered-per-ip",
        max_output_memory => "max-output-memory",
        max_per_ip => "max-per-ip",
        trusted_proxy => "trusted-proxy",
        metrics_allow => "metrics-allow",
        proxy_protocol => "proxy-protocol",
        limit_loopback => "limit-loopback",
        max_line => "max-line",
        max_login_line => "max-login-line",
        login_timeout => "login-timeout",
        idle_timeout => "idle-timeout",
        keepalive => "keepalive",
        grace => "grace",
        held_own_bytes => "held-own-bytes",
        max_held_per_ip => "max-held-per-ip",
        max_held => "max-held",
        presence_max_room => "presence-max-room",
        presence_summary_secs => "presence-summary-secs",
        presence_rate => "presence-rate",
        max_queue => "max-queue",
        soft_queue => "soft-queue",
        soft_queue_secs => "soft-queue-secs",
        greet_delay_ms => "greet-delay-ms",
        linger_ms => "linger-ms",
        shutdown_timeout => "shutdown-timeout",
        accept_batch => "accept-batch",
        admin_key => "admin-key",
        admin_key_file => "admin-key-file",
        first_user_op => "first-user-op",
        reserved_nicks => "reserved-nicks",
        max_schedules => "max-schedules",
        schedule_horizon => "schedule-horizon",
        rate => "rate",
        burst => "burst",
        flood_kick_secs => "flood-kick-secs",
        max_uploads_per_ip => "max-uploads-per-ip",
        max_uploads => "max-uploads",
        file_ttl => "file-ttl",
        auto_accept_max => "auto-accept-max",
        max_http_head => "max-http-head",
        hint_interval => "hint-interval",
        words => "words",
        invite_ttl => "invite-ttl",
        backlog_lines => "backlog-lines",
        irc_oper => "irc-oper",
        max_rooms_per_user => "max-rooms-per-user",
        oper_interval_ms => "oper-interval-ms",
    }
    // Sockets, the data directory and its thread, the sizes of rings and stores already built,
    // and what every rendered line already depends on.
    restart! {
        bind => "bind",
        listen => "listen",
        reuse_port => "reuse-port",
        lang => "lang",
        utc => "utc",
        replay_max => "replay-max",
        recent_bytes => "recent-bytes",
        recent_rooms => "recent-rooms",
        backlog => "backlog",
        max_file => "max-file",
        file_store => "file-store",
        public_url => "public-url",
        server_name => "server-name",
        max_targets => "max-targets",
        network_name => "network-name",
        clock_offset => "clock-offset",
        data_dir => "data-dir",
        no_history => "no-history",
        ephemeral => "ephemeral",
        max_kept_topics => "max-kept-topics",
        max_op_grants => "max-op-grants",
        flush_ms => "flush-ms",
        history_days => "history-days",
        history_max_waiting => "history-max-waiting",
        index_defer_above => "index-defer-above",
        max_unindexed => "max-unindexed",
        search_max_unindexed => "search-max-unindexed",
        search_max_examined => "search-max-examined",
        cluster => "cluster",
        node_id => "node-id",
        cluster_timeout => "cluster-timeout",
        cluster_max_queued => "cluster-max-queued",
    }
    merged
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn cfg(args: &[&str]) -> Config {
        let mut argv = vec!["reactor-chat"];
        argv.extend(args);
        Config::parse_from(argv)
    }

    #[test]
    fn live_settings_are_taken_and_the_others_kept_and_named() {
        let mut running = cfg(&["--rate", "20", "--bind", "127.0.0.1:8080"]);
        let merged = merge(
            &mut running,
            cfg(&[
                "--rate",
                "5",
                "--rules",
                "new rules",
                "--bind",
                "0.0.0.0:9000",
            ]),
        );
        assert_eq!(merged.applied, ["rules", "rate"]);
        assert_eq!(merged.need_restart, ["bind"]);
        assert!((running.rate - 5.0).abs() < f64::EPSILON);
        assert_eq!(running.rules.as_deref(), Some("new rules"));
        assert_eq!(
            running.bind[0].to_string(),
            "127.0.0.1:8080",
            "kept until a restart"
        );
        // Listeners are sockets (a restart); who may read /metrics is live.
        let merged = merge(
            &mut running,
            cfg(&[
                "--rate",
                "5",
                "--rules",
                "new rules",
                "--bind",
                "127.0.0.1:8080",
                "--listen",
                "metrics=127.0.0.1:9100",
                "--metrics-allow",
                "10.0.0.0/8",
            ]),
        );
        assert_eq!(merged.applied, ["metrics-allow"]);
        assert_eq!(merged.need_restart, ["listen"]);
        assert_eq!(running.metrics_allow.len(), 1);
        assert!(running.listen.is_empty(), "kept until a restart");
        let unchanged = merge(&mut running.clone(), running.clone());
        assert_eq!(unchanged, Merged::default());
    }
}
