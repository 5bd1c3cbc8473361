//! Who may read a file besides its owner, from its POSIX access ACL. A file can be private to
//! its owner and the server's own user through an ACL: systemd delivers a `LoadCredential=` file
//! that way (mode 0400, owned by root, and an entry that lets the service's user read it) on the
//! tmpfs it uses when the kernel can keep one out of swap (Linux 6.3 and later). With an ACL the
//! mode's group bits are the ACL's mask, so such a file looks group-readable (mode 0440) to a
//! check of the mode alone.

use std::path::Path;

/// Entry tags (`ACL_USER_OBJ` ... `ACL_OTHER`) and the version of the
/// `system.posix_acl_access` attribute, as Linux stores it (little-endian).
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const VERSION: u32 = 2;

/// Whether the file at `path` has an access ACL that gives nobody but its owner and the user
/// this process runs as any access. `false` without an ACL (the mode then says it all) or when
/// it cannot be read.
pub(super) fn only_owner_and_me(path: &Path) -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    let me = unsafe { libc::geteuid() };
    access_acl(path).is_some_and(|acl| private(&acl, me))
}

/// Whether the ACL `attr` (the attribute's bytes) lets nobody in but the owner and `me`: the
/// other users, the owning group and every named group and user but `me` get nothing, once
/// masked.
fn private(attr: &[u8], me: u32) -> bool {
    let Some((version, entries)) = attr.split_first_chunk::<4>() else {
        return false;
    };
    if u32::from_le_bytes(*version) != VERSION || entries.len() % 8 != 0 {
        return false;
    }
    let entries: Vec<(u16, u16, u32)> = entries
        .chunks_exact(8)
        .map(|e| {
            (
                u16::from_le_bytes([e[0], e[1]]),
                u16::from_le_bytes([e[2], e[3]]),
                u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
            )
        })
        .collect();
    let mask = entries
        .iter()
        .find(|&&(tag, _, _)| tag == MASK)
        .map_or(0o7, |&(_, perm, _)| perm);
    entries.iter().all(|&(tag, perm, id)| match tag {
        USER_OBJ | MASK => true,
        USER if id == me => true,
        USER | GROUP_OBJ | GROUP => perm & mask == 0,
        OTHER => perm == 0,
        _ => false,
    })
}

/// The bytes of the file's `system.posix_acl_access` attribute, if it has one.
#[cfg(target_os = "linux")]
fn access_acl(path: &Path) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = c"system.posix_acl_access";
    // SAFETY: both strings are NUL-terminated and outlive the calls; a null buffer of size 0
    // asks for the attribute's size, and the second call writes at most `buf.len()` bytes.
    unsafe {
        let size = libc::getxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0);
        let mut buf = vec![0u8; usize::try_from(size).ok()?];
        let read = libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        );
        buf.truncate(usize::try_from(read).ok()?);
        Some(buf)
    }
}

/// Other systems store ACLs differently; their files are judged by the mode alone.
#[cfg(not(target_os = "linux"))]
fn access_acl(_path: &Path) -> Option<Vec<u8>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOBODY: u32 = u32::MAX;

    fn attr(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut out = VERSION.to_le_bytes().to_vec();
        for &(tag, perm, id) in entries {
            out.extend(tag.to_le_bytes());
            out.extend(perm.to_le_bytes());
            out.extend(id.to_le_bytes());
        }
        out
    }

    /// What systemd writes for a credential of the service running as `uid`: owner read, `uid`
    /// read, and nothing for the group and the others.
    fn credential(uid: u32) -> Vec<(u16, u16, u32)> {
        vec![
            (USER_OBJ, 0o4, NOBODY),
            (USER, 0o4, uid),
            (GROUP_OBJ, 0, NOBODY),
            (MASK, 0o4, NOBODY),
            (OTHER, 0, NOBODY),
        ]
    }

    #[test]
    fn a_systemd_credential_is_private_to_the_service_it_was_made_for() {
        assert!(private(&attr(&credential(61234)), 61234));
        assert!(!private(&attr(&credential(61234)), 1000), "another user's");
    }

    #[test]
    fn the_group_the_others_or_a_second_user_make_it_readable() {
        let mut entries = credential(61234);
        entries.push((USER, 0o4, 1000));
        assert!(!private(&attr(&entries), 61234));
        let mut entries = credential(61234);
        entries[2] = (GROUP_OBJ, 0o4, NOBODY);
        assert!(!private(&attr(&entries), 61234));
        let mut entries = credential(61234);
        entries.push((GROUP, 0o4, 100));
        assert!(!private(&attr(&entries), 61234));
        let mut entries = credential(61234);
        entries[4] = (OTHER, 0o4, NOBODY);
        assert!(!private(&attr(&entries), 61234));
    }

    #[test]
    fn the_mask_limits_what_the_group_class_gets() {
        let entries = [
            (USER_OBJ, 0o6, NOBODY),
            (USER, 0o4, 1000),
            (GROUP_OBJ, 0o4, NOBODY),
            (MASK, 0, NOBODY),
            (OTHER, 0, NOBODY),
        ];
        assert!(private(&attr(&entries), 61234));
    }

    #[test]
    fn a_malformed_attribute_is_not_private() {
        let good = attr(&credential(61234));
        assert!(!private(&good[..good.len() - 1], 61234));
        assert!(!private(&good[..3], 61234));
        let mut old = good.clone();
        old[0] = 1;
        assert!(!private(&old, 61234));
        let mut unknown = credential(61234);
        unknown.push((0x40, 0, NOBODY));
        assert!(!private(&attr(&unknown), 61234));
    }
}
