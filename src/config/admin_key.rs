//! The admin key the server makes itself when none is configured: random, kept in
//! `DATA_DIR/admin-key` (created with mode 0600, reused on later starts), or with `--ephemeral`
//! held in memory only. Either way somebody can become operator with `/op KEY`, and nobody
//! becomes one merely by being first to connect (unless `--first-user-op` asks for that).

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::file::{refuse_if_others_can_read, LoadError};
use super::Config;

/// The key's file inside `--data-dir`.
pub const FILE_NAME: &str = "admin-key";

/// Random bytes in a generated key: 256 bits, far past guessing through `/op`.
const KEY_BYTES: usize = 32;

/// Where the admin key came from, for the start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `--admin-key`, `--admin-key-file` or `REACTOR_CHAT_ADMIN_KEY`.
    Configured,
    /// No key: `--first-user-op` makes the first user operator instead.
    None,
    /// Made now and written to this file.
    Created(PathBuf),
    /// Made on an earlier start and read from this file.
    Reused(PathBuf),
    /// Made now and kept in memory only (`--ephemeral`).
    InMemory,
}

/// A new key: URL-safe base64 (no padding) of random bytes, so it can be typed after `/op`
/// and sent in a `?key=` query string as it is.
pub fn generate() -> io::Result<String> {
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::getrandom(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Settles the key `/op` wants: a configured one as it is; else, unless `--first-user-op`, one
/// generated (or reused from `DATA_DIR/admin-key`) into `cfg.generated_admin_key`.
///
/// # Errors
///
/// The data directory or the key file cannot be made or read, or the file is readable by others.
pub fn resolve(cfg: &mut Config) -> Result<Origin, String> {
    if cfg.admin_key.as_deref().is_some_and(|k| !k.is_empty()) {
        return Ok(Origin::Configured);
    }
    if cfg.first_user_op {
        return Ok(Origin::None);
    }
    if cfg.ephemeral {
        cfg.generated_admin_key = Some(generate().map_err(|e| format!("no random key: {e}"))?);
        return Ok(Origin::InMemory);
    }
    let (key, origin) = load_or_create(&cfg.data_dir)?;
    cfg.generated_admin_key = Some(key);
    Ok(origin)
}

/// The key in `dir/admin-key`, made (with the directory) if there is none yet.
fn load_or_create(dir: &Path) -> Result<(String, Origin), String> {
    let path = dir.join(FILE_NAME);
    let shown = path.display();
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let key = generate().map_err(|e| format!("no random key: {e}"))?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            // create_new: two servers starting at once on one directory cannot both write it.
            writeln!(file, "{key}")
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {shown}: {e}"))?;
            Ok((key, Origin::Created(path)))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            refuse_if_others_can_read(&path, "the admin key").map_err(|e| match e {
                LoadError::File(why) => why,
                LoadError::Cli(e) => e.to_string(),
            })?;
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
            let key = text.lines().next().unwrap_or("").trim().to_string();
            if key.is_empty() {
                return Err(format!("{shown} is empty: remove it and a new key is made"));
            }
            Ok((key, Origin::Reused(path)))
        }
        Err(e) => Err(format!("cannot create {shown}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = load_or_create(dir.path()).unwrap();
        assert_eq!(origin, Origin::Created(dir.path().join(FILE_NAME)));
        assert_eq!(first.len(), 43, "32 bytes of URL-safe base64");
        assert!(first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = load_or_create(dir.path()).unwrap();
        assert_eq!(again, first);
        assert!(matches!(origin, Origin::Reused(_)));
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "k3y\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let why = load_or_create(dir.path()).unwrap_err();
        assert!(why.contains("others may read it"), "{why}");
    }

    #[test]
    fn a_configured_key_or_first_user_op_makes_none() {
        let mut cfg = Config::for_tests();
        cfg.admin_key = Some("k".into());
        assert_eq!(resolve(&mut cfg), Ok(Origin::Configured));
        let mut cfg = Config::for_tests();
        cfg.first_user_op = true;
        assert_eq!(resolve(&mut cfg), Ok(Origin::None));
        assert_eq!(cfg.effective_admin_key(), None);
        let mut cfg = Config::for_tests();
        cfg.ephemeral = true;
        assert_eq!(resolve(&mut cfg), Ok(Origin::InMemory));
        assert!(cfg.effective_admin_key().is_some());
    }
}
