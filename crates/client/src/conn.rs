//! One TCP connection to the server: a reader thread, a writer thread, and the handle the session
//! keeps.
//!
//! The client is not the server: plain blocking threads are the simplest correct shape. The reader
//! decodes with [`StreamDecoder`] and sends each item to the session's channel, tagged with the
//! connection's generation so the session can ignore a connection it has already given up on. The
//! writer owns every byte sent, in order: chat lines and uploads go through one queue, so a line
//! typed during an upload waits behind the payload instead of landing inside it. Uploads stream
//! from disk in chunks, with a progress bar on the terminal when they take more than a moment
//! (drawn through the session, see `progress`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress;

use crate::event::{Ev, Uploaded};
use crate::proto::StreamDecoder;
use crate::tls::{Tls, TlsWriter};

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An upload shows a progress bar once it has taken this long (on a terminal only).
const BAR_AFTER: Duration = Duration::from_millis(300);
/// Bytes read from disk and written to the socket at a time.
const CHUNK: usize = 64 * 1024;

/// What the writer thread sends.
enum Job {
    Line(String),
    File { file: File, name: String, size: u64 },
}

/// An open connection. Dropping it closes the socket, which ends both threads.
pub struct Conn {
    stream: TcpStream,
    /// With `--tls`: the session, to end it with close_notify.
    tls: Option<TlsWriter>,
    jobs: Sender<Job>,
}

impl Conn {
    /// Connects to `server` (HOST:PORT, every address it resolves to in turn), inside TLS when
    /// `tls` is given, and starts the reader and writer threads. `progress`: show upload
    /// progress bars (on a terminal).
    pub fn open(
        server: &str,
        tls: Option<&Tls>,
        gen: u64,
        events: Sender<Ev>,
        progress: bool,
    ) -> io::Result<Conn> {
        let mut last = io::Error::other(format!("{server} resolves to no address"));
        let mut connected = None;
        for addr in server.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(s) => {
                    connected = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = connected.ok_or(last)?;
        let _ = stream.set_nodelay(true);
        let (reader, writer, tls): (Box<dyn Read + Send>, Box<dyn Write + Send>, _) = match tls {
            Some(tls) => {
                let (reader, writer) = tls.connect(server, &stream)?;
                let handle = writer.handle()?;
                (Box::new(reader), Box::new(writer), Some(handle))
            }
            None => (
                Box::new(stream.try_clone()?),
                Box::new(stream.try_clone()?),
                None,
            ),
        };
        let shutdown = stream.try_clone()?;
        let (jobs, queue) = mpsc::channel();
        let tx = events.clone();
        thread::Builder::new()
            .name("reader".into())
            .spawn(move || read_loop(reader, gen, tx))?;
        thread::Builder::new()
            .name("writer".into())
            .spawn(move || write_loop(writer, shutdown, gen, queue, events, progress))?;
        Ok(Conn { stream, tls, jobs })
    }

    /// Queues one line (a `\n` is added).
    pub fn send_line(&self, line: &str) {
        let _ = self.jobs.send(Job::Line(line.to_string()));
    }

    /// Queues an upload: `/file NAME SIZE`, then SIZE bytes streamed from `file`.
    pub fn send_file(&self, file: File, name: String, size: u64) {
        let _ = self.jobs.send(Job::File { file, name, size });
    }

    /// Closes the socket (after close_notify, inside TLS); the threads notice and end.
    pub fn close(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.close();
        }
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.close();
    }
}

fn read_loop(mut stream: Box<dyn Read + Send>, gen: u64, events: Sender<Ev>) {
    let mut decoder = StreamDecoder::new();
    let mut buf = vec![0u8; CHUNK];
    let why = loop {
        match stream.read(&mut buf) {
            Ok(0) => break "the server closed the connection".to_string(),
            Ok(n) => {
                let mut gone = false;
                decoder.feed(&buf[..n], |item| {
                    gone |= events.send(Ev::Net { gen, item }).is_err();
                });
                if gone {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break e.to_string(),
        }
    };
    let _ = events.send(Ev::Closed { gen, why });
}

fn write_loop(
    mut stream: Box<dyn Write + Send>,
    socket: TcpStream,
    gen: u64,
    queue: Receiver<Job>,
    events: Sender<Ev>,
    progress: bool,
) {
    for job in queue {
        let ok = match job {
            Job::Line(mut line) => {
                line.push('\n');
                stream.write_all(line.as_bytes()).is_ok()
            }
            Job::File { file, name, size } => {
                let bar = progress.then(|| progress::to_session(gen, events.clone()));
                let result = upload(&mut stream, file, &name, size, bar);
                let ok = result.is_ok();
                let result = result.map_err(|e| e.to_string());
                let _ = events.send(Ev::Uploaded {
                    gen,
                    done: Uploaded { name, size, result },
                });
                ok
            }
        };
        if !ok {
            // The reader sees the shutdown and reports the connection closed.
            let _ = socket.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Sends `/file NAME SIZE` and exactly SIZE bytes of `file`. A file that shrank under us cannot
/// complete the frame the server expects, so that is an error and the connection is closed (the
/// server offers nothing for an upload cut short).
fn upload(
    stream: &mut dyn Write,
    file: File,
    name: &str,
    size: u64,
    bar_target: Option<ProgressDrawTarget>,
) -> io::Result<Duration> {
    let started = Instant::now();
    stream.write_all(format!("/file {name} {size}\n").as_bytes())?;
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::hidden());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:25}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("sending {}", short(name)));
    let mut bar_target = bar_target;
    let mut source = file.take(size);
    let mut buf = vec![0u8; CHUNK];
    let mut sent = 0u64;
    let result = loop {
        let n = match source.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        if let Err(e) = stream.write_all(&buf[..n]) {
            break Err(e);
        }
        sent += n as u64;
        bar.set_position(sent);
        if started.elapsed() >= BAR_AFTER {
            if let Some(target) = bar_target.take() {
                bar.set_draw_target(target);
            }
        }
    };
    bar.finish();
    result?;
    if sent < size {
        return Err(io::Error::other(format!(
            "the file shrank while it was sent ({sent} of {size} bytes)"
        )));
    }
    Ok(started.elapsed())
}

/// A file name cut to 24 characters for the progress line.
fn short(name: &str) -> String {
    match name.char_indices().nth(24) {
        Some((cut, _)) => format!("{}...", &name[..cut]),
        None => name.to_string(),
    }
}
