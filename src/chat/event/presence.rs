//! The summary of joins and departures in a big room.

use std::sync::Arc;

use super::UnixMillis;
use crate::chat::id::MsgId;

/// Who came and went in a big room since the last summary (see `Chat::announce_presence`).
/// Names are listed in the order they arrived, up to [`PresenceSummary::NAMES_SHOWN`]; the totals
/// count everybody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSummary {
    pub id: MsgId,
    pub at: UnixMillis,
    pub room: Arc<str>,
    /// Joined or reconnected.
    pub joined: Vec<Arc<str>>,
    pub joined_total: usize,
    /// Left, lost the connection, or went to another room.
    pub left: Vec<Arc<str>>,
    pub left_total: usize,
    /// Members of the room with a live connection when the summary was sent.
    pub members: usize,
}

impl PresenceSummary {
    /// Names a summary lists before "and N more".
    pub const NAMES_SHOWN: usize = 5;
}
