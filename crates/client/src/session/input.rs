//! What the user types: lines to send or queue, the client's own commands, the end of input.

use super::*;

impl Session {
    pub(super) fn on_input(&mut self, line: String) {
        if self.nick.is_none() && self.phase != Phase::Chatting {
            let nick = line.trim();
            if nick.is_empty() {
                return;
            }
            self.nick = Some(nick.to_string());
            self.nick_from_input = true;
            if self.phase == Phase::LoggingIn {
                self.send_login();
            }
            return;
        }
        if self.phase == Phase::Chatting {
            self.dispatch(line);
            return;
        }
        if self.conn.is_none() && is_command(&line, "/quit") {
            self.exit = Some(0);
            return;
        }
        if is_rename(&line) {
            // Sent once logged in again: the editor does not wait for its answer now.
            self.cfg.prompt.keep();
        }
        if self.queued.len() >= MAX_QUEUED {
            self.queued.pop_front();
        }
        self.queued.push_back(line);
        if self.cfg.interactive && self.queued.len() == 1 && self.ever_logged_in {
            self.out
                .status("not connected; what you type is sent once logged in again");
        }
    }

    pub(super) fn on_input_eof(&mut self) {
        self.input_done = true;
        match self.phase {
            Phase::Chatting if self.queued.is_empty() && !self.quitting => {
                self.send("/quit");
                self.quitting = true;
            }
            Phase::Chatting => {}
            _ if self.cfg.interactive || self.queued.is_empty() && self.ever_logged_in => {
                self.exit = Some(0);
            }
            _ if self.nick.is_none() => {
                self.out.status("no nickname given");
                self.exit = Some(1);
            }
            _ => {} // log in first, send what is queued, then quit
        }
    }

    /// A line typed while logged in: the client's own commands, or straight to the server.
    pub(super) fn dispatch(&mut self, line: String) {
        if line.trim().is_empty() {
            return;
        }
        if is_command(&line, "/send") {
            self.upload(line.trim_start()[5..].trim());
        } else if is_command(&line, "/reconnect") {
            self.gen += 1; // forget the old connection's events
            self.conn = None;
            self.phase = Phase::Offline;
            self.backoff.reset();
            self.reconnect();
        } else {
            if is_command(&line, "/help") {
                self.help();
            } else if is_command(&line, "/quit") {
                self.quitting = true;
            } else if !line.starts_with('/') || line.starts_with("//") {
                let me = self.nick.clone().unwrap_or_default();
                self.out.own(&me, line.strip_prefix('/').unwrap_or(&line));
            }
            self.send(&line);
        }
    }

    pub(super) fn help(&mut self) {
        let dir = self.cfg.download_dir.display().to_string();
        for line in [
            "reactor-chat-client commands:".to_string(),
            "  /send PATH       share a file with your room (streamed from disk)".into(),
            "  /reconnect       drop the connection and log in again now".into(),
            "  /quit [message]  leave (Ctrl-D too)".into(),
            format!("  files you /accept are saved in {dir} as To<me>_From<sender>_<name>"),
            "  every other line goes to the server unchanged; its commands follow:".into(),
        ] {
            self.out.status(&line);
        }
    }
}
