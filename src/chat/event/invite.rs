//! What the chat core says about invitations.

use std::sync::Arc;

/// What the chat core says about invitations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteNotice {
    /// To the invited user.
    Invited {
        from: Arc<str>,
        room: Arc<str>,
        secs: u64,
    },
    /// To the inviter.
    Sent { to: Arc<str>, room: Arc<str> },
    /// To the inviter.
    Accepted { by: Arc<str>, room: Arc<str> },
    /// To the inviter.
    Declined { by: Arc<str> },
    /// To the inviter: the invitation ran out.
    Expired { to: Arc<str>, room: Arc<str> },
    /// To the invited user who declined.
    YouDeclined { from: Arc<str> },
    /// `/invites on|off`.
    Setting { on: bool },
    // Refusals.
    /// The target refuses all invitations.
    Refuses { nick: Arc<str> },
    /// The target is already in that room.
    AlreadyThere { nick: Arc<str>, room: Arc<str> },
    /// `/accept-invite` or `/decline-invite` with nothing pending (from that nick).
    NoneFrom { nick: Option<Arc<str>> },
}
