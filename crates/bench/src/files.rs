//! `--preset filefanout`: one file offered to a room and accepted by every member at once, to
//! measure how fast the server fans a payload out and what it costs in memory.
//!
//! A sender uploads `--size` bytes (default 1 MiB) with `/file`; then every one of `--clients`
//! receivers sends `/accept` at the same moment and reads its `=file` header and payload, checking
//! every byte against the pattern that was sent. The server holds the payload once and queues the
//! same buffer to every receiver, so its peak resident memory should grow by about one payload,
//! not by one per receiver: the report gives the growth beside the payload size.
//!
//! With `--tls` every connection, the sender's and the receivers', goes through a [`Link`]: the
//! logins on blocking sockets, the fan-out on the mio loop, the same session throughout.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};

use crate::procstat::{self, Memory};
use crate::tls::{Link, TlsClient};

/// How long the whole fan-out may take before the run gives up.
const DEADLINE: Duration = Duration::from_secs(120);

/// What one run measured.
#[derive(Debug, serde::Serialize)]
pub struct FileReport {
    /// Every connection inside TLS (`--tls`).
    pub tls: bool,
    pub receivers: usize,
    pub size: usize,
    pub seconds: f64,
    /// Payload bytes delivered per second, all receivers together.
    pub bytes_per_sec: f64,
    pub files_per_sec: f64,
    pub corrupted: usize,
    pub server_before: Option<Memory>,
    pub server_after: Option<Memory>,
}

impl FileReport {
    pub fn table(&self) -> String {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let mut out = format!(
            "file fan-out: {} receivers x {} bytes{}\n  time        {:.3} s\n  throughput  {:.1} MiB/s ({:.0} files/s)\n  corrupted   {}\n",
            self.receivers,
            self.size,
            if self.tls { ", over TLS" } else { "" },
            self.seconds,
            self.bytes_per_sec / (1024.0 * 1024.0),
            self.files_per_sec,
            self.corrupted,
        );
        if let (Some(before), Some(after)) = (self.server_before, self.server_after) {
            out.push_str(&format!(
                "  server RSS  {:.1} MiB before the upload, peak {:.1} MiB (growth {:.1} MiB for a {:.1} MiB payload)\n",
                mib(before.rss_kib),
                mib(after.peak_kib),
                mib(after.peak_kib.saturating_sub(before.rss_kib)),
                self.size as f64 / (1024.0 * 1024.0),
            ));
        }
        out
    }
}

/// The byte at `offset` of the payload: a pattern that catches shifted or mixed-up bytes.
fn pattern(offset: usize) -> u8 {
    (offset.wrapping_mul(31) ^ (offset >> 8)) as u8
}

/// Connects (through TLS with `tls`) and logs in as `nick`, reading the welcome through its
/// resume key line.
fn login(addr: SocketAddr, nick: &str, tls: Option<&TlsClient>) -> io::Result<Link<TcpStream>> {
    let socket = TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut stream = Link::new(tls, socket)?;
    stream.write_all(format!("{nick}\n").as_bytes())?;
    stream.flush()?;
    read_until(&mut stream, "-- Resume key: ")?;
    Ok(stream)
}

/// Reads lines until one starts with `prefix`; returns it. Byte by byte, so nothing after the
/// line is consumed (only used before the measured part).
fn read_until(stream: &mut Link<TcpStream>, prefix: &str) -> io::Result<String> {
    let mut reader = BufReader::with_capacity(1, stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed",
            ));
        }
        if line.starts_with(prefix) {
            return Ok(line.trim_end().to_string());
        }
    }
}

/// One receiver's progress through its delivery.
struct Receiver {
    stream: Link<MioStream>,
    header: Vec<u8>,
    /// Payload bytes checked so far, once the header is read.
    got: Option<usize>,
    corrupted: bool,
}

pub fn run(
    addr: SocketAddr,
    pid: Option<u32>,
    receivers: usize,
    size: usize,
    tls: Option<&TlsClient>,
) -> io::Result<FileReport> {
    let mut sender = login(addr, "filesender", tls)?;
    let mut streams = Vec::with_capacity(receivers);
    for i in 0..receivers {
        streams.push(login(addr, &format!("recv{i}"), tls)?);
    }
    // Before the upload: the growth then counts the payload the server holds, once.
    let server_before = pid.and_then(|p| procstat::memory(p).ok());
    let payload: Vec<u8> = (0..size).map(pattern).collect();
    sender.write_all(format!("/file bench.bin {size}\n").as_bytes())?;
    sender.write_all(&payload)?;
    sender.flush()?;
    let offered = read_until(&mut sender, "-- Offered #")?;
    let id: String = offered["-- Offered #".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let mut poll = Poll::new()?;
    let mut rx: Vec<Receiver> = Vec::with_capacity(receivers);
    for (i, s) in streams.into_iter().enumerate() {
        s.sock.set_nonblocking(true)?;
        // The same session goes on over the non-blocking socket: what it already decrypted
        // (lines after the welcome) is read first.
        let mut stream = s.map_socket(MioStream::from_std);
        poll.registry().register(
            &mut stream.sock,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        rx.push(Receiver {
            stream,
            header: Vec::new(),
            got: None,
            corrupted: false,
        });
    }
    let accept = format!("/accept {id}\n");
    let started = Instant::now();
    for r in &mut rx {
        // A few dozen bytes: a fresh socket takes them whole (with TLS, the record may wait in
        // the session for a writable event).
        if r.stream.write(accept.as_bytes())? != accept.len() {
            return Err(io::Error::other("the accept line was not taken whole"));
        }
    }
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 * 1024];
    let mut done = 0;
    while done < receivers {
        if started.elapsed() > DEADLINE {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the fan-out did not finish",
            ));
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for event in events.iter() {
            let r = &mut rx[event.token().0];
            r.stream.push()?;
            loop {
                match r.stream.read(&mut buf) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "server closed",
                        ))
                    }
                    Ok(n) => {
                        if r.take(&buf[..n], size) {
                            done += 1;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let server_after = pid.and_then(|p| procstat::memory(p).ok());
    Ok(FileReport {
        tls: tls.is_some(),
        receivers,
        size,
        seconds,
        bytes_per_sec: (receivers * size) as f64 / seconds,
        files_per_sec: receivers as f64 / seconds,
        corrupted: rx.iter().filter(|r| r.corrupted).count(),
        server_before,
        server_after,
    })
}

impl Receiver {
    /// Takes bytes read from the socket; true when the payload has just completed.
    fn take(&mut self, mut data: &[u8], size: usize) -> bool {
        if self.got.is_none() {
            // Skip lines until the `=file` header; the payload starts right after it.
            while let Some(pos) = data.iter().position(|&b| b == b'\n') {
                self.header.extend_from_slice(&data[..=pos]);
                data = &data[pos + 1..];
                let line = std::mem::take(&mut self.header);
                if line.starts_with(b"=file ") {
                    self.got = Some(0);
                    break;
                }
            }
            if self.got.is_none() {
                self.header.extend_from_slice(data);
                return false;
            }
        }
        let Some(got) = self.got.as_mut() else {
            return false;
        };
        if *got >= size {
            return false; // lines after the payload
        }
        let take = data.len().min(size - *got);
        for (i, &b) in data[..take].iter().enumerate() {
            if b != pattern(*got + i) {
                self.corrupted = true;
            }
        }
        *got += take;
        *got == size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver() -> Receiver {
        // A connected pair so the receiver has a real stream; only `take` is exercised.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        Receiver {
            stream: Link::clear(MioStream::from_std(stream)),
            header: Vec::new(),
            got: None,
            corrupted: false,
        }
    }

    #[test]
    fn a_delivery_split_anywhere_is_checked_byte_by_byte() {
        let size = 300;
        let mut input = b"[12:00] * recv1 joined\r\n=file 1 300 filesender bench.bin\r\n".to_vec();
        input.extend((0..size).map(pattern));
        input.extend_from_slice(b"[12:00] after\r\n");
        for cut in 0..input.len() {
            let mut r = receiver();
            let done = r.take(&input[..cut], size) | r.take(&input[cut..], size);
            assert!(done, "cut at {cut}");
            assert!(!r.corrupted, "cut at {cut}");
        }
        let mut r = receiver();
        let mut bad = input.clone();
        let at = bad.len() - 40;
        bad[at] ^= 1;
        assert!(r.take(&bad, size));
        assert!(r.corrupted);
    }
}
