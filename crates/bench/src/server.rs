//! `--spawn-server PATH`: start reactor-chat on an ephemeral loopback port with load-test flags,
//! learn its address from its first line of output, and stop it when the run ends. With `--redis`,
//! PATH is a redis-server, started on a free loopback port with persistence off.
//!
//! The flags are fixed here and printed in the report, so a figure is never quoted without the
//! server configuration that produced it.

use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopped server may take to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(6);

/// A server this process started; stopped on drop.
pub struct Spawned {
    child: Child,
    pub addr: SocketAddr,
    pub flags: Vec<String>,
    /// The server's working directory: a fresh one, so whatever it writes relative to it (its
    /// history database by default) is the run's own and is removed afterwards.
    dir: PathBuf,
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// The flags a load preset runs the server with: flood control off (the bench floods by design),
/// room for every connection, and quiet logs (a log line per login would be measured too).
pub fn load_flags(max_clients: usize, extra: &[String]) -> Vec<String> {
    let max_clients = max_clients.to_string();
    let base = [
        "--bind",
        "127.0.0.1:0",
        "--rate",
        "0",
        "--max-clients",
        &max_clients,
        "--log-level",
        "warn",
    ];
    flag_list(&base, extra)
}

/// `base` then `extra`, as the owned strings a command line is made of.
fn flag_list(base: &[&str], extra: &[String]) -> Vec<String> {
    base.iter()
        .map(|s| s.to_string())
        .chain(extra.iter().cloned())
        .collect()
}

/// Starts `path` with `flags` and waits for its `reactor-chat listening on ADDR` line.
pub fn spawn(path: &str, flags: Vec<String>) -> io::Result<Spawned> {
    // Relative paths (the binary's own included) are taken from where the bench was started.
    let program = std::fs::canonicalize(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot find {path}: {e}")))?;
    let (mut child, dir) = start_in_fresh_dir(program.as_os_str(), path, &flags, Stdio::piped())?;
    let stdout = child.stdout.take().expect("stdout was piped");
    // A blocking read on a helper thread, so the wait is bounded by a timeout.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = tx.send(reader.read_line(&mut line).map(|_| line));
        // Keep draining so the server never blocks on a full pipe.
        let _ = io::copy(&mut reader, &mut io::sink());
    });
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => return Err(stop_with(child, &dir, e.to_string())),
        Err(_) => return Err(stop_with(child, &dir, "no address printed in time".into())),
    };
    let addr = line.trim().rsplit(' ').next().and_then(|a| a.parse().ok());
    match addr {
        Some(addr) => Ok(Spawned {
            child,
            addr,
            flags,
            dir,
        }),
        None => Err(stop_with(
            child,
            &dir,
            format!("unexpected first line {line:?}"),
        )),
    }
}

/// The flags Redis runs with for a comparison: loopback only, no snapshots or append-only file
/// (reactor-chat's history is on by default, so this favours Redis), room for every connection,
/// then `extra` (`--server-arg`). Output-buffer limits stay Redis's defaults, as reactor-chat's do.
pub fn redis_flags(port: u16, max_clients: usize, extra: &[String]) -> Vec<String> {
    let (port, max_clients) = (port.to_string(), max_clients.to_string());
    let base = [
        "--port",
        &port,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxclients",
        &max_clients,
        "--loglevel",
        "warning",
    ];
    flag_list(&base, extra)
}

/// Starts a redis-server on a free loopback port and waits until it answers `PING`.
pub fn spawn_redis(path: &str, max_clients: usize, extra: &[String]) -> io::Result<Spawned> {
    // A port the kernel just handed out and took back: free unless another process grabs it in
    // the moment before Redis binds it. Then Redis exits, and the PING below, which only Redis
    // answers with +PONG, keeps the bench from loading whatever took the port.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let flags = redis_flags(port, max_clients, extra);
    let (mut child, dir) = start_in_fresh_dir(path.as_ref(), path, &flags, Stdio::null())?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if answers_ping(addr) {
            return Ok(Spawned {
                child,
                addr,
                flags,
                dir,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(stop_with(child, &dir, format!("it exited: {status}")));
        }
        if Instant::now() >= deadline {
            return Err(stop_with(child, &dir, "it did not listen in time".into()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The run's temporary directory: the spawned server's working directory, where `--tls` also
/// puts its throw-away certificate. Created if need be; removed when the server stops.
pub fn run_dir() -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("reactor-chat-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Starts `program` with `flags` in a fresh temporary working directory (so whatever it writes
/// relative to it is the run's own), its output to `stdout`, its errors to ours.
fn start_in_fresh_dir(
    program: &OsStr,
    path: &str,
    flags: &[String],
    stdout: Stdio,
) -> io::Result<(Child, PathBuf)> {
    let dir = run_dir()?;
    let child = Command::new(program)
        .args(flags)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start {path}: {e}")))?;
    Ok((child, dir))
}

/// Whether a Redis server at `addr` answers `PING` within a second.
fn answers_ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

fn stop_with(mut child: Child, dir: &Path, why: String) -> io::Error {
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
    io::Error::other(format!("server did not start: {why}"))
}

impl Drop for Spawned {
    /// SIGTERM (the server flushes and exits 0), then SIGKILL if it takes too long.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid; it has not been reaped yet, so the pid is ours.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        let mut exited = false;
        while !exited && Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => exited = true,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
