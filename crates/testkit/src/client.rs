//! One TCP client, as telnet or nc would be, reading lines against deadlines.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::{unstamp, WAIT};

/// One TCP client, reading lines against deadlines and keeping a transcript of both directions.
pub struct Client {
    stream: TcpStream,
    /// Bytes read but not yet split into lines.
    /// A ring, so taking a line off the front does not move the rest (a busy reader's buffer
    /// holds thousands of lines).
    pending: std::collections::VecDeque<u8>,
    /// Every line sent (`> `) and received (`< `), for failure messages.
    transcript: Vec<String>,
    /// Whether the server has closed its side.
    eof: bool,
    pub nick: String,
    /// The resume key from the last welcome, if any.
    pub resume_key: Option<String>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the server");
        Client::from_stream(stream)
    }

    /// Connects from a chosen local address (the whole 127.0.0.0/8 is loopback on Linux).
    pub fn connect_from(addr: SocketAddr, local: IpAddr) -> Client {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket
            .bind(&SocketAddr::new(local, 0).into())
            .expect("bind the client's source address");
        socket.connect(&addr.into()).expect("connect to the server");
        Client::from_stream(socket.into())
    }

    /// Wraps a stream the test connected itself (e.g. with special socket options).
    pub fn connect_stream(stream: TcpStream) -> Client {
        Client::from_stream(stream)
    }

    fn from_stream(stream: TcpStream) -> Client {
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            pending: std::collections::VecDeque::new(),
            transcript: Vec::new(),
            eof: false,
            nick: String::new(),
            resume_key: None,
        }
    }

    /// Sends the login line and reads the welcome up to its last line (the resume key).
    pub fn login(&mut self, line: &str) {
        self.nick = line.split(' ').next().unwrap_or(line).to_string();
        self.send(line);
        // The resume key line ends the welcome, in English or Korean.
        let key_line = self.expect_where("with the resume key", |l| {
            l.starts_with("-- Resume key: ") || l.starts_with("-- 재접속 키: ")
        });
        self.resume_key = key_line
            .split(": ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .map(str::to_string);
    }

    /// Sends one line, ending it with `\n` as nc does.
    pub fn send(&mut self, line: &str) {
        self.transcript.push(format!("> {line}"));
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.stream.write_all(&bytes).expect("write to the server");
    }

    /// Sends raw bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.transcript
            .push(format!("> (raw) {:?}", String::from_utf8_lossy(bytes)));
        self.write_raw(bytes).expect("write to the server");
    }

    /// Writes raw bytes without recording them or panicking (for clients the server may drop).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next line, or `None` at EOF or if none arrives by `deadline`.
    pub fn next_line_by(&mut self, deadline: Instant) -> Option<String> {
        loop {
            if let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
                let mut raw: Vec<u8> = self.pending.drain(..=pos).collect();
                raw.pop();
                if raw.last() == Some(&b'\r') {
                    raw.pop();
                }
                let line = String::from_utf8_lossy(&raw).into_owned();
                self.transcript.push(format!("< {line}"));
                return Some(line);
            }
            if self.eof {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            self.stream
                .set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))
                .unwrap();
            let mut buf = [0u8; 64 * 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.pending.extend(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    self.transcript.push("< (connection reset)".into());
                    self.eof = true;
                }
                Err(e) => panic!("read from the server: {e}\n{}", self.transcript()),
            }
        }
    }

    /// The next line, which must arrive within `WAIT`.
    pub fn next_line(&mut self) -> String {
        match self.next_line_by(Instant::now() + WAIT) {
            Some(line) => line,
            None => self.fail("expected another line"),
        }
    }

    /// Reads lines until one satisfies `pred`, and returns it. Lines before it are skipped.
    pub fn expect_where(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        while let Some(line) = self.next_line_by(deadline) {
            if pred(&line) {
                return line;
            }
        }
        self.fail(&format!("expected a line {what}"))
    }

    /// Reads lines until one contains `needle`.
    pub fn expect(&mut self, needle: &str) -> String {
        self.expect_where(&format!("containing {needle:?}"), |l| l.contains(needle))
    }

    /// Reads lines until one starts with `prefix`.
    pub fn expect_prefix(&mut self, prefix: &str) -> String {
        self.expect_where(&format!("starting with {prefix:?}"), |l| {
            l.starts_with(prefix)
        })
    }

    /// Reads lines until one equals `exact`.
    pub fn expect_exact(&mut self, exact: &str) -> String {
        self.expect_where(&format!("equal to {exact:?}"), |l| l == exact)
    }

    /// Reads lines until one is a chat line `[HH:MM] <rest>` with exactly this rest.
    pub fn expect_stamped(&mut self, rest: &str) -> String {
        self.expect_where(&format!("\"[HH:MM] {rest}\""), |l| unstamp(l) == Some(rest))
    }

    /// The next line must satisfy `pred` (nothing skipped).
    pub fn expect_next(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let line = self.next_line();
        if !pred(&line) {
            self.fail(&format!("expected the next line {what}, got {line:?}"));
        }
        line
    }

    /// Reads exactly `n` raw bytes (a file's payload after its `=file` header line).
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        while self.pending.len() < n {
            if self.eof || Instant::now() >= deadline {
                self.fail(&format!(
                    "expected {n} raw bytes, got {} before {}",
                    self.pending.len(),
                    if self.eof { "EOF" } else { "the deadline" }
                ));
            }
            self.stream
                .set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let mut buf = [0u8; 64 * 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(k) => self.pending.extend(&buf[..k]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("read from the server: {e}\n{}", self.transcript()),
            }
        }
        let bytes: Vec<u8> = self.pending.drain(..n).collect();
        self.transcript.push(format!("< ({n} raw bytes)"));
        bytes
    }

    /// Reads a file delivery: the `=file ID SIZE FROM NAME` header (skipping lines before it)
    /// and its payload. Returns (id, from, name, payload).
    pub fn expect_file(&mut self) -> (u64, String, String, Vec<u8>) {
        let header = self.expect_prefix("=file ");
        let mut parts = header["=file ".len()..].splitn(4, ' ');
        let mut next = || parts.next().unwrap_or_default().to_string();
        let (id, size, from, name) = (next(), next(), next(), next());
        let (Ok(id), Ok(size)) = (id.parse(), size.parse()) else {
            self.fail(&format!("bad file header {header:?}"));
        };
        let payload = self.read_bytes(size);
        (id, from, name, payload)
    }

    /// Reads until the server closes the connection; returns the lines read on the way.
    pub fn expect_closed(&mut self) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut lines = Vec::new();
        while let Some(line) = self.next_line_by(deadline) {
            lines.push(line);
        }
        if !self.eof {
            self.fail("expected the server to close the connection");
        }
        lines
    }

    /// Collects every line that arrives within `window` (no line is required).
    pub fn lines_within(&mut self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut lines = Vec::new();
        while let Some(line) = self.next_line_by(deadline) {
            lines.push(line);
        }
        lines
    }

    /// Asserts that no line satisfying `pred` arrives within `window`.
    pub fn expect_none_within(
        &mut self,
        window: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) {
        for line in self.lines_within(window) {
            if pred(&line) {
                self.fail(&format!("expected no line {what}, got {line:?}"));
            }
        }
    }

    /// A round trip through the server: everything the server sent before it answers `/help
    /// COMMAND` has been read once this returns. Used to prove something did *not* arrive.
    pub fn sync(&mut self) -> Vec<String> {
        self.send("/help quit");
        let deadline = Instant::now() + WAIT;
        let mut before = Vec::new();
        while let Some(line) = self.next_line_by(deadline) {
            if line.starts_with("-- /quit") {
                return before;
            }
            before.push(line);
        }
        self.fail("expected the answer to /help quit")
    }

    /// `sync()`, failing if any line at all arrived before the answer: proves silence.
    pub fn expect_quiet(&mut self) {
        let lines = self.sync();
        if !lines.is_empty() {
            self.fail(&format!("expected no lines, got {lines:?}"));
        }
    }

    /// `sync` for a client that has not logged in: an invalid login line is the round trip.
    pub fn sync_before_login(&mut self) -> Vec<String> {
        self.send("/");
        let deadline = Instant::now() + WAIT;
        let mut before = Vec::new();
        while let Some(line) = self.next_line_by(deadline) {
            if line.starts_with("! nick-invalid: ") {
                self.expect_next("the prompt after the sync", |l| {
                    l == "-- Enter your nickname:"
                });
                return before;
            }
            before.push(line);
        }
        self.fail("expected the refusal of the login line \"/\"")
    }

    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Closes both directions at once (a dropped connection, as far as the server can tell).
    pub fn drop_connection(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Closes with a TCP reset instead of a FIN (SO_LINGER 0).
    pub fn reset(self) {
        let socket = socket2::SockRef::from(&self.stream);
        let _ = socket.set_linger(Some(Duration::ZERO));
        drop(self);
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The transcript so far, for failure messages.
    pub fn transcript(&self) -> String {
        const SHOWN: usize = 80;
        let mut out = format!("---- transcript of {:?} ----\n", self.nick);
        let skipped = self.transcript.len().saturating_sub(SHOWN);
        if skipped > 0 {
            out.push_str(&format!("({skipped} earlier lines not shown)\n"));
        }
        for line in &self.transcript[skipped..] {
            match line.char_indices().nth(200) {
                Some((cut, _)) => out.push_str(&format!("{}...", &line[..cut])),
                None => out.push_str(line),
            }
            out.push('\n');
        }
        out.push_str("---- end of transcript ----");
        out
    }

    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        panic!("{} ({what})\n{}", self.nick, self.transcript())
    }
}
