//! IRC through WeeChat (its curses interface, in tmux), started as the README tells users to:
//! `/server add`, a nickname, `/connect`. It registers, joins `#lobby` and exchanges a line each
//! way with a line user, and shows a `/whois` with the user's signon time. Its home is a
//! throw-away directory; its own flood queue (two seconds between lines) and automatic reconnect
//! are off. A failing test prints WeeChat's screen and its raw IRC lines (`/server raw`).
//! `scripts/test.sh` installs WeeChat and tmux.

use crate::irssi::{assert_installed, in_order};
use crate::support::{Server, TempDir, Terminal};

/// One WeeChat in its own terminal, connected to the server as `nick` and registered.
struct WeeChat {
    terminal: Terminal,
    _home: TempDir,
}

impl WeeChat {
    fn connect(server: &Server, nick: &str) -> WeeChat {
        assert_installed("weechat");
        let home = TempDir::new("weechat");
        let commands = [
            "/set irc.server_default.anti_flood_prio_high 0".to_string(),
            "/set irc.server_default.anti_flood_prio_low 0".to_string(),
            "/set irc.server_default.autoreconnect off".to_string(),
            format!(
                "/server add rc {}/{} -notls",
                server.addr.ip(),
                server.addr.port()
            ),
            format!("/set irc.server.rc.nicks {nick}"),
            "/connect rc".to_string(),
        ];
        let terminal = Terminal::run(&format!(
            "env LANG=C.UTF-8 LC_ALL=C.UTF-8 weechat --dir {} -r '{}'",
            home.path().display(),
            commands.join("; ")
        ));
        let weechat = WeeChat {
            terminal,
            _home: home,
        };
        // The server's last line of the welcome: registration is over.
        weechat.terminal.wait_for("Your resume key is");
        weechat
    }

    /// Waits until the screen has a line with all of `parts`, in order.
    fn wait_for_line(&self, parts: &[&str]) {
        self.terminal
            .wait_until(&format!("a line with {parts:?}"), |screen| {
                screen.lines().any(|line| in_order(line, parts))
            });
    }
}

impl Drop for WeeChat {
    /// On a failing test: WeeChat's screen, then its buffer of raw IRC lines.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let screen = self.terminal.screen();
        self.terminal.type_line("/server raw");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while !self.terminal.screen().contains("IRC raw messages")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        eprintln!(
            "---- WeeChat's screen ----\n{screen}\n---- WeeChat's raw lines (--> received, <-- sent) ----\n{}\n---- end of WeeChat ----",
            self.terminal.screen()
        );
    }
}

#[test]
fn weechat_joins_the_lobby_and_exchanges_a_line_with_a_line_user() {
    let server = Server::start();
    let mut tom = server.login("tom");
    let weechat = WeeChat::connect(&server, "wendy");
    weechat.terminal.type_line("/join #lobby");
    weechat.wait_for_line(&["wendy", "has joined #lobby"]);
    tom.expect_stamped("* wendy joined");

    tom.send("hello from the terminal");
    weechat.wait_for_line(&["tom", " | ", "hello from the terminal"]);
    weechat.terminal.type_line("hello from weechat");
    tom.expect_stamped("wendy: hello from weechat");
}

#[test]
fn weechat_shows_when_a_user_signed_on() {
    let server = Server::start();
    let _tom = server.login("tom");
    let weechat = WeeChat::connect(&server, "wendy");
    weechat.terminal.type_line("/whois tom");
    weechat.wait_for_line(&["[tom]", "End of /WHOIS list"]);
    // WeeChat reads 317 as "<idle secs> <signon, Unix secs> :seconds idle, signon time", and
    // shows the signon time after "signon at:" (wrapped onto the next line when it is long).
    let screen = weechat.terminal.screen();
    let signon = screen
        .split_once("signon at:")
        .and_then(|(_, rest)| rest.split_once("End of /WHOIS list"))
        .map(|(signon, _)| signon);
    assert!(
        signon.is_some_and(|s| !s.contains("1970")),
        "WeeChat shows no signon time, or the epoch's:\n{screen}"
    );
}
