//! Protocol lines about shared files (PROTOCOL.md, "Files"), in English or Korean.
//!
//! The one line a program must parse, the `=file` header before a file's bytes, is the same in
//! both languages; its payload is not rendered here: the reactor queues the shared buffer right
//! after the header.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::{human_duration, line, Out, Renderer};
use crate::chat::event::FileNotice;
use crate::config::Lang;

/// `532 B`, `1.2 KiB`, `3.4 MiB`: sizes for people.
pub fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    }
}

impl Renderer {
    /// Appends the line for a file notice. For `Data`, only the header line.
    pub(super) fn file(&self, buf: &mut BytesMut, notice: &FileNotice) {
        let ko = self.lang == Lang::Ko;
        match notice {
            FileNotice::Offered {
                at,
                from,
                id,
                name,
                size,
                pushed,
                ..
            } => {
                self.notice(buf, *at);
                let size = human_size(*size);
                match (pushed, ko) {
                    (false, false) => line!(
                        buf,
                        "{from} offers the file {name} ({size}) as #{id}: /accept {id} to get it, /decline {id} to say no"
                    ),
                    (true, false) => line!(buf, "{from} shares the file {name} ({size}) as #{id}"),
                    (false, true) => line!(
                        buf,
                        "{from}님이 파일 {name} ({size})을(를) #{id}(으)로 보냈습니다: 받으려면 /accept {id}, 거절하려면 /decline {id}"
                    ),
                    (true, true) => line!(buf, "{from}님이 파일 {name} ({size})을(를) #{id}(으)로 보냈습니다"),
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
                if ko {
                    line!(buf, "-- 파일 #{id} {name} ({size})을(를) {room} 방에 올렸습니다 ({ttl} 동안 받을 수 있음).");
                } else {
                    line!(buf, "-- Offered #{id} {name} ({size}) to {room} for {ttl}.");
                }
            }
            FileNotice::DeclinedBy { id, name, by } if ko => {
                line!(buf, "-- {by}님이 파일 #{id} ({name})을(를) 거절했습니다.")
            }
            FileNotice::DeclinedBy { id, name, by } => {
                line!(buf, "-- {by} declined your file #{id} ({name}).")
            }
            FileNotice::Declined { id } if ko => line!(buf, "-- 파일 #{id}을(를) 거절했습니다."),
            FileNotice::Declined { id } => line!(buf, "-- Declined #{id}."),
            FileNotice::Expired { id, name } if ko => {
                line!(buf, "-- 파일 #{id} ({name})의 받을 수 있는 시간이 끝났습니다.")
            }
            FileNotice::Expired { id, name } => {
                line!(buf, "-- Your file #{id} ({name}) expired.")
            }
            FileNotice::Evicted { id, name } if ko => line!(
                buf,
                "-- 새 파일을 위한 공간을 만들려고 파일 #{id} ({name})을(를) 지웠습니다."
            ),
            FileNotice::Evicted { id, name } => line!(
                buf,
                "-- Your file #{id} ({name}) was removed to make room for newer files."
            ),
            FileNotice::List { entries } => {
                if entries.is_empty() {
                    if ko {
                        line!(buf, "-- 받을 수 있는 파일이 없습니다.");
                    } else {
                        line!(buf, "-- No files are open to you.");
                    }
                    return;
                }
                let n = entries.len();
                match (ko, n) {
                    (true, _) => line!(buf, "-- 받을 수 있는 파일 {n}개:"),
                    (false, 1) => line!(buf, "-- 1 file is open to you:"),
                    (false, _) => line!(buf, "-- {n} files are open to you:"),
                }
                for e in entries {
                    let (size, left) = (human_size(e.size), human_duration(e.secs_left));
                    if ko {
                        line!(buf, "--   #{} {} ({size}), 보낸 사람 {}, {left} 남음", e.id, e.name, e.from);
                    } else {
                        line!(buf, "--   #{} {} ({size}) from {}, {left} left", e.id, e.name, e.from);
                    }
                }
                if ko {
                    line!(buf, "-- 파일 목록 끝.");
                } else {
                    line!(buf, "-- End of files.");
                }
            }
            FileNotice::TooLarge { name, size, max } if ko => line!(
                buf,
                "! file-too-large: {name}은(는) {size}바이트로 한도 {max}바이트를 넘습니다. 보내는 바이트는 버려집니다"
            ),
            FileNotice::TooLarge { name, size, max } => line!(
                buf,
                "! file-too-large: {name} is {size} bytes, over the limit of {max}; its bytes are skipped"
            ),
            FileNotice::BadSize { size } if ko => line!(
                buf,
                "! bad-file: 크기 {size}이(가) 올바르지 않습니다. /file 이름 바이트수 로 보내세요"
            ),
            FileNotice::BadSize { size } => line!(
                buf,
                "! bad-file: {size} is not a size; send /file NAME BYTES, then the bytes"
            ),
            FileNotice::BadName if ko => line!(
                buf,
                "! bad-file: 파일 이름에 쓸 수 있는 글자가 없습니다. 보내는 바이트는 버려집니다"
            ),
            FileNotice::BadName => line!(
                buf,
                "! bad-file: the file name has nothing usable in it; its bytes are skipped"
            ),
            FileNotice::NoSuchFile { id } if ko => {
                line!(buf, "! no-such-file: #{id} 파일이 없습니다 (시간이 지났거나 올라온 적 없음)")
            }
            FileNotice::NoSuchFile { id } => line!(
                buf,
                "! no-such-file: #{id} is not open (expired, or never offered)"
            ),
            FileNotice::OtherRoom { id, room } if ko => line!(
                buf,
                "! other-room: #{id}은(는) {room} 방의 파일입니다. /join {room} 후에 받으세요"
            ),
            FileNotice::OtherRoom { id, room } => line!(
                buf,
                "! other-room: #{id} was offered in {room}; /join {room} to take it"
            ),
            FileNotice::UnexpectedBytes { len } if ko => line!(
                buf,
                "! bad-file: /file 줄 없이 온 {len}바이트를 무시했습니다"
            ),
            FileNotice::UnexpectedBytes { len } => line!(
                buf,
                "! bad-file: {len} bytes of binary data came without a /file line and were ignored"
            ),
            FileNotice::Busy { queued } if ko => line!(
                buf,
                "! file-busy: 아직 받는 중인 파일이 {}입니다. 다 받은 뒤에 다시 하세요",
                human_size(*queued)
            ),
            FileNotice::Busy { queued } => line!(
                buf,
                "! file-busy: {} of files are still on their way to you; try again when they have arrived",
                human_size(*queued)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::chat::event::{Event, FileEntry};

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
    fn offers_say_how_to_take_them() {
        let notice = FileNotice::Offered {
            at: 0,
            room: Arc::from("lobby"),
            from: Arc::from("alice"),
            id: 7,
            name: Arc::from("a.png"),
            size: 2048,
            pushed: false,
        };
        assert_eq!(
            render(Lang::En, notice),
            "[00:00] * alice offers the file a.png (2.0 KiB) as #7: /accept 7 to get it, /decline 7 to say no\r\n"
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

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(1024 * 1024), "1.0 MiB");
    }
}
