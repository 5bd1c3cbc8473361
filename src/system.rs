//! Process-level set-up: the open-files limit.

use log::{info, warn};

/// Raises the soft RLIMIT_NOFILE to the hard limit (every connection is a descriptor) and logs
/// both figures. Returns the soft limit in force afterwards.
pub fn raise_open_files_limit() -> u64 {
    let (soft, hard) = match rlimit::Resource::NOFILE.get() {
        Ok(limits) => limits,
        Err(e) => {
            warn!(error:% = e; "cannot read the open-files limit");
            return 0;
        }
    };
    match rlimit::increase_nofile_limit(hard) {
        Ok(now) => {
            info!(soft = now, was = soft, hard; "open-files limit");
            now
        }
        Err(e) => {
            warn!(soft, hard, error:% = e; "cannot raise the open-files limit");
            soft
        }
    }
}
