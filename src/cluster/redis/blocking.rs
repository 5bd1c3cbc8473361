//! A few commands on a plain blocking socket, for what a node does once at start, before its
//! reactor runs (claiming its node id): connect, the handshake, the commands pipelined, their
//! replies, close.
//!
//! The protocol is the reactor link's own [`Session`], so the handshake, its errors and the
//! matching of replies are the same; only the socket differs. Everything, from connecting to
//! the last reply, happens within one timeout.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use redis_protocol::resp3::types::BytesFrame;

use super::session::Session;
use super::url::RedisUrl;
use super::LinkEvent;

/// Connects to `url`, does the handshake, sends `commands` (each a command's arguments) in one
/// write, and returns their replies in order; error replies are frames like the others. `Err`
/// when Redis cannot be reached, refuses the handshake, closes the connection, or has not
/// answered everything within `timeout` of the call.
pub fn run(
    url: &RedisUrl,
    commands: &[Vec<Vec<u8>>],
    timeout: Duration,
) -> Result<Vec<BytesFrame>, String> {
    let deadline = Instant::now() + timeout;
    let mut socket = Socket::connect(url, deadline, timeout)?;
    let mut out = BytesMut::new();
    let mut session = Session::new(url, &mut out);
    socket.write_all(&out)?;
    out.clear();
    let mut events = Vec::new();
    // Commands wait for the handshake: if `SELECT` were refused, they must not run on db 0.
    while !session.is_ready() {
        socket.read_into(&mut session, &mut events)?;
    }
    for (tag, command) in commands.iter().enumerate() {
        let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
        session.command(&mut out, &args, tag as u64);
    }
    socket.write_all(&out)?;
    let mut replies = Vec::with_capacity(commands.len());
    while replies.len() < commands.len() {
        events.clear();
        socket.read_into(&mut session, &mut events)?;
        for event in events.drain(..) {
            if let LinkEvent::Reply { reply, .. } = event {
                replies.push(reply);
            }
        }
    }
    Ok(replies)
}

/// A blocking socket whose every read and write ends by `deadline`.
struct Socket {
    stream: TcpStream,
    input: BytesMut,
    scratch: Vec<u8>,
    deadline: Instant,
    timeout: Duration,
    addr: String,
}

impl Socket {
    fn connect(url: &RedisUrl, deadline: Instant, timeout: Duration) -> Result<Socket, String> {
        let addr = url.addr_string();
        let addrs = addr
            .to_socket_addrs()
            .map_err(|e| format!("looking up {} failed: {e}", url.host))?;
        let mut failure = format!("{} has no address", url.host);
        for candidate in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&candidate, left) {
                Ok(stream) => {
                    stream
                        .set_nodelay(true)
                        .map_err(|e| format!("setting TCP_NODELAY failed: {e}"))?;
                    return Ok(Socket {
                        stream,
                        input: BytesMut::new(),
                        scratch: vec![0; 16 * 1024],
                        deadline,
                        timeout,
                        addr,
                    });
                }
                Err(e) => failure = format!("connecting to {candidate} failed: {e}"),
            }
        }
        Err(failure)
    }

    /// The time left, or the error that says it ran out.
    fn left(&self) -> Result<Duration, String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timed_out());
        }
        Ok(left)
    }

    fn timed_out(&self) -> String {
        format!(
            "Redis at {} did not answer within {:?}",
            self.addr, self.timeout
        )
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), String> {
        let left = self.left()?;
        self.stream
            .set_write_timeout(Some(left))
            .and_then(|()| self.stream.write_all(bytes))
            .map_err(|e| match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.timed_out(),
                _ => format!("writing to Redis at {} failed: {e}", self.addr),
            })
    }

    /// One read, decoded by `session` into `events`.
    fn read_into(
        &mut self,
        session: &mut Session,
        events: &mut Vec<LinkEvent>,
    ) -> Result<(), String> {
        loop {
            let left = self.left()?;
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| format!("setting a read timeout failed: {e}"))?;
            match self.stream.read(&mut self.scratch) {
                Ok(0) => return Err(format!("Redis at {} closed the connection", self.addr)),
                Ok(n) => {
                    self.input.extend_from_slice(&self.scratch[..n]);
                    return session.receive(&mut self.input, events);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.timed_out())
                }
                Err(e) => return Err(format!("reading from Redis at {} failed: {e}", self.addr)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::redis::test_server::{free_port, TestRedis};

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn command(line: &str) -> Vec<Vec<u8>> {
        line.split(' ').map(|arg| arg.as_bytes().to_vec()).collect()
    }

    fn url(text: &str) -> RedisUrl {
        text.parse().unwrap()
    }

    #[test]
    fn runs_pipelined_commands_and_returns_their_replies_in_order() {
        let redis = TestRedis::start(&[]);
        let commands = [
            command("SET node:next 41"),
            command("INCR node:next"),
            command("INCR node:next"),
            command("HSET"),
            command("GET node:next"),
        ];
        let replies = run(&url(&redis.url("", 5)), &commands, TIMEOUT).unwrap();
        assert_eq!(replies.len(), 5);
        assert!(matches!(&replies[0], BytesFrame::SimpleString { data, .. } if data == "OK"));
        assert!(matches!(replies[1], BytesFrame::Number { data: 42, .. }));
        assert!(matches!(replies[2], BytesFrame::Number { data: 43, .. }));
        assert!(matches!(&replies[3], BytesFrame::SimpleError { data, .. }
            if data.starts_with("ERR wrong number of arguments")));
        assert!(matches!(&replies[4], BytesFrame::BlobString { data, .. } if data == "43"));
        // The commands ran in db 5, as the URL says.
        let in_db0 = run(
            &url(&redis.url("", 0)),
            &[command("GET node:next")],
            TIMEOUT,
        )
        .unwrap();
        assert_eq!(in_db0, [BytesFrame::Null]);
        assert_eq!(run(&url(&redis.url("", 0)), &[], TIMEOUT).unwrap(), []);
    }

    #[test]
    fn a_refused_login_is_the_servers_error() {
        let redis = TestRedis::start(&["--requirepass", "secret"]);
        let error = run(&url(&redis.url(":nope@", 0)), &[command("PING")], TIMEOUT).unwrap_err();
        assert!(error.contains("WRONGPASS"), "{error}");
        let replies = run(&url(&redis.url(":secret@", 0)), &[command("PING")], TIMEOUT).unwrap();
        assert!(matches!(&replies[0], BytesFrame::SimpleString { data, .. } if data == "PONG"));
    }

    #[test]
    fn nothing_listening_is_an_error() {
        let port = free_port();
        let error = run(&url(&format!("redis://127.0.0.1:{port}")), &[], TIMEOUT).unwrap_err();
        assert!(
            error.starts_with(&format!("connecting to 127.0.0.1:{port} failed")),
            "{error}"
        );
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        // The kernel accepts the connection into the backlog; nothing ever reads or answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let timeout = Duration::from_millis(200);
        let error = run(&url(&format!("redis://127.0.0.1:{port}")), &[], timeout).unwrap_err();
        assert_eq!(
            error,
            format!("Redis at 127.0.0.1:{port} did not answer within 200ms")
        );
    }
}
