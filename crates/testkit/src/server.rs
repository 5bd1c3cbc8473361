//! A running server: the real binary on 127.0.0.1 port 0, its log, its process figures.

use std::io::{self, BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::{bin, Client, SERVER, WAIT};

/// Runs the server binary with `args` to its exit. A server that starts after all (it should
/// not) is killed at the deadline, so the test fails instead of hanging.
pub fn run_to_exit(args: &[&str]) -> Output {
    let mut child = Command::new(bin(SERVER))
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .env_remove("REACTOR_CHAT_ADMIN_KEY")
        .env_remove("STATE_DIRECTORY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reactor-chat");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the server") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait().expect("wait for the killed server");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // What it wrote before it exited (or was killed) is all in the pipes by now.
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut out = child.stdout.take().expect("piped stdout");
    out.read_to_end(&mut stdout).unwrap();
    let mut err = child.stderr.take().expect("piped stderr");
    err.read_to_end(&mut stderr).unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

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
    bind: Option<String>,
    first_user_op: bool,
}

impl ServerBuilder {
    /// Starts the server as deployed: without `--first-user-op`, which the harness otherwise
    /// adds so that the first user of a test is operator.
    pub fn without_first_user_op(mut self) -> Self {
        self.first_user_op = false;
        self
    }

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

    /// Binds `addr` instead of 127.0.0.1 port 0 (say `0.0.0.0:0`, every interface).
    pub fn bind(mut self, addr: &str) -> Self {
        self.bind = Some(addr.to_string());
        self
    }

    /// Starts the binary on 127.0.0.1 port 0 (or `bind`'s address) and waits for it to print the
    /// address it bound.
    pub fn start(self) -> Server {
        // Nothing is written to disk (--ephemeral) unless the test asks for it with its own
        // --data-dir, or with the STATE_DIRECTORY systemd would set,
        // which the server takes as its --data-dir: a server started by the tests must never
        // write ./reactor-chat-data into the working directory (even --no-history keeps bans
        // and the admin key there).
        let mut args = self.args;
        let has = |args: &[String], flag: &str| {
            args.iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
        };
        let state_directory = self.envs.iter().any(|(k, _)| k == "STATE_DIRECTORY");
        if !state_directory && !has(&args, "--data-dir") && !has(&args, "--ephemeral") {
            args.push("--ephemeral".into());
        }
        // Most tests need an operator: the first user is one, unless the test gives its own
        // admin key (then /op is how) or asks for the server as deployed.
        let own_key = has(&args, "--admin-key")
            || has(&args, "--admin-key-file")
            || self.envs.iter().any(|(k, _)| k == "REACTOR_CHAT_ADMIN_KEY");
        if self.first_user_op && !own_key && !has(&args, "--first-user-op") {
            args.push("--first-user-op".into());
        }
        let bind = self.bind.unwrap_or_else(|| "127.0.0.1:0".into());
        Server::spawn(&bind, args, self.envs, self.nofile)
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
            bind: None,
            first_user_op: true,
        }
    }

    fn spawn(
        bind: &str,
        args: Vec<String>,
        envs: Vec<(String, String)>,
        nofile: Option<u64>,
    ) -> Server {
        let mut cmd = Command::new(bin(SERVER));
        cmd.arg("--bind")
            .arg(bind)
            .args(&args)
            .env_remove("REACTOR_CHAT_ADMIN_KEY")
            // Tests run under a systemd unit must not hand the servers that unit's state directory.
            .env_remove("STATE_DIRECTORY")
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
