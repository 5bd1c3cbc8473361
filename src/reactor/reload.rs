//! SIGHUP: reloading the configuration while serving (`config::reload` says what is live).
//!
//! The command line and the `--config` file are read again exactly as at start, so flags given
//! on the command line keep their values. Nothing changes unless the whole file is good (its
//! word list included); then the live settings take effect at once (a lowered cap applies to
//! new connections; nobody above it is cut off), the log file is reopened for logrotate, and one
//! log line says what changed and what needs a restart.

use std::sync::Arc;

use log::{info, warn};

use super::flood::FloodLimits;
use super::outqueue::QueueLimits;
use super::{accept, Reactor};
use crate::chat::game::words::WordBank;
use crate::chat::ChatSettings;
use crate::config::admin_key::Origin;
use crate::config::file::{self, LoadError, Loaded};
use crate::config::reload;

impl Reactor {
    pub(super) fn reload(&mut self) {
        let reloaded = match file::load(std::env::args_os()) {
            Ok(Loaded::Run(cfg)) => *cfg,
            // --check-config and --print-config never start a server.
            Ok(Loaded::Print(_)) => return,
            Err(LoadError::File(why)) => return warn!(why; "reload refused, nothing changed"),
            Err(LoadError::Cli(e)) => {
                let why = e.to_string();
                let why = why.lines().next().unwrap_or_default();
                return warn!(why; "reload refused, nothing changed");
            }
        };
        let words = if reloaded.words == self.cfg.words {
            self.chat.words()
        } else {
            match WordBank::load(reloaded.words.as_deref()) {
                Ok(words) => Arc::new(words),
                Err(e) => return warn!(why:% = e; "reload refused, nothing changed"),
            }
        };
        let mut cfg = self.cfg.clone();
        let merged = reload::merge(&mut cfg, reloaded);
        if cfg.effective_admin_key().is_none() && !cfg.first_user_op {
            // The configured key was taken away: somebody must still be able to become an
            // operator, with the generated key (made, or read from the data dir, as at start).
            match crate::config::admin_key::resolve(&mut cfg) {
                Ok(Origin::Created(file) | Origin::Reused(file)) => {
                    info!(file:% = file.display(); "reload: the admin key is the generated one");
                }
                Ok(_) => warn!(
                    admin_key = cfg.generated_admin_key.as_deref().unwrap_or_default();
                    "reload: the admin key until this server stops (--ephemeral keeps it nowhere)"
                ),
                Err(e) => return warn!(why:% = e; "reload refused, nothing changed"),
            }
        }
        if let Err(e) = crate::logging::reopen(
            cfg.log_file.as_deref(),
            cfg.log_level.to_filter(),
            cfg.log_format,
        ) {
            warn!(error:% = e; "reload: cannot open the log file; the old one stays");
        }
        self.cfg = cfg;
        self.apply_limits();
        self.reload_certificates();
        let mut settings = ChatSettings::from_config(&self.cfg);
        settings.history_enabled = self.storage.is_some() && !self.cfg.no_history;
        settings.words = words;
        self.chat.replace_settings(settings);
        self.stats.reloads += 1;
        info!(
            changed = merged.applied.join(","),
            need_restart = merged.need_restart.join(",");
            "reloaded (flags on the command line keep their values)"
        );
    }

    /// Reads the TLS certificate again (renewed files keep their names, so it is read whether or
    /// not the paths changed): new handshakes take it, sessions under way keep theirs. A file
    /// that cannot be used leaves the old certificate in place.
    fn reload_certificates(&mut self) {
        match super::load_tls(&self.cfg) {
            Ok(config) => {
                if config.is_some() && self.cfg.public_url.is_none() {
                    // TLS turned on by this reload: links follow each connection's scheme.
                    self.links_per_conn = true;
                }
                self.tls_config = config;
            }
            Err(e) => warn!(error:% = e; "TLS certificate not reloaded; the old one stays"),
        }
    }

    /// The limits the reactor keeps outside `cfg`, from `cfg` (at start and after a reload).
    fn apply_limits(&mut self) {
        let cfg = &self.cfg;
        self.limits = QueueLimits {
            hard: cfg.max_queue,
            soft: cfg.soft_queue,
            soft_for: cfg.soft_queue_time(),
        };
        self.flood = FloodLimits {
            rate: cfg.rate.max(0.0),
            burst: f64::from(cfg.burst),
            kick_after: cfg.flood_kick(),
        };
        let nofile = rlimit::Resource::NOFILE
            .get()
            .map_or(1024, |(soft, _)| soft);
        self.max_clients = cfg.max_clients_for(nofile, accept::REFUSED_SLACK);
        self.unregistered
            .set_caps(cfg.max_unregistered, cfg.max_unregistered_per_ip);
    }
}
