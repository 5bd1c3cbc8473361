//! The harness every integration test uses: the real `reactor-chat` binary on an ephemeral port,
//! and clients that speak TCP the way telnet or nc would.
//!
//! Nothing here sleeps for a fixed time to "let things settle": every read waits for a line that
//! matches, up to a deadline. When an expectation fails, the panic message carries the client's
//! transcript, and the server's activity log is printed when the `Server` is dropped while
//! panicking, so a failure can be understood from the test output alone.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long an expected line may take to arrive. Generous: CI machines are shared and slow, and a
/// passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running server. Killed on drop; its log is printed if the test is failing.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    args: Vec<String>,
    /// A data directory owned by this server (removed on drop), if the harness made one.
    data_dir: Option<TempDir>,
}

/// Builds a server command line: `Server::builder().arg("--grace").arg("1").start()`.
pub struct ServerBuilder {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    nofile: Option<u64>,
}

impl ServerBuilder {
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Starts the server with this open-files limit (soft and hard), to run it out of descriptors.
    pub fn nofile(mut self, limit: u64) -> Self {
        self.nofile = Some(limit);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    /// Starts the binary on 127.0.0.1 port 0 and waits for it to print the address it bound.
    pub fn start(self) -> Server {
        // History is off unless the test asks for it with its own --data-dir: a server started
        // by the tests must never write ./reactor-chat-data into the working directory.
        let mut args = self.args;
        if !args
            .iter()
            .any(|a| a == "--data-dir" || a == "--no-history")
        {
            args.push("--no-history".into());
        }
        Server::spawn(args, self.envs, self.nofile)
    }
}

impl Server {
    /// A server with every default but the address.
    pub fn start() -> Server {
        Server::builder().start()
    }

    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            args: Vec::new(),
            envs: Vec::new(),
            nofile: None,
        }
    }

    fn spawn(args: Vec<String>, envs: Vec<(String, String)>, nofile: Option<u64>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reactor-chat"));
        cmd.arg("--bind")
            .arg("127.0.0.1:0")
            .args(&args)
            .env_remove("REACTOR_CHAT_ADMIN_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &envs {
            cmd.env(k, v);
        }
        if let Some(limit) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
            unsafe {
                cmd.pre_exec(move || {
                    rlimit::setrlimit(rlimit::Resource::NOFILE, limit, limit)
                        .map_err(io::Error::other)
                });
            }
        }
        let mut child = cmd.spawn().expect("start reactor-chat");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {} // keep the pipe drained
        });
        let first = match rx.recv_timeout(WAIT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                thread::sleep(Duration::from_millis(100));
                panic!(
                    "the server did not print its address; args {args:?}; log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let addr = first
            .rsplit(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the server: {first:?}"));
        Server {
            child: Some(child),
            addr,
            log,
            args,
            data_dir: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The activity log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the activity log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("the log never said {needle:?}; log:\n{}", self.log());
    }

    /// A new client, connected but not logged in.
    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// A new client connected from another loopback address (127.0.0.x), as a different host.
    pub fn connect_from(&self, last_octet: u8) -> Client {
        Client::connect_from(self.addr, IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)))
    }

    /// A new client, logged in as `nick` (the welcome block read through its resume key line).
    pub fn login(&self, nick: &str) -> Client {
        let mut c = self.connect();
        c.login(nick);
        c
    }

    /// Sends a signal (`"TERM"`, `"INT"`, `"KILL"`) to the server.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Waits for the server to exit and returns its status.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the server did not exit within {within:?}; log:\n{}",
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Open file descriptors of the server process (Linux /proc).
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Resident memory of the server process in KiB (Linux /proc).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_ref().map(|d| d.path())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if thread::panicking() {
            // Let the log reader catch up with the last lines before printing.
            thread::sleep(Duration::from_millis(50));
            eprintln!(
                "---- server log (args {:?}) ----\n{}---- end of server log ----",
                self.args,
                self.log()
            );
        }
    }
}

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("reactor-chat-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

/// The text of a stamped line after `[HH:MM] `, if it is one.
pub fn unstamp(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let stamped = b.len() >= 8
        && b[0] == b'['
        && b[1..3].iter().all(u8::is_ascii_digit)
        && b[3] == b':'
        && b[4..6].iter().all(u8::is_ascii_digit)
        && b[6] == b']'
        && b[7] == b' ';
    stamped.then(|| &line[8..])
}

/// The part of a markdown text from the `heading` line to the next `## ` heading.
pub fn readme_section<'a>(readme: &'a str, heading: &str) -> &'a str {
    let start = readme.find(&format!("\n{heading}\n")).expect("the heading") + 1;
    let rest = &readme[start + heading.len()..];
    let end = rest
        .find("\n## ")
        .map_or(readme.len(), |e| start + heading.len() + e);
    &readme[start..end]
}

/// Checks that every flag a README table names is in a program's `--help`, and that every flag of
/// `--help` (but `--help` and `--version`) is in the README's list.
pub fn assert_flags_documented(help: &str, readme_flags: &[&str]) {
    for flag in readme_flags {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    for word in help.split_whitespace() {
        let flag = word
            .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .split('=')
            .next()
            .unwrap();
        if flag.starts_with("--") && flag.len() > 2 && !["--help", "--version"].contains(&flag) {
            assert!(readme_flags.contains(&flag), "the README lacks {flag}");
        }
    }
}
