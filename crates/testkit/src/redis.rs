//! A real `redis-server` for the cluster's tests: on a free loopback port, persistence off, in a
//! directory of its own; stopped and started again on the same port to test an outage.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{TempDir, WAIT};

/// How Debian's package names the server, and how `scripts/test.sh` installs it.
const INSTALL_HINT: &str = "the cluster tests need redis-server and redis-cli (Debian's \
                            redis-server package; scripts/test.sh installs it)";

/// A running `redis-server`; killed on drop.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: TempDir,
}

impl Redis {
    /// A new server on a free loopback port.
    pub fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Redis {
            child: None,
            port,
            dir: TempDir::new("redis"),
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Kills the server (SIGKILL: what it held is gone, as after a crash).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server after it saved what it holds (`SHUTDOWN SAVE`): a `restart` loads it
    /// again, as a Redis with persistence comes back.
    pub fn stop_saving(&mut self) {
        let _ = self.cli(&["SHUTDOWN", "SAVE"]);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on its port, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): {INSTALL_HINT}"));
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while self.cli(&["PING"]).trim() != "PONG" {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING",
                self.port
            );
            // Polling for a process to come up: there is no event to wait on.
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs one command with `redis-cli` and returns what it printed (`--no-raw` off: one value
    /// a line).
    pub fn cli(&self, args: &[&str]) -> String {
        if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_err() {
            return String::new();
        }
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--raw"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}): {INSTALL_HINT}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until `cli(args)` prints something `pred` accepts, and returns it.
    pub fn wait_for(&self, args: &[&str], pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self.cli(args);
            if pred(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "redis-cli {args:?} printed {out:?}, not what the test waits for"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
