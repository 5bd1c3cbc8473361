//! IRC through irssi, a client reactor-chat did not write, driven in tmux as a person would: it
//! connects to the chat port, joins `#lobby` and talks with a line user (TCP, as telnet or nc
//! would): messages, `/me`, `/msg`, topics and Korean both ways, then `/quit`.
//!
//! Each irssi gets a throw-away home with a config of its own (nick, UTF-8 terminal, no
//! reconnect, no config written back), and its pane runs in a UTF-8 locale. A failing test prints
//! irssi's screen and its raw IRC lines (`/rawlog save`) beside the server's log. `scripts/test.sh`
//! installs irssi and tmux; a test here fails when one is missing.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Server, TempDir, Terminal};

/// irssi's settings: who it is, UTF-8 on the terminal, no automatic reconnect (a lost connection
/// stays lost until the test says otherwise), nothing saved on exit, room for the raw lines, and
/// no queue for its own commands (irssi otherwise sends five at once, then one each 2.2 s: the
/// server has flood control of its own).
fn config(nick: &str) -> String {
    format!(
        r#"settings = {{
  core = {{
    nick = "{nick}";
    user_name = "{nick}";
    real_name = "{nick}";
    server_reconnect_time = "-1";
    settings_autosave = "no";
    rawlog_lines = "1000";
  }};
  "irc/core" = {{
    cmds_max_at_once = "100";
    cmd_queue_speed = "0";
  }};
  "fe-common/core" = {{
    term_charset = "UTF-8";
  }};
}};
"#
    )
}

/// One irssi in its own terminal, connected to the server and registered.
struct Irssi {
    terminal: Terminal,
    home: TempDir,
}

impl Irssi {
    fn connect(server: &Server, nick: &str) -> Irssi {
        assert_installed("irssi");
        let home = TempDir::new("irssi");
        std::fs::write(home.path().join("config"), config(nick)).expect("write irssi's config");
        let terminal = Terminal::run(&format!(
            "env LANG=C.UTF-8 LC_ALL=C.UTF-8 irssi --home={} -n {nick} -c {} -p {}",
            home.path().display(),
            server.addr.ip(),
            server.addr.port()
        ));
        let irssi = Irssi { terminal, home };
        // The server's last line of the welcome: registration is over.
        irssi.wait_for("Your resume key is");
        irssi
    }

    fn type_line(&self, text: &str) {
        self.terminal.type_line(text);
    }

    fn wait_for(&self, text: &str) {
        self.terminal.wait_for(text);
    }

    /// Waits until the screen has a line with all of `parts`, in order.
    fn wait_for_line(&self, parts: &[&str]) {
        self.terminal
            .wait_until(&format!("a line with {parts:?}"), |screen| {
                screen.lines().any(|line| in_order(line, parts))
            });
    }

    fn raw_log(&self) -> PathBuf {
        self.home.path().join("raw.log")
    }
}

/// Fails unless `program --version` runs: the test needs that client.
pub(crate) fn assert_installed(program: &str) {
    let installed = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "{program} is not installed: scripts/test.sh installs it"
    );
}

/// Whether `line` holds every one of `parts`, each after the one before.
pub(crate) fn in_order(line: &str, parts: &[&str]) -> bool {
    let mut rest = line;
    for part in parts {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

impl Drop for Irssi {
    /// On a failing test: irssi's screen and the raw IRC lines it sent and received.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let raw = self.raw_log();
        self.terminal
            .type_line(&format!("/rawlog save {}", raw.display()));
        let deadline = Instant::now() + Duration::from_secs(3);
        while !raw.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let lines = std::fs::read_to_string(&raw)
            .unwrap_or_else(|e| format!("(no raw log: {e}; irssi may have exited)"));
        eprintln!(
            "---- irssi's screen ----\n{}\n---- irssi's raw lines (>> received, << sent) ----\n{lines}---- end of irssi ----",
            self.terminal.screen()
        );
    }
}

#[test]
fn irssi_joins_the_lobby_and_talks_with_a_line_user() {
    let server = Server::start();
    let mut tom = server.login("tom");
    let irssi = Irssi::connect(&server, "ivy");
    irssi.type_line("/join #lobby");
    irssi.wait_for("has joined #lobby");
    tom.expect_stamped("* ivy joined");

    // Messages both ways: a line user's line in irssi's channel window, what irssi types as a
    // stamped line.
    tom.send("hello from the terminal");
    irssi.wait_for_line(&["tom>", "hello from the terminal"]);
    irssi.type_line("hello from irssi");
    tom.expect_stamped("ivy: hello from irssi");

    // /me both ways.
    irssi.type_line("/me waves");
    tom.expect_stamped("* ivy waves");
    tom.send("/me dances");
    irssi.wait_for_line(&["* tom dances"]);

    // Whispers both ways: irssi's /msg; the line user's whisper opens a query window.
    irssi.type_line("/msg tom psst");
    tom.expect_stamped("*ivy* psst");
    tom.send("/msg ivy a secret for you");
    irssi.type_line("/query tom");
    irssi.wait_for_line(&["tom>", "a secret for you"]);
    irssi.type_line("/window goto #lobby");
    irssi.wait_for("[#lobby]");

    // Topics both ways.
    tom.send("/topic release on friday");
    irssi.wait_for("tom changed the topic of #lobby to: release on friday");
    irssi.type_line("/topic release on monday");
    tom.expect_stamped("* ivy set the topic: release on monday");
    irssi.wait_for("ivy changed the topic of #lobby to: release on monday");

    irssi.type_line("/quit see you");
    tom.expect_stamped("* ivy left (see you)");
    server.wait_for_log("msg=quit nick=ivy message=\"see you\"");
}

#[test]
fn irssi_sends_and_shows_korean() {
    let server = Server::start();
    let mut tom = server.login("tom");
    let irssi = Irssi::connect(&server, "ivy");
    irssi.type_line("/join #lobby");
    irssi.wait_for("has joined #lobby");
    tom.expect_stamped("* ivy joined");

    irssi.type_line("안녕하세요 여러분");
    tom.expect_stamped("ivy: 안녕하세요 여러분");
    tom.send("반가워요, 아이비 님");
    irssi.wait_for_line(&["tom>", "반가워요, 아이비 님"]);
    irssi.type_line("/me 손을 흔듭니다");
    tom.expect_stamped("* ivy 손을 흔듭니다");
    tom.send("/topic 오늘의 주제");
    irssi.wait_for("tom changed the topic of #lobby to: 오늘의 주제");
    irssi.type_line("/quit");
    tom.expect_where("ivy's departure", |l| {
        crate::support::unstamp(l).is_some_and(|rest| rest.starts_with("* ivy left"))
    });
}
