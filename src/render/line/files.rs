//! Lines about shared files (PROTOCOL.md, "Files").
//!
//! The one line a program must parse, the `=file` header before a file's bytes, is the same in
//! every language; its payload is not rendered here: the reactor queues the shared buffer right
//! after the header.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::{line, refuse, reply, Out, Renderer};
use crate::chat::event::FileNotice;
use crate::render::human::{human_duration, human_size};
use crate::render::texts::files as text;

impl Renderer {
    /// Appends the line for a file notice. For `Data`, only the header line.
    pub(super) fn file(&self, buf: &mut BytesMut, notice: &FileNotice) {
        let lang = self.lang;
        match notice {
            FileNotice::Offered {
                at,
                from,
                id,
                name,
                size,
                pushed,
                key,
                ..
            } => {
                let size = human_size(*size);
                if *pushed {
                    self.notice(buf, *at, text::pushed(lang, from, name, &size, *id));
                } else {
                    let link = download_link(&self.link_base, *id, name, key);
                    self.notice(buf, *at, text::offered(lang, from, name, &size, *id, &link));
                }
            }
            FileNotice::Data {
                id,
                from,
                name,
                payload,
            } => line!(buf, "=file {id} {} {from} {name}", payload.len()),
            FileNotice::OfferUp {
                id,
                name,
                size,
                room,
                ttl_secs,
            } => {
                let (size, ttl) = (human_size(*size), human_duration(*ttl_secs));
                reply(buf, text::offer_up(lang, *id, name, &size, room, &ttl));
            }
            FileNotice::DeclinedBy { id, name, by } => {
                reply(buf, text::declined_by(lang, by, *id, name));
            }
            FileNotice::Declined { id } => reply(buf, text::declined(lang, *id)),
            FileNotice::Expired { id, name } => reply(buf, text::expired(lang, *id, name)),
            FileNotice::Evicted { id, name } => reply(buf, text::evicted(lang, *id, name)),
            FileNotice::List { entries } if entries.is_empty() => {
                reply(buf, text::no_files(lang));
            }
            FileNotice::List { entries } => {
                reply(buf, text::files_open(lang, entries.len()));
                for e in entries {
                    let (size, left) = (human_size(e.size), human_duration(e.secs_left));
                    let entry = text::file_entry(lang, e.id, &e.name, &size, &e.from, &left);
                    line!(buf, "--   {entry}");
                }
                reply(buf, text::files_end(lang));
            }
            FileNotice::TooLarge { name, size, max } => {
                refuse(
                    buf,
                    "file-too-large",
                    text::too_large(lang, name, *size, *max),
                );
            }
            FileNotice::UploadsBusy {
                name,
                max,
                per_address,
            } => refuse(
                buf,
                "uploads-busy",
                text::uploads_busy(lang, name, *max, *per_address),
            ),
            FileNotice::BadSize { size } => refuse(buf, "bad-file", text::bad_size(lang, size)),
            FileNotice::BadName => refuse(buf, "bad-file", text::bad_name(lang)),
            FileNotice::NoSuchFile { id } => {
                refuse(buf, "no-such-file", text::no_such_file(lang, id));
            }
            FileNotice::OtherRoom { id, room } => {
                refuse(buf, "other-room", text::other_room(lang, *id, room));
            }
            FileNotice::UnexpectedBytes { len } => {
                refuse(buf, "bad-file", text::unexpected_bytes(lang, *len));
            }
            FileNotice::Busy { queued } => {
                refuse(buf, "file-busy", text::busy(lang, &human_size(*queued)));
            }
        }
    }
}

/// An offer's download link: `BASE/files/ID/NAME?key=KEY`, the name percent-encoded as a path
/// segment (so a Korean or spaced name stays one clickable URL in a terminal).
pub fn download_link(base: &str, id: u64, name: &str, key: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // Everything but the unreserved characters of RFC 3986.
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    format!(
        "{base}/files/{id}/{}?key={key}",
        utf8_percent_encode(name, SEGMENT)
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::chat::event::{Event, FileEntry};
    use crate::config::Lang;

    fn render(lang: Lang, notice: FileNotice) -> String {
        let r = Renderer::new(lang, true);
        let mut buf = BytesMut::new();
        r.render(&Event::File(notice), &mut buf);
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn the_header_is_the_same_in_both_languages_and_carries_the_exact_size() {
        for lang in [Lang::En, Lang::Ko] {
            let notice = FileNotice::Data {
                id: 3,
                from: Arc::from("alice"),
                name: Arc::from("my notes.txt"),
                payload: Bytes::from_static(b"12345"),
            };
            assert_eq!(render(lang, notice), "=file 3 5 alice my notes.txt\r\n");
        }
    }

    #[test]
    fn offers_carry_their_download_link_and_no_accept_for_terminals() {
        let notice = FileNotice::Offered {
            at: 0,
            room: Arc::from("lobby"),
            from: Arc::from("alice"),
            id: 7,
            name: Arc::from("내 사진 #1.png"),
            size: 2048,
            pushed: false,
            key: Arc::from("k3y"),
        };
        let mut r = Renderer::new(Lang::En, true);
        r.link_base = Arc::from("http://127.0.0.1:8080");
        let mut buf = BytesMut::new();
        r.render(&Event::File(notice), &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            "[00:00] * alice offers the file 내 사진 #1.png (2.0 KiB) as #7: \
             http://127.0.0.1:8080/files/7/%EB%82%B4%20%EC%82%AC%EC%A7%84%20%231.png?key=k3y\r\n"
        );
    }

    #[test]
    fn the_list_is_framed() {
        let entries = vec![FileEntry {
            id: 1,
            from: Arc::from("bob"),
            name: Arc::from("x.txt"),
            size: 10,
            secs_left: 90,
        }];
        assert_eq!(
            render(Lang::En, FileNotice::List { entries }),
            "-- 1 file is open to you:\r\n--   #1 x.txt (10 B) from bob, 1m30s left\r\n-- End of files.\r\n"
        );
        assert_eq!(
            render(Lang::En, FileNotice::List { entries: vec![] }),
            "-- No files are open to you.\r\n"
        );
    }
}
