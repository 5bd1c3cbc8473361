//! The line editor's prompt: `nickname> ` while logging in, `alice> ` after, `alice2> ` after
//! `/nick alice2`. The session thread changes it while the editor thread waits in `readline`,
//! which draws a prompt only when it starts. So after a line whose answer sets the prompt (a line
//! typed at the nickname prompt, a rename) the editor waits for that answer before drawing the
//! next prompt, and the session sets the prompt on every such answer: the welcome or the
//! nickname prompt again after a login, the new name or [`Prompt::keep`] after a rename. A change
//! that answers no line typed just before (a rename typed while disconnected, sent once the client
//! is logged in again) shows from the next prompt drawn.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The prompt while no name has been accepted.
const NICKNAME: &str = "nickname> ";

/// The prompt as the session last set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub text: String,
    /// Bumped on every change, so a wait can tell "set again to the same text" (a refusal).
    version: u64,
    /// At the nickname prompt: the next line typed is a login.
    pub asks_nickname: bool,
}

#[derive(Debug)]
pub struct Prompt {
    state: Mutex<Shown>,
    changed: Condvar,
}

impl Prompt {
    /// The first prompt: the name given with `--name`, else the nickname prompt.
    pub fn new(name: Option<&str>) -> Prompt {
        let shown = Shown {
            text: name.map_or_else(|| NICKNAME.to_string(), |n| format!("{n}> ")),
            version: 0,
            asks_nickname: name.is_none(),
        };
        Prompt {
            state: Mutex::new(shown),
            changed: Condvar::new(),
        }
    }

    /// Asks for a nickname (again).
    pub fn nickname(&self) {
        self.set(NICKNAME.to_string(), true);
    }

    /// Logged in (or renamed) as `nick`.
    pub fn chatting(&self, nick: &str) {
        self.set(format!("{nick}> "), false);
    }

    /// Answers without a change: a refused rename, a rename held back until the client is logged
    /// in again, a connection lost before its answer came. The editor's wait ends at once.
    pub fn keep(&self) {
        self.update(|_| {});
    }

    fn set(&self, text: String, asks_nickname: bool) {
        self.update(|state| {
            state.text = text;
            state.asks_nickname = asks_nickname;
        });
    }

    fn update(&self, change: impl FnOnce(&mut Shown)) {
        if let Ok(mut state) = self.state.lock() {
            change(&mut state);
            state.version += 1;
            self.changed.notify_all();
        }
    }

    pub fn get(&self) -> Shown {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// The prompt once the session has set it again after `seen`, or as it is after `within`
    /// (a slow or absent server must not freeze the editor).
    pub fn after(&self, seen: &Shown, within: Duration) -> Shown {
        let deadline = Instant::now() + within;
        let Ok(mut state) = self.state.lock() else {
            return seen.clone();
        };
        while state.version == seen.version {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.changed.wait_timeout(state, left) {
                Ok((next, _)) => state = next,
                Err(_) => return seen.clone(),
            }
        }
        state.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    #[test]
    fn a_wait_ends_when_the_prompt_is_set_even_to_the_same_text() {
        let prompt = Arc::new(Prompt::new(None));
        let seen = prompt.get();
        assert!(seen.asks_nickname);
        let setter = Arc::clone(&prompt);
        let t = thread::spawn(move || setter.nickname());
        let next = prompt.after(&seen, Duration::from_secs(10));
        t.join().unwrap();
        assert_eq!(next.text, "nickname> ");
        assert_ne!(next, seen);
        prompt.chatting("alice");
        let now = prompt.get();
        assert_eq!((now.text.as_str(), now.asks_nickname), ("alice> ", false));
        // Nothing changes: the wait gives up and returns the prompt as it is.
        assert_eq!(prompt.after(&now, Duration::from_millis(20)), now);
    }

    #[test]
    fn a_rename_or_its_refusal_ends_a_wait() {
        let prompt = Arc::new(Prompt::new(Some("alice")));
        let seen = prompt.get();
        let setter = Arc::clone(&prompt);
        let t = thread::spawn(move || setter.chatting("alice2"));
        let renamed = prompt.after(&seen, Duration::from_secs(10));
        t.join().unwrap();
        assert_eq!(renamed.text, "alice2> ");
        let setter = Arc::clone(&prompt);
        let t = thread::spawn(move || setter.keep());
        let refused = prompt.after(&renamed, Duration::from_secs(10));
        t.join().unwrap();
        assert_ne!(
            refused, renamed,
            "the wait ended on the answer, not the timeout"
        );
        assert_eq!(
            (refused.text.as_str(), refused.asks_nickname),
            ("alice2> ", false)
        );
    }
}
