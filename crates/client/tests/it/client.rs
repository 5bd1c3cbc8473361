//! The real `reactor-chat-client` binary against the real server, through pipes (so the client is
//! in plain mode: server lines on stdout, its own `~~` status lines on stderr), with raw TCP users
//! from `support` on the other side.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{unstamp, Server, TempDir, WAIT};

/// Which stream of the client a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

/// A running client. Killed on drop; its transcript is printed if the test is failing.
struct ClientProc {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Lines of stdout and of stderr, each in its own queue.
    out: Receiver<String>,
    err: Receiver<String>,
    /// Every line seen so far, both streams, for failure messages and whole-output checks.
    seen: Arc<Mutex<Vec<(Stream, String)>>>,
    /// Raw stdout bytes, to look for escape codes.
    raw_out: Arc<Mutex<Vec<u8>>>,
    /// The thread copying stdout: joined before `raw_out` is read whole.
    out_reader: Option<thread::JoinHandle<()>>,
}

impl ClientProc {
    fn start(server: &Server, args: &[&str], cwd: &Path) -> ClientProc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reactor-chat-client"))
            .arg(server.addr.to_string())
            .args(args)
            .current_dir(cwd)
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start reactor-chat-client");
        let (out_tx, out_rx) = mpsc::channel();
        let (err_tx, err_rx) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let raw_out = Arc::new(Mutex::new(Vec::new()));
        let mut out_reader = None;
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        for (stream, pipe, tx) in [
            (
                Stream::Out,
                Box::new(out) as Box<dyn std::io::Read + Send>,
                out_tx,
            ),
            (Stream::Err, Box::new(err), err_tx),
        ] {
            let (seen, raw) = (seen.clone(), raw_out.clone());
            let reader = thread::spawn(move || {
                let mut reader = BufReader::new(pipe);
                let mut buf = Vec::new();
                while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                    if stream == Stream::Out {
                        raw.lock().unwrap().extend_from_slice(&buf);
                    }
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    seen.lock().unwrap().push((stream, line.clone()));
                    let _ = tx.send(line);
                    buf.clear();
                }
            });
            if stream == Stream::Out {
                out_reader = Some(reader);
            }
        }
        ClientProc {
            stdin: child.stdin.take(),
            child,
            out: out_rx,
            err: err_rx,
            seen,
            raw_out,
            out_reader,
        }
    }

    /// Types one line into the client.
    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to the client's stdin");
        stdin.flush().unwrap();
    }

    /// Closes the client's stdin (the end of a piped script).
    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Reads lines of `stream` until one satisfies `pred`, within `WAIT`.
    fn expect(&mut self, stream: Stream, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let queue = match stream {
                Stream::Out => &self.out,
                Stream::Err => &self.err,
            };
            match queue.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(_) => self.fail(&format!("expected a line on {stream:?} {what}")),
            }
        }
    }

    fn expect_out(&mut self, needle: &str) -> String {
        self.expect(Stream::Out, &format!("containing {needle:?}"), |l| {
            l.contains(needle)
        })
    }

    fn expect_err(&mut self, needle: &str) -> String {
        self.expect(Stream::Err, &format!("containing {needle:?}"), |l| {
            l.contains(needle)
        })
    }

    /// Waits for the client to exit by itself.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the client") {
                return status;
            }
            if Instant::now() >= deadline {
                self.fail("expected the client to exit");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the client wrote to stdout. Call it after the client exited: it waits for the
    /// copying thread to reach the end of the pipe, so the last lines are not still in transit.
    fn raw_stdout(&mut self) -> Vec<u8> {
        if let Some(reader) = self.out_reader.take() {
            reader.join().expect("the stdout reader");
        }
        self.raw_out.lock().unwrap().clone()
    }

    fn transcript(&self) -> String {
        let mut out = String::from("---- client transcript ----\n");
        for (stream, line) in self.seen.lock().unwrap().iter() {
            let tag = if *stream == Stream::Out { "out" } else { "err" };
            out.push_str(&format!("{tag}| {line}\n"));
        }
        out.push_str("---- end of client transcript ----");
        out
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!("client: {what}\n{}", self.transcript())
    }
}

impl Drop for ClientProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            thread::sleep(Duration::from_millis(50));
            eprintln!("{}", self.transcript());
        }
    }
}

/// Logs in with --name, chats both ways with a raw TCP user, and leaves cleanly at EOF.
#[test]
fn logs_in_chats_both_ways_and_quits_at_end_of_input() {
    let server = Server::start();
    let dir = TempDir::new("client-chat");
    let mut bob = server.login("bob");
    let mut carol = ClientProc::start(&server, &["--name", "carol"], dir.path());
    carol.expect_out("-- Welcome, carol! You are in room lobby.");
    carol.expect_out("-- Resume key: ");
    bob.expect_stamped("* carol joined");

    carol.send("hello bob");
    bob.expect_stamped("carol: hello bob");
    bob.send("hi carol");
    let line = carol.expect_out("bob: hi carol");
    assert_eq!(unstamp(&line), Some("bob: hi carol"), "{line:?}");
    bob.send("/msg carol psst");
    carol.expect_out("*bob* psst");

    // Server commands pass through unchanged; /help shows the client's commands first.
    carol.send("/users");
    carol.expect_out("-- 2 users in lobby: bob (op), carol");
    carol.send("/help");
    carol.expect_err("~~   /send PATH");
    carol.expect_out("-- Commands:");

    carol.close_stdin();
    bob.expect_stamped("* carol left");
    carol.expect_out("-- bye final: goodbye, carol");
    assert!(carol.wait_exit().success());
}

/// `echo hi | reactor-chat-client ... --name bot`: the line is delivered before the client exits,
/// and stdout carries no escape codes (while `--color always` in the same pipe does).
#[test]
fn a_pipe_gets_plain_text_and_exits_cleanly() {
    let server = Server::start();
    let dir = TempDir::new("client-pipe");
    let mut bob = server.login("bob");
    for (args, colored) in [
        (&["--name", "bot"][..], false),
        (&["--name", "bot", "--color", "always"][..], true),
    ] {
        let mut bot = ClientProc::start(&server, args, dir.path());
        bot.send("hi");
        bot.close_stdin();
        bob.expect_stamped("bot: hi");
        bob.expect_stamped("* bot left");
        assert!(bot.wait_exit().success(), "{}", bot.transcript());
        let raw = bot.raw_stdout();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("goodbye, bot"), "{}", bot.transcript());
        assert_eq!(
            raw.contains(&0x1b),
            colored,
            "escape codes in stdout with {args:?}:\n{text:?}"
        );
    }
}

/// With no --name the first stdin line is the name; a refused one is followed by the next line.
/// With a refused --name in a pipe there is nobody to ask: the client exits with an error.
#[test]
fn a_refused_name_asks_again() {
    let server = Server::start();
    let dir = TempDir::new("client-nick");
    let mut bob = server.login("bob");
    let mut c = ClientProc::start(&server, &[], dir.path());
    c.send("bob");
    c.send("bob2");
    c.send("hello");
    c.expect_out("! nick-taken: ");
    c.expect_out("-- Welcome, bob2!");
    bob.expect_stamped("bob2: hello");
    c.close_stdin();
    assert!(c.wait_exit().success());

    let mut c = ClientProc::start(&server, &["--name", "bob"], dir.path());
    c.expect_out("! nick-taken: ");
    c.expect_err("refused the nickname bob");
    assert!(!c.wait_exit().success());
}

/// `/send PATH` uploads with `/file NAME BYTES` and the raw bytes; another user accepts it and
/// gets exactly the file's bytes.
#[test]
fn send_uploads_a_file_byte_for_byte() {
    let server = Server::start();
    let dir = TempDir::new("client-send");
    let mut bob = server.login("bob");
    let payload: Vec<u8> = (0..200_000u32)
        .map(|i| (i * 7 % 256) as u8)
        .chain(*b"\r\n\0\xff\n/quit\n")
        .collect();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, &payload).unwrap();
    let mut carol = ClientProc::start(&server, &["--name", "carol"], dir.path());
    carol.expect_out("-- Resume key: ");
    carol.send(&format!("/send {}", path.display()));
    carol.send("after the file");
    let offer = bob.expect("carol offers the file data.bin (");
    assert!(
        offer.contains("as #1: http://") && offer.contains("/files/1/data.bin?key="),
        "{offer}"
    );
    bob.expect_stamped("carol: after the file");
    carol.expect_out("-- Offered #1 data.bin");
    carol.expect_err("sent data.bin (200011 bytes)");
    bob.send("/accept 1");
    let (id, from, name, got) = bob.expect_file();
    assert_eq!((id, from.as_str(), name.as_str()), (1, "carol", "data.bin"));
    assert!(got == payload, "the delivered bytes differ from the file");

    carol.send("/send /no/such/file");
    carol.expect_err("cannot send /no/such/file");
}

/// A hostile name from a raw TCP uploader: `--accept-files` accepts it, and it is saved inside
/// `--download-dir` as To<me>_From<sender>_evil.txt; a second delivery gets a counter; an offer
/// over the limit is not accepted.
#[test]
fn accepted_files_are_saved_inside_the_download_dir_and_never_overwritten() {
    let server = Server::start();
    let root = TempDir::new("client-recv");
    let cwd = root.path().join("cwd");
    let downloads = root.path().join("inbox").join("files");
    std::fs::create_dir_all(&cwd).unwrap();
    let mut carol = ClientProc::start(
        &server,
        &[
            "--name",
            "carol",
            "--accept-files",
            "1000",
            "--download-dir",
            downloads.to_str().unwrap(),
        ],
        &cwd,
    );
    carol.expect_out("-- Resume key: ");
    let mut bob = server.login("bob");
    carol.expect_out("* bob joined");

    bob.send("/file ../../evil.txt 5");
    bob.send_raw(b"first");
    carol.expect_err("accepting #1 evil.txt from bob");
    carol.expect_err("saved #1 evil.txt from bob (5 bytes)");
    bob.send_raw(b"/file ../../evil.txt 7\nsecond!");
    carol.expect_err("saved #2 evil.txt from bob (7 bytes)");
    // Too big for --accept-files: offered, not accepted; the small one after it is.
    bob.send("/file big.txt 2000");
    bob.send_raw(&[b'x'; 2000]);
    carol.expect_err("type /accept 3 to save big.txt");
    bob.send("/file small.txt 3");
    bob.send_raw(b"abc");
    carol.expect_err("saved #4 small.txt from bob (3 bytes)");

    let mut saved: Vec<String> = std::fs::read_dir(&downloads)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    saved.sort();
    assert_eq!(
        saved,
        [
            "Tocarol_Frombob_evil (1).txt",
            "Tocarol_Frombob_evil.txt",
            "Tocarol_Frombob_small.txt"
        ]
    );
    let read = |name: &str| std::fs::read(downloads.join(name)).unwrap();
    assert_eq!(read("Tocarol_Frombob_evil.txt"), b"first");
    assert_eq!(read("Tocarol_Frombob_evil (1).txt"), b"second!");
    // Nothing escaped: the rest of the tree holds only the directories made above.
    for dir in [root.path(), &cwd, &root.path().join("inbox")] {
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n == "cwd" || n == "inbox" || n == "files"),
            "{} holds {names:?}",
            dir.display()
        );
    }
}

/// The server drops the idle client (`--idle-timeout`); the client reconnects by itself, reclaims
/// its name (the room sees "reconnected", not a new join) and shows what it missed.
#[test]
fn reconnects_after_the_server_drops_it_and_reclaims_the_name() {
    let server = Server::builder().args(["--idle-timeout", "2"]).start();
    let dir = TempDir::new("client-reconnect");
    let mut carol = ClientProc::start(&server, &["--name", "carol"], dir.path());
    carol.expect_out("-- Resume key: ");
    let mut bob = server.login("bob");

    // Bob keeps talking (so only carol goes idle) until carol is dropped, says something she
    // misses, and goes on until she is back.
    let deadline = Instant::now() + WAIT * 2;
    let (mut lost, mut back) = (false, false);
    while !back {
        assert!(Instant::now() < deadline, "{}", bob.transcript());
        bob.send("/help quit");
        for line in bob.lines_within(Duration::from_millis(200)) {
            match unstamp(&line) {
                Some("* carol lost the connection (ping timeout)") => {
                    lost = true;
                    bob.send("are you there?");
                }
                Some("* carol reconnected") if lost => back = true,
                Some(l) if l.starts_with("* carol joined") => bob.fail("a new join, not a resume"),
                _ => {}
            }
        }
    }
    carol.expect_out("-- bye reconnect: ping timeout");
    carol.expect_err("reconnecting in");
    carol.expect_out("-- Welcome back, carol!");
    carol.expect_out("-- You missed");
    carol.expect_out("bob: are you there?");
    carol.expect_err("reconnected as carol");
}

/// `--log FILE` keeps the conversation as plain text, your own lines included.
#[test]
fn log_keeps_the_conversation() {
    let server = Server::start();
    let dir = TempDir::new("client-log");
    let mut bob = server.login("bob");
    let mut carol = ClientProc::start(&server, &["--name", "carol", "--log"], dir.path());
    carol.expect_out("-- Resume key: ");
    carol.send("hello log");
    bob.expect_stamped("carol: hello log");
    bob.send("hi back");
    carol.expect_out("bob: hi back");
    carol.close_stdin();
    assert!(carol.wait_exit().success());
    let log = std::fs::read_to_string(dir.path().join("carol_chat_log.txt")).unwrap();
    for needle in [
        "-- Welcome, carol!",
        "carol: hello log",
        "bob: hi back",
        "goodbye, carol",
    ] {
        assert!(log.contains(needle), "{needle:?} not in the log:\n{log}");
    }
    assert!(!log.contains('\x1b'));
}

/// Every flag of the client's README table is in `reactor-chat-client --help`, and the reverse.
#[test]
fn client_help_and_readme_agree() {
    let out = Command::new(env!("CARGO_BIN_EXE_reactor-chat-client"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let section = crate::support::readme_section(
        include_str!("../../../../README.md"),
        "## The bundled client: `reactor-chat-client`",
    );
    let mut readme_flags: Vec<&str> = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `--")) {
        let cell = line[2..].split(" | ").next().unwrap();
        readme_flags.extend(
            cell.split('`')
                .filter(|w| w.starts_with("--"))
                .map(|w| w.split(' ').next().unwrap()),
        );
    }
    assert!(readme_flags.len() >= 6, "{readme_flags:?}");
    crate::support::assert_flags_documented(&help, &readme_flags);
}
