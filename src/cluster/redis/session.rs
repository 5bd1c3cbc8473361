//! The protocol state of one connection to Redis, with no socket: the handshake, and pipelined
//! commands matched to their replies in order.
//!
//! Bytes in, events out, like the chat port's decoders: [`Session::receive`] takes what the
//! socket read, decodes every complete RESP3 frame with `redis-protocol` (a partial frame stays in
//! the buffer for the next read) and turns each into a [`LinkEvent`]. Commands are appended to an
//! output buffer that the owner of the socket writes when it can.
//!
//! Redis answers commands in the order it receives them, so a reply belongs to the oldest command
//! still waiting. Push frames (`>`) are out of band (pub/sub messages, client-tracking
//! invalidations, the `sunsubscribe` a cluster sends when a slot moves) and are never taken for
//! that reply. The subscribe family needs care: under RESP3, `SUBSCRIBE a b` is answered by one
//! confirmation push per channel (`subscribe a 1`, `subscribe b 2`) and no ordinary reply, so a
//! session that waited for one would pair every later reply with the command before it. Each
//! confirmation is passed on as a [`LinkEvent::Push`], and when the oldest command is the
//! subscribe-family command it confirms, its last confirmation is also that command's
//! [`LinkEvent::Reply`]: every command gets exactly one reply, in order.

use std::collections::{HashSet, VecDeque};

use bytes::{Bytes, BytesMut};
use redis_protocol::resp3::decode::complete::decode_bytes_mut;
use redis_protocol::resp3::encode::complete::extend_encode_borrowed;
use redis_protocol::resp3::types::{BorrowedFrame, BytesFrame, Resp3Frame};
use smallvec::SmallVec;

use super::url::RedisUrl;
use super::LinkEvent;

/// Appends `args` as one command: a RESP array of blob strings.
///
/// Arguments are encoded where they lie (`redis-protocol`'s borrowed frames), not first copied
/// into a frame of their own, so a large payload is copied once, into `buf`.
pub fn encode_command(buf: &mut BytesMut, args: &[&[u8]]) {
    let parts: SmallVec<[BorrowedFrame; 8]> = args
        .iter()
        .map(|data| BorrowedFrame::BlobString {
            data,
            attributes: None,
        })
        .collect();
    let command = BorrowedFrame::Array {
        data: &parts,
        attributes: None,
    };
    // `extend_encode_borrowed` grows `buf` by the frame's exact length before encoding into it,
    // so the only failure it has (a buffer too small) cannot happen.
    extend_encode_borrowed(buf, &command, false).expect("the buffer was grown to fit the command");
}

/// The protocol state of one connection.
#[derive(Debug)]
pub struct Session {
    /// The handshake's replies still awaited, oldest first.
    handshake: VecDeque<Step>,
    /// Commands awaiting their replies, oldest first.
    pending: VecDeque<Pending>,
    /// The channels, patterns and shard channels this connection is subscribed to, as the
    /// confirmations said, indexed by [`Family`]: how many confirmations an `UNSUBSCRIBE` with no
    /// arguments brings depends on them.
    subscribed: [HashSet<Bytes>; 3],
}

/// A command of the handshake.
#[derive(Debug, Clone, Copy)]
enum Step {
    Hello,
    Select(u32),
}

#[derive(Debug)]
struct Pending {
    tag: u64,
    answer: Answer,
}

/// How a command is answered.
#[derive(Debug)]
enum Answer {
    /// By one frame, which is its reply.
    Reply,
    /// By confirmation pushes named `kind`, one per channel (or by an ordinary reply when Redis
    /// refuses the command, for instance with no arguments).
    Confirmations { kind: Confirmed, left: Left },
}

/// The confirmations a subscribe-family command still waits for.
#[derive(Debug)]
enum Left {
    /// One for each channel it names (a channel named twice is confirmed twice).
    Named(Vec<Bytes>),
    /// An unsubscribe with no arguments: one for each channel of its family subscribed when it
    /// runs, or a single one (with a null channel) when there were none. `None` until the first
    /// confirmation arrives, when the commands before it have all been answered and
    /// [`Session::subscribed`] says what Redis had.
    All(Option<usize>),
}

/// The subscribe family: pub/sub channels, patterns and shard channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Channel = 0,
    Pattern = 1,
    Shard = 2,
}

/// A command of the subscribe family, whose confirmation pushes carry its name, in lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Confirmed {
    name: &'static [u8],
    family: Family,
    subscribes: bool,
}

const CONFIRMED: [Confirmed; 6] = [
    Confirmed::new(b"subscribe", Family::Channel, true),
    Confirmed::new(b"unsubscribe", Family::Channel, false),
    Confirmed::new(b"psubscribe", Family::Pattern, true),
    Confirmed::new(b"punsubscribe", Family::Pattern, false),
    Confirmed::new(b"ssubscribe", Family::Shard, true),
    Confirmed::new(b"sunsubscribe", Family::Shard, false),
];

impl Confirmed {
    const fn new(name: &'static [u8], family: Family, subscribes: bool) -> Confirmed {
        Confirmed {
            name,
            family,
            subscribes,
        }
    }

    /// The subscribe-family command or push named `name`, in any case.
    fn named(name: &[u8]) -> Option<Confirmed> {
        CONFIRMED
            .into_iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

impl Session {
    /// A new connection's state; queues the handshake into `out`: `HELLO 3`, with
    /// `AUTH user password` when the URL has a password (user `default` when it names none),
    /// then `SELECT db` when `db` is not 0.
    pub fn new(url: &RedisUrl, out: &mut BytesMut) -> Session {
        let mut handshake = VecDeque::with_capacity(2);
        match &url.password {
            Some(password) => {
                let user = url.user.as_deref().unwrap_or("default");
                encode_command(
                    out,
                    &[
                        b"HELLO",
                        b"3",
                        b"AUTH",
                        user.as_bytes(),
                        password.as_bytes(),
                    ],
                );
            }
            None => encode_command(out, &[b"HELLO", b"3"]),
        }
        handshake.push_back(Step::Hello);
        if url.db != 0 {
            encode_command(out, &[b"SELECT", url.db.to_string().as_bytes()]);
            handshake.push_back(Step::Select(url.db));
        }
        Session {
            handshake,
            pending: VecDeque::new(),
            subscribed: Default::default(),
        }
    }

    /// Whether the handshake's replies all came back OK: commands may be sent.
    pub fn is_ready(&self) -> bool {
        self.handshake.is_empty()
    }

    /// Queues one command whose reply comes back as `Reply { tag }`; the caller checks
    /// [`is_ready`](Self::is_ready) first.
    pub fn command(&mut self, out: &mut BytesMut, args: &[&[u8]], tag: u64) {
        debug_assert!(self.is_ready(), "a command sent before the handshake ended");
        let answer = match args.split_first() {
            Some((name, channels)) => match Confirmed::named(name) {
                Some(kind) if channels.is_empty() && !kind.subscribes => Answer::Confirmations {
                    kind,
                    left: Left::All(None),
                },
                Some(kind) => Answer::Confirmations {
                    kind,
                    left: Left::Named(channels.iter().map(|c| Bytes::copy_from_slice(c)).collect()),
                },
                None => Answer::Reply,
            },
            None => Answer::Reply,
        };
        encode_command(out, args);
        self.pending.push_back(Pending { tag, answer });
    }

    /// Decodes every complete frame in `input` (consuming them; a partial frame stays), appending
    /// events. `Err` on a protocol error or a refused handshake: the connection cannot go on.
    pub fn receive(
        &mut self,
        input: &mut BytesMut,
        events: &mut Vec<LinkEvent>,
    ) -> Result<(), String> {
        while !input.is_empty() {
            match decode_bytes_mut(input) {
                Ok(Some((frame, _, _))) => self.on_frame(frame, events)?,
                Ok(None) => break,
                Err(e) => return Err(format!("Redis sent what is not RESP3 ({e})")),
            }
        }
        Ok(())
    }

    /// Commands awaiting replies (the handshake's are not counted).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn on_frame(&mut self, frame: BytesFrame, events: &mut Vec<LinkEvent>) -> Result<(), String> {
        if matches!(frame, BytesFrame::Push { .. }) {
            self.on_push(frame, events);
            return Ok(());
        }
        if let Some(&step) = self.handshake.front() {
            if let Some(error) = error_text(&frame) {
                // The step stays: a refused session is never ready.
                return Err(refused(step, &error));
            }
            self.handshake.pop_front();
            if self.handshake.is_empty() {
                events.push(LinkEvent::Up);
            }
            return Ok(());
        }
        match self.pending.pop_front() {
            Some(Pending { tag, .. }) => {
                events.push(LinkEvent::Reply { tag, reply: frame });
                Ok(())
            }
            None => Err(format!(
                "Redis sent a reply no command was waiting for (a {:?})",
                frame.kind()
            )),
        }
    }

    fn on_push(&mut self, frame: BytesFrame, events: &mut Vec<LinkEvent>) {
        let BytesFrame::Push { data, .. } = &frame else {
            return;
        };
        let kind = data.first().and_then(blob).unwrap_or_default();
        let message = match (&kind[..], data.len()) {
            (b"message" | b"smessage", 3) => blob(&data[1]).zip(blob(&data[2])),
            (b"pmessage", 4) => blob(&data[2]).zip(blob(&data[3])),
            _ => None,
        };
        if let Some((channel, payload)) = message {
            events.push(LinkEvent::Message { channel, payload });
            return;
        }
        let confirmed = Confirmed::named(&kind).filter(|_| data.len() == 3);
        let Some(confirmed) = confirmed else {
            events.push(LinkEvent::Push(frame));
            return;
        };
        // A null channel: an unsubscribe-all with nothing to unsubscribe.
        let channel = blob(&data[1]);
        let answered = self.confirms(confirmed, channel.as_ref());
        let subscribed = &mut self.subscribed[confirmed.family as usize];
        if let Some(channel) = channel {
            if confirmed.subscribes {
                subscribed.insert(channel);
            } else {
                subscribed.remove(&channel);
            }
        }
        match answered {
            Some(tag) => {
                events.push(LinkEvent::Push(frame.clone()));
                events.push(LinkEvent::Reply { tag, reply: frame });
            }
            None => events.push(LinkEvent::Push(frame)),
        }
    }

    /// Counts a confirmation against the oldest command when that command waits for it, and
    /// returns the command's tag when this was its last. One of another kind, or for a channel
    /// the command did not name, confirms nothing: the `sunsubscribe` a cluster sends on its own
    /// when a slot moves. (Such a push arriving while a `SUNSUBSCRIBE` with no arguments waits
    /// would be counted for it; a single Redis, which the link talks to, never sends one.)
    fn confirms(&mut self, confirmed: Confirmed, channel: Option<&Bytes>) -> Option<u64> {
        let head = self.pending.front_mut()?;
        let Answer::Confirmations { kind, left } = &mut head.answer else {
            return None;
        };
        if *kind != confirmed {
            return None;
        }
        let done = match left {
            Left::Named(names) => {
                let at = names.iter().position(|n| Some(n) == channel)?;
                names.swap_remove(at);
                names.is_empty()
            }
            Left::All(count) => {
                let count = count
                    .get_or_insert_with(|| self.subscribed[confirmed.family as usize].len().max(1));
                *count -= 1;
                *count == 0
            }
        };
        if done {
            self.pending.pop_front().map(|p| p.tag)
        } else {
            None
        }
    }
}

/// The bytes of a string frame, shared with the buffer they were read into.
fn blob(frame: &BytesFrame) -> Option<Bytes> {
    match frame {
        BytesFrame::BlobString { data, .. } | BytesFrame::SimpleString { data, .. } => {
            Some(data.clone())
        }
        _ => None,
    }
}

/// The text of an error reply, `SimpleError` (`-ERR ...`) or `BlobError` (`!21\r\n...`).
fn error_text(frame: &BytesFrame) -> Option<String> {
    match frame {
        BytesFrame::SimpleError { data, .. } => Some(data.to_string()),
        BytesFrame::BlobError { data, .. } => Some(String::from_utf8_lossy(data).into_owned()),
        _ => None,
    }
}

/// Why the handshake failed, with the server's own words.
fn refused(step: Step, error: &str) -> String {
    match step {
        // Redis before 6 does not know HELLO; 6 and later without RESP3 answer NOPROTO.
        Step::Hello if error.starts_with("NOPROTO") || error.contains("unknown command") => {
            format!("Redis 6 or later with RESP3 is needed: HELLO 3 was refused ({error})")
        }
        Step::Hello => format!("Redis refused the handshake (HELLO 3): {error}"),
        Step::Select(db) => format!("Redis refused SELECT {db}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> RedisUrl {
        text.parse().unwrap()
    }

    /// A session whose handshake is over, and its output so far.
    fn ready() -> (Session, BytesMut) {
        let mut out = BytesMut::new();
        let mut session = Session::new(&url("redis://h"), &mut out);
        let mut events = Vec::new();
        session
            .receive(&mut BytesMut::from(&b"%0\r\n"[..]), &mut events)
            .unwrap();
        assert!(session.is_ready() && events == [LinkEvent::Up]);
        (session, out)
    }

    /// Every split of `stream` into two reads, and one byte per read, bring the same events as one read.
    fn receive_in_pieces(session: impl Fn() -> Session, stream: &[u8]) -> Vec<LinkEvent> {
        let feed = |reads: &mut dyn Iterator<Item = &[u8]>| {
            let mut session = session();
            let (mut input, mut events) = (BytesMut::new(), Vec::new());
            for read in reads {
                input.extend_from_slice(read);
                session.receive(&mut input, &mut events).unwrap();
            }
            assert!(input.is_empty(), "bytes left undecoded: {input:?}");
            events
        };
        let whole = feed(&mut std::iter::once(stream));
        for split in 0..=stream.len() {
            let (a, b) = stream.split_at(split);
            assert_eq!(feed(&mut [a, b].into_iter()), whole, "split at {split}");
        }
        assert_eq!(feed(&mut stream.chunks(1)), whole, "one byte at a time");
        whole
    }

    /// An event as one short line, to compare a long stream's events at a glance.
    fn describe(event: &LinkEvent) -> String {
        fn frame(f: &BytesFrame) -> String {
            match f {
                BytesFrame::Push { data, .. } | BytesFrame::Array { data, .. } => {
                    data.iter().map(frame).collect::<Vec<_>>().join(" ")
                }
                BytesFrame::BlobString { data, .. } | BytesFrame::SimpleString { data, .. } => {
                    String::from_utf8_lossy(data).into_owned()
                }
                BytesFrame::SimpleError { data, .. } => format!("-{data}"),
                BytesFrame::Number { data, .. } => format!(":{data}"),
                BytesFrame::Null => "nil".into(),
                BytesFrame::Map { data, .. } => format!("map of {}", data.len()),
                other => format!("{other:?}"),
            }
        }
        match event {
            LinkEvent::Up => "up".into(),
            LinkEvent::Down { error, .. } => format!("down: {error}"),
            LinkEvent::Reply { tag, reply } => format!("reply {tag}: {}", frame(reply)),
            LinkEvent::Message { channel, payload } => format!(
                "message {}: {}",
                String::from_utf8_lossy(channel),
                String::from_utf8_lossy(payload)
            ),
            LinkEvent::Push(push) => format!("push {}", frame(push)),
        }
    }

    /// What Redis 7.0.15 sent, recorded from a socket, for the handshake of `redis://h/2` and
    /// the commands of `recorded_commands`.
    const RECORDED: &[u8] = b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
        $5\r\nproto\r\n:3\r\n$2\r\nid\r\n:3\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n\
        $6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n\
        +OK\r\n\
        +OK\r\n$1\r\nv\r\n_\r\n\
        >3\r\n$10\r\nssubscribe\r\n$2\r\nch\r\n:1\r\n>3\r\n$10\r\nssubscribe\r\n$3\r\nch2\r\n:2\r\n\
        >3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n:1\r\n\
        >3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n\
        >3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n:1\r\n\
        >3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:2\r\n\
        >4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npq\r\n$1\r\ny\r\n:1\r\n\
        -ERR unknown command 'NOSUCH', with args beginning with: \r\n\
        >3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n\
        >3\r\n$12\r\nsunsubscribe\r\n$3\r\nch2\r\n:1\r\n>3\r\n$12\r\nsunsubscribe\r\n$2\r\nch\r\n:0\r\n\
        >3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n\
        >3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n\
        %0\r\n\
        -ERR value is not an integer or out of range\r\n\
        -ERR wrong number of arguments for 'ssubscribe' command\r\n";

    fn recorded_commands() -> Vec<Vec<&'static [u8]>> {
        [
            "SET k v",
            "GET k",
            "GET missing",
            "SSUBSCRIBE ch ch2",
            "SPUBLISH ch hi",
            "subscribe a",
            "PUBLISH a x",
            "PSUBSCRIBE p*",
            "PUBLISH pq y",
            "NOSUCH",
            "UNSUBSCRIBE",
            "SUNSUBSCRIBE",
            "PUNSUBSCRIBE",
            "UNSUBSCRIBE",
            "HGETALL nokey",
            "INCR k",
            "SSUBSCRIBE",
        ]
        .iter()
        .map(|line| line.split(' ').map(str::as_bytes).collect())
        .collect()
    }

    #[test]
    fn a_recorded_stream_brings_the_same_events_however_it_is_split() {
        let session = || {
            let mut out = BytesMut::new();
            let mut session = Session::new(&url("redis://h/2"), &mut out);
            // The commands are queued before the handshake's replies come (the link itself waits
            // for `Up`), so that one recorded stream covers both.
            session.handshake.clear();
            for (tag, args) in recorded_commands().iter().enumerate() {
                session.command(&mut out, args, tag as u64 + 1);
            }
            session.handshake.extend([Step::Hello, Step::Select(2)]);
            session
        };
        let events = receive_in_pieces(session, RECORDED);
        let described: Vec<String> = events.iter().map(describe).collect();
        assert_eq!(
            described,
            [
                "up",
                "reply 1: OK",
                "reply 2: v",
                "reply 3: nil",
                "push ssubscribe ch :1",
                "push ssubscribe ch2 :2",
                "reply 4: ssubscribe ch2 :2",
                "message ch: hi",
                "reply 5: :1",
                "push subscribe a :1",
                "reply 6: subscribe a :1",
                "message a: x",
                "reply 7: :1",
                "push psubscribe p* :2",
                "reply 8: psubscribe p* :2",
                "message pq: y",
                "reply 9: :1",
                "reply 10: -ERR unknown command 'NOSUCH', with args beginning with: ",
                "push unsubscribe a :1",
                "reply 11: unsubscribe a :1",
                "push sunsubscribe ch2 :1",
                "push sunsubscribe ch :0",
                "reply 12: sunsubscribe ch :0",
                "push punsubscribe p* :0",
                "reply 13: punsubscribe p* :0",
                "push unsubscribe nil :0",
                "reply 14: unsubscribe nil :0",
                "reply 15: map of 0",
                "reply 16: -ERR value is not an integer or out of range",
                "reply 17: -ERR wrong number of arguments for 'ssubscribe' command",
            ]
        );
        let mut session = session();
        session
            .receive(&mut BytesMut::from(RECORDED), &mut Vec::new())
            .unwrap();
        assert_eq!(session.pending(), 0);
        assert!(session.subscribed.iter().all(HashSet::is_empty));
    }

    #[test]
    fn pushes_between_replies_are_never_taken_for_one() {
        let (mut session, mut out) = ready();
        session.command(&mut out, &[b"GET", b"a"], 1);
        session.command(&mut out, &[b"GET", b"b"], 2);
        assert_eq!(session.pending(), 2);
        let stream = b">3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$5\r\nhello\r\n\
            $1\r\nA\r\n\
            >2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n\
            >3\r\n$12\r\nsunsubscribe\r\n$4\r\nroom\r\n:0\r\n\
            $1\r\nB\r\n";
        let events = receive_in_pieces(|| ready().0.with_pending([1, 2]), stream);
        let described: Vec<String> = events.iter().map(describe).collect();
        assert_eq!(
            described,
            [
                "message room: hello",
                "reply 1: A",
                "push invalidate k",
                // A cluster moved the slot: no command is answered by it.
                "push sunsubscribe room :0",
                "reply 2: B",
            ]
        );
        assert!(matches!(&events[0], LinkEvent::Message { payload, .. } if payload == "hello"));
    }

    impl Session {
        /// The session with `GET` commands tagged `tags` waiting.
        fn with_pending(mut self, tags: impl IntoIterator<Item = u64>) -> Session {
            for tag in tags {
                self.command(&mut BytesMut::new(), &[b"GET", b"x"], tag);
            }
            self
        }
    }

    #[test]
    fn handshake_with_auth_and_select() {
        let mut out = BytesMut::new();
        let mut session = Session::new(&url("redis://:s3cr%20t@h/3"), &mut out);
        assert_eq!(
            &out[..],
            b"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\ns3cr t\r\n\
              *2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"
        );
        assert!(!session.is_ready());
        let mut events = Vec::new();
        let mut input = BytesMut::from(&b"%1\r\n$5\r\nproto\r\n:3\r\n"[..]);
        session.receive(&mut input, &mut events).unwrap();
        assert!(
            !session.is_ready() && events.is_empty(),
            "SELECT is still to come"
        );
        input.extend_from_slice(b"+OK\r\n");
        session.receive(&mut input, &mut events).unwrap();
        assert!(session.is_ready());
        assert_eq!(events, [LinkEvent::Up]);
        assert_eq!(session.pending(), 0);

        let mut out = BytesMut::new();
        Session::new(&url("redis://alice:pw@h"), &mut out);
        assert_eq!(
            &out[..],
            b"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$2\r\npw\r\n"
        );
        let mut out = BytesMut::new();
        Session::new(&url("redis://h"), &mut out);
        assert_eq!(&out[..], b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
    }

    fn handshake_error(url_text: &str, replies: &[u8]) -> String {
        let mut session = Session::new(&url(url_text), &mut BytesMut::new());
        let mut events = Vec::new();
        let error = session
            .receive(&mut BytesMut::from(replies), &mut events)
            .unwrap_err();
        assert!(events.is_empty() && !session.is_ready());
        error
    }

    #[test]
    fn a_refused_handshake_is_an_error_with_the_servers_words() {
        assert_eq!(
            handshake_error(
                "redis://:wrong@h",
                b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
            ),
            "Redis refused the handshake (HELLO 3): \
             WRONGPASS invalid username-password pair or user is disabled."
        );
        assert!(handshake_error(
            "redis://h",
            b"-NOAUTH HELLO must be called with the client already authenticated\r\n"
        )
        .ends_with("NOAUTH HELLO must be called with the client already authenticated"));
        assert_eq!(
            handshake_error("redis://h/99", b"%0\r\n-ERR DB index is out of range\r\n"),
            "Redis refused SELECT 99: ERR DB index is out of range"
        );
    }

    #[test]
    fn a_redis_without_resp3_is_named_as_the_problem() {
        assert_eq!(
            handshake_error("redis://h", b"-ERR unknown command 'HELLO'\r\n"),
            "Redis 6 or later with RESP3 is needed: HELLO 3 was refused \
             (ERR unknown command 'HELLO')"
        );
        assert!(
            handshake_error("redis://h", b"-NOPROTO unsupported protocol version\r\n")
                .starts_with("Redis 6 or later with RESP3 is needed")
        );
    }

    #[test]
    fn an_error_reply_is_a_reply() {
        let (mut session, mut out) = ready();
        session.command(&mut out, &[b"INCR", b"text"], 7);
        session.command(&mut out, &[b"EVAL", b"x", b"0"], 8);
        session.command(&mut out, &[b"PING"], 9);
        let mut events = Vec::new();
        let mut input = BytesMut::from(
            &b"-ERR value is not an integer\r\n!21\r\nSYNTAX invalid syntax\r\n+PONG\r\n"[..],
        );
        session.receive(&mut input, &mut events).unwrap();
        assert!(matches!(
            &events[0],
            LinkEvent::Reply { tag: 7, reply: BytesFrame::SimpleError { data, .. } }
                if &data[..] == "ERR value is not an integer"
        ));
        assert!(matches!(
            &events[1],
            LinkEvent::Reply { tag: 8, reply: BytesFrame::BlobError { data, .. } }
                if data == "SYNTAX invalid syntax"
        ));
        assert_eq!(describe(&events[2]), "reply 9: PONG");
        assert_eq!(session.pending(), 0);
    }

    #[test]
    fn what_is_not_resp3_or_answers_nothing_is_an_error() {
        let (mut session, _) = ready();
        let error = session
            .receive(&mut BytesMut::from(&b"?what\r\n"[..]), &mut Vec::new())
            .unwrap_err();
        assert!(error.starts_with("Redis sent what is not RESP3"), "{error}");
        let (mut session, _) = ready();
        let error = session
            .receive(&mut BytesMut::from(&b"+OK\r\n"[..]), &mut Vec::new())
            .unwrap_err();
        assert!(error.starts_with("Redis sent a reply no command was waiting for"));
    }

    #[test]
    fn encode_command_is_an_array_of_blob_strings() {
        let mut buf = BytesMut::from(&b"before"[..]);
        encode_command(&mut buf, &[b"SET", b"k", b"a\r\nb\0"]);
        assert_eq!(
            &buf[..],
            b"before*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nb\0\r\n"
        );
        let many: Vec<&[u8]> = vec![b"x"; 20];
        let mut buf = BytesMut::new();
        encode_command(&mut buf, &many);
        assert!(buf.starts_with(b"*20\r\n$1\r\nx\r\n") && buf.len() == 5 + 20 * 7);
    }
}
