//! One server per data directory: an exclusive lock on `DATA_DIR/lock`, taken before anything
//! in the directory is read or written and held for as long as the server runs.
//!
//! Two servers on one `--data-dir` would both write its history database, neither seeing the
//! other's lines, bans, topics or operators. The second to start refuses instead, naming the
//! first by its pid.
//!
//! The lock is the kernel's advisory file lock (std's `File::try_lock`, `flock` on Unix), not the
//! file's existence: the kernel drops it when the process ends however it ends, `kill -9`
//! included, so a crashed server leaves nothing to clean up and the next one starts at once. The
//! file holds the holder's pid only so that the refusal can name it. It is never removed, even on
//! a clean stop: a server starting at that moment may already have opened the old file and lock
//! it once it is free, while the next one makes and locks a new file under the name, and both
//! would run.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The lock file inside `--data-dir`.
pub const FILE_NAME: &str = "lock";

/// The data directory, ours until this is dropped (or the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    /// Closing the file is what releases the lock: it stays open, unused, while the server runs.
    _file: File,
}

/// Why the data directory is not ours.
#[derive(Debug)]
pub enum LockError {
    /// Another live process holds the lock: its pid, unless it has not written it yet.
    Held { dir: PathBuf, pid: Option<u32> },
    /// The directory could not be made.
    CreateDir { dir: PathBuf, source: io::Error },
    /// The lock file could not be opened, locked or written (say, a file system without locks).
    LockFile { path: PathBuf, source: io::Error },
}

impl DataDirLock {
    /// Makes `dir` if need be and locks it for this process, writing this process's pid into
    /// the lock file.
    ///
    /// # Errors
    ///
    /// [`LockError::Held`] when another process has it; the others when the directory or the
    /// lock file cannot be made, locked or written.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, LockError> {
        std::fs::create_dir_all(dir).map_err(|source| LockError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let lock_file_error = |source| LockError::LockFile {
            path: path.clone(),
            source,
        };
        // Not truncated on open: until the lock is ours, the pid in the file is the holder's.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_file_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    pid: holder_pid(&mut file),
                })
            }
            Err(TryLockError::Error(source)) => return Err(lock_file_error(source)),
        }
        // A crashed holder's pid may still be there, and may be longer than ours.
        file.set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(lock_file_error)?;
        Ok(DataDirLock { _file: file })
    }
}

/// The pid the holder wrote; `None` in the moment between its lock and its write.
fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Held { dir, pid } => {
                let holder = match pid {
                    Some(pid) => format!("another reactor-chat (pid {pid})"),
                    None => "another reactor-chat".to_string(),
                };
                write!(
                    f,
                    "cannot use data directory {}: {holder} is using it; \
                     give each server its own --data-dir",
                    dir.display()
                )
            }
            LockError::CreateDir { dir, source } => {
                write!(f, "cannot create {}: {source}", dir.display())
            }
            LockError::LockFile { path, source } => {
                write!(f, "cannot lock {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Held { .. } => None,
            LockError::CreateDir { source, .. } | LockError::LockFile { source, .. } => {
                Some(source)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A lock belongs to an open file, not to a process: a second `acquire` in this process
    // conflicts with the first just as another server's would.
    #[test]
    fn a_held_directory_is_refused_with_the_holders_pid_until_the_lock_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let held = DataDirLock::acquire(&data).unwrap();
        let pid = std::process::id();
        assert_eq!(
            std::fs::read_to_string(data.join(FILE_NAME)).unwrap(),
            format!("{pid}\n")
        );
        let refused = DataDirLock::acquire(&data).unwrap_err();
        assert!(
            matches!(&refused, LockError::Held { pid: Some(p), .. } if *p == pid),
            "{refused:?}"
        );
        assert_eq!(
            refused.to_string(),
            format!(
                "cannot use data directory {}: another reactor-chat (pid {pid}) is using it; \
                 give each server its own --data-dir",
                data.display()
            )
        );
        drop(held);
        DataDirLock::acquire(&data).expect("free again once the holder is gone");
    }

    #[test]
    fn a_stale_pid_is_replaced_and_a_missing_one_is_not_invented() {
        let dir = tempfile::tempdir().unwrap();
        // Left by a crashed server with a longer pid than ours.
        std::fs::write(dir.path().join(FILE_NAME), "4194304999\n").unwrap();
        let held = DataDirLock::acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        // A holder that has locked but not yet written: refused all the same, without a pid.
        std::fs::write(dir.path().join(FILE_NAME), "").unwrap();
        let refused = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(refused, LockError::Held { pid: None, .. }));
        assert!(refused
            .to_string()
            .contains(": another reactor-chat is using it; "));
        drop(held);
    }
}
