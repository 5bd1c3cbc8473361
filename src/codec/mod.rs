//! Sans-IO frame decoders: bytes in, complete frames out.
//!
//! Every decoder has the same shape: `decode(&mut self, src: &[u8]) -> Result<Decoded<T>, CodecError>`.
//! A decoder consumes a prefix of `src` (possibly all of it, keeping a partial frame in its own state)
//! and either yields one frame or says it needs more input. Partial input is a normal outcome, never
//! an error, and every limit is enforced while the frame is still partial, so no input can make a
//! decoder buffer without bound. Each decoder's tests feed every split point of their samples.

pub mod file;
pub mod forwarded;
pub mod http;
pub mod line;
pub mod websocket;

/// The outcome of one `decode` call.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<T> {
    /// All of `src` was consumed (kept as partial state, or discarded); no frame is complete yet.
    Incomplete,
    /// One frame is complete; `consumed` bytes of `src` were used. Call again with `&src[consumed..]`.
    Frame { frame: T, consumed: usize },
}

/// A fatal decoding error: the stream cannot continue and the connection should be closed.
#[derive(Debug, PartialEq, Eq)]
pub enum CodecError {
    /// The peer sent something the protocol cannot recover from.
    Protocol(&'static str),
    /// An HTTP request the server will not read further; answered with this status.
    Http { status: u16, why: &'static str },
    /// A WebSocket protocol violation; the connection is closed with this close code.
    WebSocket { close_code: u16, why: &'static str },
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Protocol(why) => write!(f, "protocol error: {why}"),
            CodecError::Http { status, why } => write!(f, "HTTP {status}: {why}"),
            CodecError::WebSocket { close_code, why } => {
                write!(f, "WebSocket close {close_code}: {why}")
            }
        }
    }
}

impl std::error::Error for CodecError {}
