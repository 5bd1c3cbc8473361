//! A real terminal for programs that need one (telnet, the line client's line editor): a tmux
//! session of its own, typed into and read back as a person would.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A tmux server of its own (`-L`), so parallel tests never share sessions; killed on drop.
pub struct Terminal {
    socket: String,
}

impl Terminal {
    /// Runs `command` in a new 100×30 terminal.
    pub fn run(command: &str) -> Terminal {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "reactor-chat-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-x", "100", "-y", "30"])
            // The shell keeps the pane open after the command ends, so its last screen can be read.
            .arg(format!("{command}; sleep 60"))
            .status()
            .expect("tmux is installed (scripts/test.sh installs it)");
        assert!(status.success(), "tmux could not start {command:?}");
        Terminal { socket }
    }

    /// Types `text` and Enter, as a person would.
    pub fn type_line(&self, text: &str) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-l", text])
            .status()
            .unwrap();
        assert!(status.success());
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "Enter"])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text`.
    pub fn wait_for(&self, text: &str) {
        self.wait_until(&format!("{text:?}"), |screen| screen.contains(text));
    }

    /// Waits until `ready` holds for the screen; `what` names it if it never does.
    pub fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ready(&self.screen()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the terminal never showed {what}:\n{}", self.screen());
    }

    /// The line the cursor is on: the last line of the screen with anything on it.
    pub fn last_line(&self) -> String {
        last_line(&self.screen())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// The last line of `screen` with anything on it, without trailing blanks.
pub fn last_line(screen: &str) -> String {
    let line = screen.lines().rev().find(|l| !l.trim().is_empty());
    line.unwrap_or_default().trim_end().to_string()
}
