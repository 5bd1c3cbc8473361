//! What a user's command runs with besides its own arguments.

use super::event::{Event, Info, Refusal};
use super::{help, ConnId, Now, Outbox, SessionId};

/// Who asked (the connection and its session), when, and where the answers go.
pub struct Cx<'a> {
    pub conn: ConnId,
    pub sid: SessionId,
    pub now: Now,
    pub out: &'a mut Outbox,
}

impl Cx<'_> {
    /// An answer to the asker alone.
    pub fn reply(&mut self, event: Event) {
        self.out.send(self.conn, event);
    }

    pub fn info(&mut self, info: Info) {
        self.reply(Event::Info(info));
    }

    pub fn refuse(&mut self, refusal: Refusal) {
        self.reply(Event::Refused(refusal));
    }

    /// The command `name` was given without the arguments it needs: its usage line.
    pub fn usage(&mut self, name: &str) {
        let entry = help::find(name).expect("every command has a help entry");
        self.refuse(Refusal::Usage(entry));
    }
}
