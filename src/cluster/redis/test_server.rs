//! A real `redis-server` for the link's tests, on a free loopback port, with no persistence and a
//! throw-away directory; killed when dropped. `scripts/test.sh` installs Redis where it is missing.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A loopback port nothing listens on (free when this returns; tests accept the small race).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// A running `redis-server`.
pub struct TestRedis {
    child: Option<Child>,
    pub port: u16,
    args: Vec<String>,
    dir: tempfile::TempDir,
}

impl TestRedis {
    /// Starts a server on a free port with `args` added to its command line
    /// (`--requirepass secret`, ...).
    pub fn start(args: &[&str]) -> TestRedis {
        let mut redis = TestRedis {
            child: None,
            port: free_port(),
            args: args.iter().map(|a| a.to_string()).collect(),
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        redis.restart();
        redis
    }

    /// `redis://{userinfo}127.0.0.1:port/db`, `userinfo` being `""` or ending in `@`.
    pub fn url(&self, userinfo: &str, db: u32) -> String {
        format!("redis://{userinfo}127.0.0.1:{}/{db}", self.port)
    }

    /// Kills the server at once (SIGKILL: no goodbye to its clients but the kernel's).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, and waits until it listens.
    pub fn restart(&mut self) {
        self.kill();
        let log = self.dir.path().join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting redis-server failed ({e}): scripts/test.sh installs it")
            });
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "redis-server on port {} did not start ({exited:?}); its log:\n{}",
                    self.port,
                    read_log(&log)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"))
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
