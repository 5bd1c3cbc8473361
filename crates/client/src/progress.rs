//! Upload progress bars that do not fight the line editor.
//!
//! indicatif renders the bar; instead of drawing on the terminal itself (where it would overwrite
//! the prompt and the half-typed line), each frame goes to the session as an event and is printed
//! through the editor's external printer like any other line. `Output` replaces the previous
//! frame in place when nothing was printed in between, so the bar stays one line above the prompt.

use std::io;
use std::sync::mpsc::Sender;
use std::sync::Mutex;

use indicatif::{ProgressDrawTarget, TermLike};

use crate::event::Ev;

/// Frames drawn per second at most.
const HZ: u8 = 4;

/// A draw target that sends each finished frame to the session.
pub fn to_session(gen: u64, events: Sender<Ev>) -> ProgressDrawTarget {
    ProgressDrawTarget::term_like_with_hz(
        Box::new(Frames {
            gen,
            events: Mutex::new(events),
            frame: Mutex::new(String::new()),
            width: terminal_width(),
        }),
        HZ,
    )
}

#[derive(Debug)]
struct Frames {
    gen: u64,
    events: Mutex<Sender<Ev>>,
    frame: Mutex<String>,
    width: u16,
}

impl TermLike for Frames {
    fn width(&self) -> u16 {
        self.width
    }

    fn move_cursor_up(&self, _: usize) -> io::Result<()> {
        Ok(())
    }

    fn move_cursor_down(&self, _: usize) -> io::Result<()> {
        Ok(())
    }

    fn move_cursor_right(&self, _: usize) -> io::Result<()> {
        Ok(())
    }

    fn move_cursor_left(&self, _: usize) -> io::Result<()> {
        Ok(())
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write_str(s)
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        if let Ok(mut frame) = self.frame.lock() {
            frame.push_str(s);
        }
        Ok(())
    }

    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        let frame = match self.frame.lock() {
            Ok(mut f) => std::mem::take(&mut *f),
            Err(_) => return Ok(()),
        };
        // indicatif pads the line to the width; a padded frame could wrap and then the next
        // frame would not find it one line up.
        let frame = frame.trim().to_string();
        if !frame.is_empty() {
            if let Ok(events) = self.events.lock() {
                let _ = events.send(Ev::Progress {
                    gen: self.gen,
                    frame,
                });
            }
        }
        Ok(())
    }
}

/// Columns of the terminal on stdout, less room for the `~~ ` mark so a frame never wraps; 80 if
/// unknown.
fn terminal_width() -> u16 {
    // SAFETY: TIOCGWINSZ fills one winsize struct, which we own; failure leaves it zeroed.
    let cols = unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) == 0 {
            ws.ws_col
        } else {
            0
        }
    };
    if cols < 20 {
        80
    } else {
        cols - 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_reach_the_session() {
        let (tx, rx) = std::sync::mpsc::channel();
        let bar = indicatif::ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::hidden());
        bar.set_message("sending x");
        bar.set_draw_target(to_session(7, tx));
        bar.set_position(50);
        bar.finish();
        let frames: Vec<String> = rx
            .try_iter()
            .filter_map(|ev| match ev {
                Ev::Progress { gen: 7, frame } => Some(frame),
                _ => None,
            })
            .collect();
        assert!(frames.iter().any(|f| f.contains("50")), "{frames:?}");
    }
}
