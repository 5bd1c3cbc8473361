//! The reactor-chat server binary: parse flags, set up logging and limits, run the reactor.

use std::io::Write;
use std::process::ExitCode;

use log::{error, info};

use reactor_chat::config::{self, Config};
use reactor_chat::data_dir::DataDirLock;
use reactor_chat::reactor::Reactor;
use reactor_chat::storage::{self, store::Store};

fn main() -> ExitCode {
    let cfg = match config::file::load(std::env::args_os()) {
        Ok(config::file::Loaded::Run(cfg)) => *cfg,
        Ok(config::file::Loaded::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(config::file::LoadError::Cli(e)) => e.exit(),
        Err(config::file::LoadError::File(why)) => {
            eprintln!("reactor-chat: {why}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = reactor_chat::logging::init(
        cfg.log_level.to_filter(),
        cfg.log_file.as_deref(),
        cfg.log_format,
    ) {
        eprintln!("reactor-chat: cannot open the log file: {e}");
        return ExitCode::FAILURE;
    }
    match run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error:% = e; "stopped with an error");
            eprintln!("reactor-chat: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut cfg: Config) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(config::Task::HashPassword) = &cfg.task {
        let mut password = String::new();
        std::io::stdin().read_line(&mut password)?;
        let password = password.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            return Err("no password on standard input".into());
        }
        println!("{}", config::hash_password(password)?);
        return Ok(());
    }
    if let Some(config::Task::Backup { file }) = &cfg.task {
        let lines = Store::backup(&cfg.data_dir, file)
            .map_err(|e| format!("cannot back up {}: {e}", cfg.data_dir.display()))?;
        println!("backed up {lines} lines to {}", file.display());
        return Ok(());
    }
    reactor_chat::system::raise_open_files_limit();
    // Before the admin key and the database are touched, so that a second server on this
    // directory stops here. Declared before the store and the reactor, it is dropped after them:
    // the lock is held until the storage thread has committed its last batch.
    // `backup` (it only reads) and `--ephemeral` (it writes nothing) take no lock.
    let _data_dir_lock = if cfg.ephemeral {
        None
    } else {
        Some(DataDirLock::acquire(&cfg.data_dir)?)
    };
    if let Some(url) = &cfg.cluster {
        // Before anyone is served: every message id this node makes carries the id.
        let url: reactor_chat::cluster::redis::RedisUrl = url.parse()?;
        let claim = reactor_chat::cluster::claim::claim(&url, cfg.node_id, cfg.cluster_timeout())?;
        info!(node = claim.node, redis:% = url; "cluster: node id claimed");
        cfg.node_id = Some(claim.node);
        cfg.cluster_claim = Some(claim.secret);
    }
    let origin = config::admin_key::resolve(&mut cfg)?;
    log_admin_key(&cfg, origin);
    // Bans, topics and operators are kept even without history: only --ephemeral keeps nothing.
    let store = if cfg.ephemeral {
        info!("--ephemeral: nothing is written to disk; history, bans, topics and operators last until the server stops");
        None
    } else {
        let dir = &cfg.data_dir;
        let store = Store::open(dir)
            .map_err(|e| format!("cannot open the history in {}: {e}", dir.display()))?;
        let file = dir.join(storage::store::FILE_NAME);
        if cfg.no_history {
            info!(file:% = file.display(); "no history (--no-history); bans, topics and operators kept");
        } else {
            info!(file:% = file.display(); "history (with the bans, topics and operators kept across restarts)");
        }
        Some(store)
    };
    // A bind error names the listener and its address (`reactor::listen`).
    let mut reactor = Reactor::bind_with_store(cfg, store).map_err(|e| e.to_string())?;
    let listening = reactor.listening();
    for (kind, addr) in &listening {
        info!(kind:% = kind, address:% = addr; "listening");
    }
    // Scripts and tests read the first line to learn the chat port when --bind asks for port 0:
    // it is always a chat listener's.
    let mut stdout = std::io::stdout();
    for (_, addr) in &listening {
        writeln!(stdout, "reactor-chat listening on {addr}")?;
    }
    stdout.flush()?;
    reactor.run()?;
    reactor_chat::logging::info_fields("stopped", &reactor.stats.fields());
    Ok(())
}

/// Says where the admin key is; the key itself only when it is nowhere else (`--ephemeral`).
fn log_admin_key(cfg: &Config, origin: config::admin_key::Origin) {
    use config::admin_key::Origin;
    match origin {
        Origin::Configured => info!("operators: /op with the configured admin key"),
        Origin::None => {
            info!("operators: no admin key; the first user of an empty server is operator (--first-user-op)")
        }
        Origin::Created(path) => info!(
            file:% = path.display();
            "operators: a new admin key (/op KEY; --admin-key chooses one)"
        ),
        Origin::Reused(path) => info!(file:% = path.display(); "operators: the admin key"),
        Origin::InMemory => log::warn!(
            admin_key = cfg.generated_admin_key.as_deref().unwrap_or_default();
            "operators: the admin key until this server stops (--ephemeral keeps it nowhere)"
        ),
    }
}
