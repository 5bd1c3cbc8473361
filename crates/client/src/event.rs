//! What the session reacts to: the events the reader, uploader and input threads send it.

use std::time::Duration;

use crate::proto::Item;

/// Everything the session reacts to.
#[derive(Debug)]
pub enum Ev {
    /// Something the server sent on connection `gen`.
    Net { gen: u64, item: Item },
    /// Connection `gen` is closed.
    Closed { gen: u64, why: String },
    /// A frame of the progress bar of an upload on connection `gen`.
    Progress { gen: u64, frame: String },
    /// An upload on connection `gen` ended.
    Uploaded { gen: u64, done: Uploaded },
    /// A line the user typed (or stdin gave).
    Input(String),
    /// No more input (Ctrl-D, or the end of stdin).
    InputEof,
}

/// How an upload ended, reported to the session.
#[derive(Debug)]
pub struct Uploaded {
    pub name: String,
    pub size: u64,
    pub result: Result<Duration, String>,
}
