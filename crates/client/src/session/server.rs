//! What the server sends: lines (the login exchange, refusals, the welcome, chat lines, goodbyes) and files.

use super::*;

impl Session {
    pub(super) fn on_item(&mut self, item: Item) {
        match item {
            Item::Line(line) => self.on_line(&line),
            Item::FileStart(header) => self.on_file_start(header),
            Item::FileData(bytes) => self.on_file_data(&bytes),
            Item::FileEnd => self.on_file_end(),
        }
    }

    pub(super) fn on_line(&mut self, line: &str) {
        if self.phase == Phase::LoggingIn && self.login_sent && lines::is_nick_prompt(line) {
            // The name is already on its way (`--name`, or a reconnect): the prompt would ask
            // for what the client has answered.
            return;
        }
        self.out.server(line, self.nick.as_deref());
        if let Kind::Bye { is_final, text } = lines::classify(line) {
            if lines::is_taken_over(text) {
                self.out.status(
                    "another connection took this session over with its resume key; \
                     reconnecting would take it back, so this client stops",
                );
                self.stop = Some(1);
            } else if is_final {
                self.stop = Some(i32::from(!self.quitting));
            }
            return;
        }
        match self.phase {
            Phase::LoggingIn => self.on_login_line(line),
            Phase::Chatting => self.on_chat_line(line),
            Phase::Offline => {}
        }
    }

    pub(super) fn on_login_line(&mut self, line: &str) {
        if lines::is_nick_refusal(line) {
            self.on_refused();
        } else if let Some(nick) = lines::welcome_nick(line) {
            self.nick = Some(nick.to_string());
        } else if let Some(key) = lines::resume_key(line) {
            self.key = Some(key.to_string());
            self.on_logged_in();
        } else if !self.login_sent && self.nick.is_none() && line.starts_with("-- ") {
            if let Some(next) = self.next_queued_nick() {
                self.nick = Some(next);
                self.send_login();
            }
        }
    }

    pub(super) fn on_refused(&mut self) {
        self.login_sent = false;
        self.key = None;
        let refused = self.nick.take().unwrap_or_default();
        if !self.cfg.interactive && !self.nick_from_input {
            self.out
                .status(&format!("the server refused the nickname {refused}"));
            self.exit = Some(1);
            return;
        }
        if let Some(next) = self.next_queued_nick() {
            self.nick = Some(next);
            self.send_login();
        } else if self.cfg.interactive {
            self.cfg.prompt.nickname();
            self.out.status("type another nickname");
        }
    }

    /// In a pipe, the next stdin line after a refused name is the next name to try.
    pub(super) fn next_queued_nick(&mut self) -> Option<String> {
        if self.cfg.interactive || !self.nick_from_input {
            return None;
        }
        let next = self.queued.pop_front()?;
        Some(next.trim().to_string())
    }

    pub(super) fn on_logged_in(&mut self) {
        self.phase = Phase::Chatting;
        self.backoff.reset();
        let nick = self.nick.clone().unwrap_or_default();
        self.cfg.prompt.chatting(&nick);
        if self.ever_logged_in {
            self.out.status(&format!("reconnected as {nick}"));
        }
        self.ever_logged_in = true;
        self.open_log(&nick);
        while self.phase == Phase::Chatting {
            let Some(line) = self.queued.pop_front() else {
                break;
            };
            self.dispatch(line);
        }
        if self.input_done && !self.quitting && self.phase == Phase::Chatting {
            self.send("/quit");
            self.quitting = true;
        }
    }

    pub(super) fn open_log(&mut self, nick: &str) {
        if self.out.has_log() {
            return;
        }
        let path = match &self.cfg.log {
            None => return,
            Some(Some(path)) => path.clone(),
            Some(None) => ChatLog::default_path(nick),
        };
        self.cfg.log = None; // one attempt, at the first login
        match ChatLog::open(&path) {
            Ok(log) => {
                self.out.set_log(log);
                self.out
                    .status(&format!("logging the conversation to {}", path.display()));
            }
            Err(e) => {
                self.out.no_log();
                self.out
                    .status(&format!("cannot open the log {}: {e}", path.display()));
            }
        }
    }

    pub(super) fn on_chat_line(&mut self, line: &str) {
        if let Some(nick) = lines::renamed_to(line) {
            self.nick = Some(nick.to_string());
            self.cfg.prompt.chatting(nick);
        } else if lines::is_nick_refusal(line) {
            // Logged in, a name is refused only in answer to a rename: the old name stays, and
            // the editor, waiting for the answer, draws it again.
            self.cfg.prompt.keep();
        } else if let Some(key) = lines::resume_key(line) {
            self.key = Some(key.to_string());
        } else if let Some(offer) = lines::offer(line) {
            let limit = self.cfg.accept_files;
            if limit > 0 && offer.max_bytes <= limit {
                self.send(&format!("/accept {}", offer.id));
                self.auto.insert(offer.id, offer.from.clone());
                self.out.status(&format!(
                    "accepting #{} {} from {} (--accept-files {limit})",
                    offer.id, offer.name, offer.from
                ));
            } else {
                self.out.status(&format!(
                    "type /accept {} to save {} in {}",
                    offer.id,
                    offer.name,
                    self.cfg.download_dir.display()
                ));
            }
        }
    }
}
