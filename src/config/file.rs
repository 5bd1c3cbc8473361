//! The configuration file (`--config FILE`): TOML whose keys are the flags' long names, with the
//! same values and meanings (`max-clients = 5000`, `no-history = true`, `lang = "ko"`).
//!
//! The flags are the one definition: a file's entries become flags placed *before* the command
//! line's, and clap parses both with later occurrences overriding earlier ones, so a flag given on
//! the command line always wins and every value is checked by the same parser. A repeatable flag
//! (`bind`, `listen`, `trusted-proxy`) is a list in the file (`bind = [":8080", "[::1]:9000"]`;
//! `listen` as `[[listen]]` tables); given on the command line, its list replaces the file's.
//! `$STATE_DIRECTORY` (systemd's `StateDirectory=`) becomes a `--data-dir` placed before both, the
//! default that a file or the command line overrides, and that `--print-config` shows. A file is
//! first parsed on its own, so a bad value is reported with the file, line and key rather than as a
//! flag the user never typed. `--print-config` prints the effective configuration in the same form
//! (it loads back), and [`example`] renders the commented sample `reactor-chat.example.toml` from
//! the flags' own help and defaults (a test keeps the checked-in file equal to it).
//!
//! Secrets (`admin-key`) can come from a file (`--admin-key-file`) or the environment
//! (`REACTOR_CHAT_ADMIN_KEY`) instead of argv; a configuration file that holds one and that
//! others may read is refused (`acl` tells an ACL that lets only the server in, as systemd's
//! `LoadCredential=` makes, from one that lets others in).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::Path;

use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use super::Config;

mod acl;
mod tables;

use tables::{is_array_of_tables, listen_flags};

/// What the command line asks for.
#[derive(Debug)]
pub enum Loaded {
    /// Run the server with this configuration.
    Run(Box<Config>),
    /// Print this and exit successfully (`--check-config`, `--print-config`).
    Print(String),
}

/// Flags that are about the configuration itself, not settings: never keys of a file.
const NOT_KEYS: [&str; 5] = ["config", "check-config", "print-config", "help", "version"];

/// Settings never printed: `--print-config` shows that they are set, not their value.
const SECRETS: [&str; 1] = ["admin-key"];

/// Parses the command line and the `--config` file it names, if any.
///
/// # Errors
///
/// clap's own error for a bad command line (which also carries `--help` and `--version`), or a
/// message naming the file, line and key of a bad file.
pub fn load<I, T>(args: I) -> Result<Loaded, LoadError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    load_with_state_directory(args, std::env::var_os(super::STATE_DIRECTORY).as_deref())
}

/// [`load`] with `$STATE_DIRECTORY`'s value given instead of read from the environment.
fn load_with_state_directory<I, T>(
    args: I,
    state_directory: Option<&OsStr>,
) -> Result<Loaded, LoadError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let on_cli = command()
        .try_get_matches_from(&cli)
        .map_err(LoadError::Cli)?;
    let first = Config::from_arg_matches(&on_cli).map_err(LoadError::Cli)?;
    let mut file_args = Vec::new();
    if let Some(path) = &first.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::File(format!("{}: {e}", path.display())))?;
        file_args = flags_of(path, &text)?;
        // The file on its own, so that its mistakes are named as the file's.
        let mut alone = vec![OsString::from("reactor-chat")];
        alone.extend(file_args.iter().map(|(_, flag)| OsString::from(flag)));
        if let Err(e) = command().try_get_matches_from(&alone) {
            return Err(LoadError::File(blame(path, &text, &file_args, &e)));
        }
        // A repeatable flag adds up its occurrences: given on the command line, its list
        // replaces the file's, as any other flag's value does.
        file_args.retain(|(key, _)| !given_on_command_line(&on_cli, key));
    }
    let mut argv = vec![cli
        .first()
        .cloned()
        .unwrap_or_else(|| "reactor-chat".into())];
    if let Some(dir) = super::data_dir_from_state_directory(state_directory) {
        let mut flag = OsString::from("--data-dir=");
        flag.push(dir);
        argv.push(flag);
    }
    argv.extend(file_args.iter().map(|(_, flag)| OsString::from(flag)));
    argv.extend(cli.iter().skip(1).cloned());
    let matches = command()
        .try_get_matches_from(&argv)
        .map_err(LoadError::Cli)?;
    let mut cfg = Config::from_arg_matches(&matches).map_err(LoadError::Cli)?;
    read_secret_files(&mut cfg)?;
    check_combinations(&cfg)?;
    if cfg.print_config {
        return Ok(Loaded::Print(effective(&matches, &cfg)));
    }
    if cfg.check_config {
        let what = cfg
            .config
            .as_ref()
            .map_or("the command line".to_string(), |p| p.display().to_string());
        return Ok(Loaded::Print(format!("configuration OK: {what}\n")));
    }
    Ok(Loaded::Run(Box::new(cfg)))
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The command line: clap's error, printed and exited as clap does (help, version included).
    Cli(clap::Error),
    /// The file or a secret file: a message naming it.
    File(String),
}

/// Whether the command line (parsed alone) gives the flag named `long`.
fn given_on_command_line(on_cli: &ArgMatches, long: &str) -> bool {
    let cmd = Config::command();
    let given = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .is_some_and(|a| {
            on_cli.value_source(a.get_id().as_str()) == Some(clap::parser::ValueSource::CommandLine)
        });
    given
}

/// The flags' definition, with a flag given twice taking its last value (the file's come first).
fn command() -> clap::Command {
    Config::command().args_override_self(true)
}

/// The file's entries as flags (`--max-clients=5000`), each with the key it came from, in the
/// file's order.
fn flags_of(path: &Path, text: &str) -> Result<Vec<(String, String)>, LoadError> {
    let at = |offset: usize| line_of(text, offset);
    let table: BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>> = toml::from_str(text)
        .map_err(|e| {
        let line = e
            .span()
            .map_or(String::new(), |s| format!(":{}", at(s.start)));
        LoadError::File(format!("{}{line}: {}", path.display(), e.message()))
    })?;
    let cmd = Config::command();
    let mut entries: Vec<_> = table.into_iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    let mut flags = Vec::new();
    for (key, value) in entries {
        let line = at(key.span().start);
        let name = key.get_ref().as_str();
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(name) && !NOT_KEYS.contains(&name));
        let Some(arg) = arg else {
            return Err(LoadError::File(format!(
                "{}:{line}: unknown key `{name}` (the keys are the flags' names, as `reactor-chat --help` lists them)",
                path.display()
            )));
        };
        if SECRETS.contains(&name) {
            refuse_if_others_can_read(path, name)?;
        }
        let bad =
            |what: &str| LoadError::File(format!("{}:{line}: {name}: {what}", path.display()));
        if name == "listen" && is_array_of_tables(value.get_ref()) {
            flags.extend(
                listen_flags(path, text)?
                    .into_iter()
                    .map(|f| (name.to_string(), f)),
            );
            continue;
        }
        if let (toml::Value::Array(items), ArgAction::Append) = (value.get_ref(), arg.get_action())
        {
            // A repeatable flag: each item is one occurrence (`bind = [":8080", "[::1]:9000"]`).
            for item in items {
                let item = match item {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(n) => n.to_string(),
                    _ => return Err(bad("expected strings or numbers in the list")),
                };
                flags.push((name.to_string(), format!("--{name}={item}")));
            }
            continue;
        }
        let flag = match (value.get_ref(), arg.get_action()) {
            (toml::Value::Boolean(on), ArgAction::SetTrue) => on.then(|| format!("--{name}")),
            (_, ArgAction::SetTrue) => return Err(bad("expected true or false")),
            (toml::Value::String(s), _) => Some(format!("--{name}={s}")),
            (toml::Value::Integer(n), _) => Some(format!("--{name}={n}")),
            (toml::Value::Float(x), _) => Some(format!("--{name}={x}")),
            (toml::Value::Boolean(_), _) => return Err(bad("expected a value, not true or false")),
            _ => return Err(bad("expected a string or a number")),
        };
        if let Some(flag) = flag {
            flags.push((name.to_string(), flag));
        }
    }
    Ok(flags)
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// clap's complaint about the file's flags, as a complaint about the file's key and line.
fn blame(path: &Path, text: &str, flags: &[(String, String)], e: &clap::Error) -> String {
    let message = e.to_string();
    let first = message
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_string();
    let key = flags
        .iter()
        .rev()
        .find(|(key, _)| message.contains(&format!("--{key}")))
        .map(|(key, _)| key.as_str());
    match key {
        Some(key) => {
            let line = text
                .lines()
                .position(|l| {
                    l.trim_start()
                        .strip_prefix(key)
                        .is_some_and(|r| r.trim_start().starts_with('='))
                })
                .map_or(String::new(), |i| format!(":{}", i + 1));
            format!("{}{line}: {key}: {first}", path.display())
        }
        None => format!("{}: {first}", path.display()),
    }
}

/// A file that holds a secret must not be readable by others: mode 0600 or stricter, or an ACL
/// that lets in only its owner and the user the server runs as (a systemd credential).
pub(super) fn refuse_if_others_can_read(path: &Path, key: &str) -> Result<(), LoadError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| LoadError::File(format!("{}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 && !acl::only_owner_and_me(path) {
            return Err(LoadError::File(format!(
                "{} holds {key} and others may read it (mode {:o}): chmod 600 it, or give the key with --admin-key-file or REACTOR_CHAT_ADMIN_KEY",
                path.display(),
                mode & 0o777
            )));
        }
    }
    Ok(())
}

/// Settings that are each good but cannot go together.
fn check_combinations(cfg: &Config) -> Result<(), LoadError> {
    if cfg.tls_cert.is_none() && cfg.listen.iter().any(|l| l.kind.is_tls_only()) {
        return Err(LoadError::File(
            "a tls listener needs a certificate: give --tls-cert and --tls-key".into(),
        ));
    }
    if cfg.tls_cert.is_some() && cfg.greet_delay_ms == 0 {
        // A TLS client speaks first; greeting at once would put clear text before its handshake.
        return Err(LoadError::File(
            "--greet-delay-ms 0 greets before a TLS client can say it is one: give it at least \
             a few milliseconds with --tls-cert"
                .into(),
        ));
    }
    Ok(())
}

/// `--admin-key-file`: the key is the file's first line; the file must be private too.
fn read_secret_files(cfg: &mut Config) -> Result<(), LoadError> {
    let Some(path) = cfg.admin_key_file.clone() else {
        return Ok(());
    };
    if cfg.admin_key.is_some() {
        return Err(LoadError::File(
            "give the admin key once: --admin-key (or REACTOR_CHAT_ADMIN_KEY) or --admin-key-file"
                .into(),
        ));
    }
    refuse_if_others_can_read(&path, "the admin key")?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LoadError::File(format!("{}: {e}", path.display())))?;
    let key = text.lines().next().unwrap_or("").trim().to_string();
    if key.is_empty() {
        return Err(LoadError::File(format!(
            "{}: the admin key file is empty",
            path.display()
        )));
    }
    cfg.admin_key = Some(key);
    Ok(())
}

/// The keys a file can set, in `--help`'s order.
fn keys(cmd: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    cmd.get_arguments()
        .filter(|a| a.get_long().is_some_and(|long| !NOT_KEYS.contains(&long)))
}

/// A TOML value for a flag's raw value: numbers bare, everything else a string.
fn toml_value(raw: &str) -> String {
    if raw.parse::<i64>().is_ok() || (raw.parse::<f64>().is_ok() && raw.contains('.')) {
        raw.to_string()
    } else {
        toml::Value::String(raw.to_string()).to_string()
    }
}

/// The first sentence of a flag's help, as a comment line.
fn summary(arg: &clap::Arg) -> String {
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    help.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `--print-config`: every key with its effective value (defaults included), a file that loads
/// back; a secret is shown as set, never its value.
fn effective(matches: &ArgMatches, cfg: &Config) -> String {
    let cmd = Config::command();
    let mut out =
        String::from("# reactor-chat's effective configuration (reactor-chat --print-config).\n");
    for arg in keys(&cmd) {
        let id = arg.get_id().as_str();
        let long = arg.get_long().unwrap_or(id);
        if SECRETS.contains(&long) {
            let set = if cfg.admin_key.is_some() {
                "set"
            } else {
                "not set"
            };
            let _ = writeln!(out, "# {long}: {set} (never printed; give it with admin-key-file or REACTOR_CHAT_ADMIN_KEY)");
            continue;
        }
        match arg.get_action() {
            ArgAction::SetTrue => {
                let _ = writeln!(out, "{long} = {}", matches.get_flag(id));
            }
            // Tables go after every top-level key (below).
            _ if long == "listen" => {}
            ArgAction::Append => {
                let raws: Vec<String> = matches
                    .get_raw(id)
                    .into_iter()
                    .flatten()
                    .map(|raw| toml_value(&raw.to_string_lossy()))
                    .collect();
                match raws.as_slice() {
                    [] if long == "bind" && cfg.listen.iter().all(|l| !l.kind.is_chat()) => {
                        let default = super::default_bind();
                        let _ =
                            writeln!(out, "# {long} = (not set: the chat listens on {default})");
                    }
                    [] => {
                        let _ = writeln!(out, "# {long} = (not set)");
                    }
                    [one] => {
                        let _ = writeln!(out, "{long} = {one}");
                    }
                    many => {
                        let _ = writeln!(out, "{long} = [{}]", many.join(", "));
                    }
                }
            }
            _ => match matches.get_raw(id).and_then(|mut v| v.next()) {
                // The cluster's URL may hold Redis's password: shown with it masked, as a
                // comment (it would not load back).
                Some(raw) if long == "cluster" && raw.to_string_lossy().contains('@') => {
                    let shown = raw
                        .to_string_lossy()
                        .parse::<crate::cluster::redis::RedisUrl>()
                        .map_or_else(|e| e, |url| url.to_string());
                    let _ = writeln!(
                        out,
                        "# {long} = {} (its password is never printed)",
                        toml_value(&shown)
                    );
                }
                Some(raw) => {
                    let raw = raw.to_string_lossy();
                    let _ = writeln!(out, "{long} = {}", toml_value(&raw));
                }
                None => {
                    let _ = writeln!(out, "# {long} = (not set)");
                }
            },
        }
    }
    for listen in &cfg.listen {
        let _ = write!(
            out,
            "\n[[listen]]\nkind = {}\naddress = {}\n",
            toml_value(listen.kind.name()),
            toml_value(&listen.address.to_string())
        );
    }
    out
}

/// The commented sample configuration (`reactor-chat.example.toml`): every key, commented out
/// at its default, under its help text.
pub fn example() -> String {
    let cmd = Config::command();
    let mut out = String::from(
        "# reactor-chat.example.toml: every setting, commented out at its default.\n\
         # Use it with `reactor-chat --config FILE`; flags on the command line override it.\n\
         # Generated from the flags' definitions (`reactor-chat --help` says the same).\n",
    );
    let mut tables = String::new();
    for arg in keys(&cmd) {
        let long = arg.get_long().unwrap_or_default();
        if long == "listen" {
            // Tables come after every top-level key, in a file as here.
            tables.push('\n');
            for line in wrap(&summary(arg), 98) {
                let _ = writeln!(tables, "# {line}");
            }
            tables.push_str(
                "# [[listen]]\n# kind = \"chat\"\n# address = \":8080\"\n#\n\
                 # [[listen]]\n# kind = \"metrics\"\n# address = \"127.0.0.1:9100\"\n",
            );
            continue;
        }
        out.push('\n');
        for line in wrap(&summary(arg), 98) {
            let _ = writeln!(out, "# {line}");
        }
        let default = arg
            .get_default_values()
            .first()
            .map(|v| v.to_string_lossy().to_string())
            // --bind's default is not clap's: it gives way to a chat --listen.
            .or_else(|| (long == "bind").then(|| super::default_bind().to_string()));
        match (arg.get_action(), default) {
            (ArgAction::SetTrue, _) => {
                let _ = writeln!(out, "#{long} = false");
            }
            (_, Some(default)) => {
                let _ = writeln!(out, "#{long} = {}", toml_value(&default));
            }
            (_, None) => {
                let placeholder = arg
                    .get_value_names()
                    .and_then(|names| names.first())
                    .map_or_else(|| long.to_uppercase(), ToString::to_string);
                let _ = writeln!(out, "#{long} = \"{placeholder}\" # not set by default");
            }
        }
    }
    out.push_str(&tables);
    out
}

/// Words of `text` in lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests;
