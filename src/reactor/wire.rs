//! Wire formats: the bytes one event becomes on each kind of connection.
//!
//! A connection's [`Wire`] follows from its protocol (`Proto::wire`). An event is rendered once
//! per wire format among its recipients, never once per recipient: [`Rendered`] holds the line
//! protocol's bytes, rendered before the first recipient is queued, and every other format's
//! bytes, made for the first recipient that speaks it and shared by the ones after. Every path
//! that queues an event for connections (broadcasts, replies to one connection, file headers)
//! goes through [`Rendered::push_to`], so a wire format is a variant here, its bytes in
//! `Rendered` and the `Proto` that speaks it; the queueing code does not change.
//!
//! The line protocol's bytes are queued by reference ([`LineBytes`]): for a broadcast they are a
//! range of the open broadcast block, which is what makes a member's run of a turn's broadcasts
//! one queue entry, so a line recipient costs a match on its wire and a `push_shared`.

use bytes::{Bytes, BytesMut};

use super::broadcast::{BroadcastBuf, SharedLine};
use super::outqueue::OutQueue;
use crate::chat::Event;
use crate::codec::websocket;
use crate::render::irc::Caps;

/// How the chat output of a connection is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wire {
    /// The line protocol as it is (telnet, nc, the line client).
    Line,
    /// The line protocol inside WebSocket text messages, file payloads in binary messages (the
    /// browser client; PROTOCOL.md, "WebSocket").
    WebSocket,
    /// IRC, rendered by `render::irc` for the capabilities negotiated: a broadcast's bytes
    /// differ only by those that change them (`Caps::broadcast_key`).
    Irc(Caps),
}

impl Wire {
    /// What goes between a file's header line and its payload (the payload itself is the one
    /// buffer every recipient shares).
    pub fn payload_head(self, len: usize) -> Option<Bytes> {
        match self {
            // IRC users get file offers as links; no payload goes to them.
            Wire::Line | Wire::Irc(_) => None,
            // The payload travels as one binary message; only its frame head is new bytes.
            Wire::WebSocket => Some(binary_head(len)),
        }
    }
}

/// An event's line-protocol bytes, wherever they were rendered: a [`SharedLine`] in the open
/// broadcast block, or `Bytes` of their own (replies to one connection, file headers, which are
/// kept out of the broadcast block so they do not split the members' runs of broadcasts).
pub(super) trait LineBytes {
    /// Queues the bytes by reference.
    fn push_to(&self, queue: &mut OutQueue);
    /// Whether there are none (an event a wire format does not show).
    fn is_empty(&self) -> bool;
    /// The bytes themselves, for the other wire formats made from them.
    fn bytes<'a>(&'a self, open: &'a BroadcastBuf) -> &'a [u8];
}

impl LineBytes for SharedLine {
    #[inline]
    fn push_to(&self, queue: &mut OutQueue) {
        queue.push_shared(self);
    }

    fn is_empty(&self) -> bool {
        SharedLine::is_empty(self)
    }

    fn bytes<'a>(&'a self, open: &'a BroadcastBuf) -> &'a [u8] {
        open.bytes_of(self)
    }
}

impl LineBytes for Bytes {
    fn push_to(&self, queue: &mut OutQueue) {
        queue.push(self.clone());
    }

    fn is_empty(&self) -> bool {
        Bytes::is_empty(self)
    }

    fn bytes<'a>(&'a self, _open: &'a BroadcastBuf) -> &'a [u8] {
        self
    }
}

/// One event's bytes in each wire format its recipients speak so far.
pub(super) struct Rendered<'e, L> {
    /// Made on the first line or browser recipient, so a broadcast to IRC users alone puts no
    /// line-protocol bytes between its IRC bytes in the open block (a member's run of the
    /// turn's broadcasts stays one queue entry, for IRC members as for line members).
    line: Option<L>,
    /// The lines in one WebSocket text message.
    websocket: Option<Bytes>,
    /// The event itself, which IRC renders on its own (its lines are not the line protocol's).
    event: &'e Event,
    /// The IRC bytes for each combination of byte-changing capabilities met so far, made where
    /// the line bytes are (the open broadcast block, for a broadcast).
    irc: [Option<L>; Caps::BROADCAST_VARIANTS],
    /// What download links start with for these recipients, when not the renderer's own.
    link_base: Option<std::sync::Arc<str>>,
}

/// What [`Rendered::push_to`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pushed {
    Queued,
    /// Nothing to queue: the connection takes no chat output (an HTTP request), or the event
    /// has no bytes on its wire (an away change for IRC clients that did not ask).
    Nothing,
    /// The connection speaks IRC with these capabilities and the event has not been rendered
    /// for them yet: render it ([`Rendered::set_irc`]) and push again.
    NeedsIrc(Caps),
    /// The line protocol's bytes are not made yet: render them ([`Rendered::set_line`]) and
    /// push again.
    NeedsLine,
}

impl<'e, L: LineBytes> Rendered<'e, L> {
    /// The event rendered in the line protocol; other formats are made from it, or from the
    /// event, on first need.
    pub fn new(line: L, event: &'e Event) -> Self {
        Rendered {
            line: Some(line),
            ..Rendered::lazy(event)
        }
    }

    /// The event with no bytes made yet: each wire format's are made for its first recipient.
    pub fn lazy(event: &'e Event) -> Self {
        Rendered {
            line: None,
            websocket: None,
            event,
            irc: Default::default(),
            link_base: None,
        }
    }

    pub fn set_line(&mut self, line: L) {
        self.line = Some(line);
    }

    /// For recipients whose download links start with `base` (see `Reactor::link_base_for`).
    pub fn with_link_base(mut self, base: Option<std::sync::Arc<str>>) -> Self {
        self.link_base = base;
        self
    }

    pub fn link_base(&self) -> Option<&std::sync::Arc<str>> {
        self.link_base.as_ref()
    }

    pub fn event(&self) -> &'e Event {
        self.event
    }

    /// The event's IRC bytes for connections with `caps`.
    pub fn set_irc(&mut self, caps: Caps, bytes: L) {
        self.irc[caps.broadcast_key()] = Some(bytes);
    }

    /// Queues the event in `wire`'s format; false, and nothing queued, for a connection with no
    /// wire format for chat output (`None`: an HTTP request). `open` is the broadcast buffer,
    /// read to make a format's bytes from lines still in its open block. One match for both
    /// questions: this runs once per recipient of every broadcast.
    #[inline]
    pub fn push_to(
        &mut self,
        wire: Option<Wire>,
        queue: &mut OutQueue,
        open: &BroadcastBuf,
    ) -> Pushed {
        match wire {
            Some(Wire::Line) => match &self.line {
                Some(line) if line.is_empty() => return Pushed::Nothing,
                Some(line) => line.push_to(queue),
                None => return Pushed::NeedsLine,
            },
            Some(Wire::WebSocket) => {
                let frame = match (&self.websocket, &self.line) {
                    (_, Some(line)) if line.is_empty() => return Pushed::Nothing,
                    (Some(frame), _) => frame,
                    (None, Some(line)) => self.websocket.insert(text_frame(line.bytes(open))),
                    (None, None) => return Pushed::NeedsLine,
                };
                queue.push(frame.clone());
            }
            Some(Wire::Irc(caps)) => match &self.irc[caps.broadcast_key()] {
                Some(bytes) if bytes.is_empty() => return Pushed::Nothing,
                Some(bytes) => bytes.push_to(queue),
                None => return Pushed::NeedsIrc(caps),
            },
            None => return Pushed::Nothing,
        }
        Pushed::Queued
    }
}

/// A server text frame carrying rendered protocol lines.
fn text_frame(lines: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(lines.len() + 10);
    // Rendered lines are UTF-8 (every renderer writes `str`s): no second check per frame.
    websocket::encode_text_utf8(lines, &mut buf);
    buf.freeze()
}

/// The head of a binary frame whose payload (a shared file buffer) is queued after it.
fn binary_head(len: usize) -> Bytes {
    let mut buf = BytesMut::with_capacity(10);
    websocket::encode_binary_head(len, &mut buf);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(queue: &mut OutQueue) -> Vec<u8> {
        let mut out = Vec::new();
        queue.write_to(&mut out, usize::MAX).unwrap();
        out
    }

    const FRAMED: &[u8] = b"\x81\x04hi\r\n";
    static EVENT: Event = Event::Info(crate::chat::Info::Greeting);

    #[test]
    fn each_wire_gets_its_bytes_and_a_format_is_made_once() {
        let open = BroadcastBuf::new();
        let mut rendered = Rendered::new(Bytes::from_static(b"hi\r\n"), &EVENT);
        let (mut line, mut browser, mut other_browser) =
            (OutQueue::new(), OutQueue::new(), OutQueue::new());
        rendered.push_to(Some(Wire::Line), &mut line, &open);
        assert!(
            rendered.websocket.is_none(),
            "no frame before a browser needs it"
        );
        rendered.push_to(Some(Wire::WebSocket), &mut browser, &open);
        let frame = rendered.websocket.as_ref().unwrap().as_ptr();
        rendered.push_to(Some(Wire::WebSocket), &mut other_browser, &open);
        assert_eq!(rendered.websocket.as_ref().unwrap().as_ptr(), frame);
        assert_eq!(written(&mut line), b"hi\r\n");
        assert_eq!(written(&mut browser), FRAMED);
        assert_eq!(written(&mut other_browser), FRAMED);
    }

    #[test]
    fn a_broadcast_line_is_framed_from_the_open_block() {
        let mut open = BroadcastBuf::new();
        let shared = open.write(|buf| buf.extend_from_slice(b"hi\r\n"));
        let mut rendered = Rendered::new(shared, &EVENT);
        let (mut line, mut browser) = (OutQueue::new(), OutQueue::new());
        rendered.push_to(Some(Wire::WebSocket), &mut browser, &open);
        rendered.push_to(Some(Wire::Line), &mut line, &open);
        open.seal();
        assert_eq!(written(&mut browser), FRAMED);
        assert_eq!(written(&mut line), b"hi\r\n");
    }

    #[test]
    fn only_websocket_puts_a_head_before_a_payload() {
        assert_eq!(Wire::Line.payload_head(5), None);
        assert_eq!(
            Wire::WebSocket.payload_head(5).as_deref(),
            Some(&b"\x82\x05"[..])
        );
    }
}
