//! The configuration file: loading, overriding, refusing, printing back, the sample.

use std::ffi::OsStr;
use std::path::PathBuf;

use super::*;

/// A private temporary file holding `text` (mode 0600, as a file with a secret must be).
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("reactor-chat-cfg-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("reactor-chat.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        TempFile(path)
    }

    fn arg(&self) -> String {
        format!("--config={}", self.0.display())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

/// Loads `args` as if `$STATE_DIRECTORY` were unset, whatever the environment of the tests.
fn run(args: &[&str]) -> Config {
    let mut argv = vec!["reactor-chat"];
    argv.extend(args);
    match load_with_state_directory(argv, None) {
        Ok(Loaded::Run(cfg)) => *cfg,
        other => panic!("{other:?}"),
    }
}

fn refusal(args: &[&str]) -> String {
    let mut argv = vec!["reactor-chat"];
    argv.extend(args);
    match load_with_state_directory(argv, None) {
        Err(LoadError::File(why)) => why,
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_are_the_flags_names_and_the_command_line_wins() {
    let file = TempFile::new(
        "keys",
        "max-clients = 5000\nlang = \"ko\"\nno-history = true\nrate = 2.5\nclock-offset = -60\n",
    );
    let cfg = run(&[&file.arg()]);
    assert_eq!(cfg.max_clients, Some(5000));
    assert_eq!(cfg.lang, crate::config::Lang::Ko);
    assert!(cfg.no_history);
    assert!((cfg.rate - 2.5).abs() < f64::EPSILON);
    assert_eq!(cfg.clock_offset, -60);
    let cfg = run(&[&file.arg(), "--max-clients", "7", "--lang", "en"]);
    assert_eq!(
        (cfg.max_clients, cfg.lang),
        (Some(7), crate::config::Lang::En)
    );
    // A flag before --config is still the command line's.
    let cfg = run(&["--max-clients=9", &file.arg()]);
    assert_eq!(cfg.max_clients, Some(9));
}

#[test]
fn unknown_keys_and_bad_values_name_the_file_line_and_key() {
    let file = TempFile::new("bad", "grace = 30\n\nmax-client = 5\n");
    let why = refusal(&[&file.arg()]);
    assert!(why.ends_with(":3: unknown key `max-client` (the keys are the flags' names, as `reactor-chat --help` lists them)"), "{why}");
    let file = TempFile::new("value", "grace = 30\nmax-queue = \"lots\"\n");
    let why = refusal(&[&file.arg()]);
    assert!(why.contains(":2: max-queue: invalid value 'lots'"), "{why}");
    let file = TempFile::new("bool", "utc = 1\n");
    assert!(refusal(&[&file.arg()]).contains(":1: utc: expected true or false"));
    let file = TempFile::new("syntax", "grace = \n");
    assert!(
        refusal(&[&file.arg()]).contains(":1: "),
        "a TOML error names its line"
    );
    let file = TempFile::new("meta", "config = \"other.toml\"\n");
    assert!(refusal(&[&file.arg()]).contains("unknown key `config`"));
}

#[test]
fn print_config_loads_back_to_the_same_configuration() {
    let file = TempFile::new(
        "print",
        "grace = 30\nlang = \"ko\"\nrules = \"be nice \\\"really\\\"\"\n",
    );
    let printed = match load(["reactor-chat", &file.arg(), "--print-config", "--rate", "3"]) {
        Ok(Loaded::Print(text)) => text,
        other => panic!("{other:?}"),
    };
    assert!(
        printed.contains("grace = 30\n") && printed.contains("rate = 3\n"),
        "{printed}"
    );
    let again = TempFile::new("again", &printed);
    let a = run(&[&file.arg(), "--rate", "3"]);
    let b = run(&[&again.arg()]);
    assert_eq!(
        format!("{a:?}").replace(&file.0.display().to_string(), ""),
        format!("{b:?}").replace(&again.0.display().to_string(), "")
    );
}

#[test]
fn the_state_directory_is_the_data_dir_default_under_the_file_and_the_command_line() {
    let under_systemd = |args: &[&str]| {
        let mut argv = vec!["reactor-chat"];
        argv.extend(args);
        let state = OsStr::new("/var/lib/reactor-chat:/var/lib/more");
        match load_with_state_directory(argv, Some(state)) {
            Ok(Loaded::Run(cfg)) => cfg.data_dir.display().to_string(),
            Ok(Loaded::Print(text)) => text,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(under_systemd(&[]), "/var/lib/reactor-chat");
    let file = TempFile::new("state", "data-dir = \"/srv/chat\"\n");
    assert_eq!(under_systemd(&[&file.arg()]), "/srv/chat");
    assert_eq!(
        under_systemd(&[&file.arg(), "--data-dir", "/tmp/chat"]),
        "/tmp/chat"
    );
    let printed = under_systemd(&["--print-config"]);
    assert!(
        printed.contains("\ndata-dir = \"/var/lib/reactor-chat\"\n"),
        "{printed}"
    );
    assert_eq!(run(&[]).data_dir, PathBuf::from("./reactor-chat-data"));
}

#[test]
fn secrets_are_never_printed_and_a_file_with_one_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let file = TempFile::new("secret", "admin-key = \"s3cret\"\n");
    let printed = match load(["reactor-chat", &file.arg(), "--print-config"]) {
        Ok(Loaded::Print(text)) => text,
        other => panic!("{other:?}"),
    };
    assert!(
        !printed.contains("s3cret") && printed.contains("# admin-key: set"),
        "{printed}"
    );
    std::fs::set_permissions(&file.0, std::fs::Permissions::from_mode(0o644)).unwrap();
    let why = refusal(&[&file.arg()]);
    assert!(
        why.contains("holds admin-key and others may read it (mode 644): chmod 600"),
        "{why}"
    );
    // The key from a file of its own, which must be private too.
    let key = TempFile::new("keyfile", "k3y\n");
    let arg = format!("--admin-key-file={}", key.0.display());
    assert_eq!(run(&[&arg]).admin_key.as_deref(), Some("k3y"));
    std::fs::set_permissions(&key.0, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(refusal(&[&arg]).contains("others may read it"));
}

#[test]
fn the_checked_in_sample_is_the_one_the_flags_generate() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/reactor-chat.example.toml");
    let generated = example();
    if std::env::var_os("UPDATE_EXAMPLE").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "reactor-chat.example.toml differs from the flags; regenerate it with \
         UPDATE_EXAMPLE=1 cargo test --lib config::file"
    );
    // Uncommented, every key of the sample loads, at the defaults.
    let all: String = generated
        .lines()
        .filter_map(|l| {
            l.strip_prefix('#')
                .filter(|l| l.contains(" = ") && !l.starts_with(' '))
        })
        .filter(|l| !l.ends_with("# not set by default"))
        .map(|l| format!("{l}\n"))
        .collect();
    let file = TempFile::new("sample", &all);
    let cfg = run(&[&file.arg()]);
    assert_eq!(cfg.grace, 120);
}

#[test]
fn listen_tables_become_listeners_and_the_command_lines_lists_replace_the_files() {
    use crate::config::{ListenAddr, ListenKind};
    let file = TempFile::new(
        "listen",
        "bind = [\":8080\", \"localhost:8081\"]\n\n[[listen]]\nkind = \"metrics\"\naddress = \"127.0.0.1:9100\"\n\n[[listen]]\naddress = \"[::]:8082\"\nkind = \"chat\"\n",
    );
    let cfg = run(&[&file.arg()]);
    assert_eq!(
        cfg.bind,
        [ListenAddr::Any(8080), ListenAddr::Localhost(8081)]
    );
    let listen: Vec<String> = cfg.listen.iter().map(ToString::to_string).collect();
    assert_eq!(listen, ["metrics=127.0.0.1:9100", "chat=[::]:8082"]);
    // A list on the command line replaces the file's; one not given there keeps the file's.
    let cfg = run(&[&file.arg(), "--listen", "metrics=:9101"]);
    assert_eq!(cfg.listen.len(), 1);
    assert_eq!(cfg.listen[0].kind, ListenKind::Metrics);
    assert_eq!(cfg.bind.len(), 2);
    let cfg = run(&[&file.arg(), "--bind", "127.0.0.1:0"]);
    assert_eq!(cfg.bind.len(), 1);
    assert_eq!(cfg.listen.len(), 2);
    // With no chat listener anywhere, the default one is there.
    let cfg = run(&["--listen", "metrics=127.0.0.1:9100"]);
    let all: Vec<String> = cfg.listeners().iter().map(ToString::to_string).collect();
    assert_eq!(all, ["chat=127.0.0.1:8080", "metrics=127.0.0.1:9100"]);
}

#[test]
fn a_bad_listen_table_names_its_line() {
    let file = TempFile::new(
        "listen-kind",
        "grace = 3\n[[listen]]\nkind = \"gopher\"\naddress = \":70\"\n",
    );
    let why = refusal(&[&file.arg()]);
    assert!(
        why.contains(":3: listen: kind: unknown listener kind `gopher`"),
        "{why}"
    );
    let file = TempFile::new(
        "listen-addr",
        "[[listen]]\nkind = \"chat\"\n\n[[listen]]\nkind = \"metrics\"\naddress = \"example.org:9100\"\n",
    );
    let why = refusal(&[&file.arg()]);
    assert!(
        why.contains(":1: listen: a [[listen]] without address"),
        "{why}"
    );
    let file = TempFile::new(
        "listen-addr2",
        "[[listen]]\nkind = \"metrics\"\naddress = \"example.org:9100\"\n",
    );
    let why = refusal(&[&file.arg()]);
    assert!(
        why.contains(":3: listen: address: `example.org:9100` is not an address"),
        "{why}"
    );
    let file = TempFile::new("listen-key", "[[listen]]\nkind = \"chat\"\nport = 8080\n");
    assert!(refusal(&[&file.arg()]).contains(":3: listen: unknown key `port`"));
    let file = TempFile::new("bind-bad", "bind = \"nowhere\"\n");
    let why = refusal(&[&file.arg()]);
    assert!(
        why.contains(":1: bind: ") && why.contains("`nowhere`"),
        "{why}"
    );
}

#[test]
fn print_config_prints_listeners_that_load_back() {
    let printed = match load([
        "reactor-chat",
        "--bind",
        ":8080",
        "--bind",
        "localhost:8081",
        "--listen",
        "metrics=127.0.0.1:9100",
        "--metrics-allow",
        "10.0.0.0/8,192.0.2.0/24",
        "--print-config",
    ]) {
        Ok(Loaded::Print(text)) => text,
        other => panic!("{other:?}"),
    };
    assert!(
        printed.contains("bind = [\":8080\", \"localhost:8081\"]\n")
            && printed.contains("metrics-allow = [\"10.0.0.0/8\", \"192.0.2.0/24\"]\n")
            && printed
                .ends_with("\n[[listen]]\nkind = \"metrics\"\naddress = \"127.0.0.1:9100\"\n"),
        "{printed}"
    );
    let again = TempFile::new("listen-again", &printed);
    let cfg = run(&[&again.arg()]);
    assert_eq!(cfg.bind.len(), 2);
    assert_eq!(cfg.listen.len(), 1);
    assert_eq!(cfg.metrics_allow.len(), 2);
}
