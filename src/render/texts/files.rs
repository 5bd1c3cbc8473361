//! What is said about shared files. Sizes and durations come in already written for people
//! (`render::human`).

use super::texts;

texts! {
    offered(from: &'a str, name: &'a str, size: &'a str, id: u64, link: &'a str) {
        en: "{from} offers the file {name} ({size}) as #{id}: {link}",
        ko: "{from}님이 파일 {name} ({size})을(를) #{id}(으)로 보냈습니다: {link}",
    }
    pushed(from: &'a str, name: &'a str, size: &'a str, id: u64) {
        en: "{from} shares the file {name} ({size}) as #{id}",
        ko: "{from}님이 파일 {name} ({size})을(를) #{id}(으)로 보냈습니다",
    }
    offer_up(id: u64, name: &'a str, size: &'a str, room: &'a str, ttl: &'a str) {
        en: "Offered #{id} {name} ({size}) to {room} for {ttl}.",
        ko: "파일 #{id} {name} ({size})을(를) {room} 방에 올렸습니다 ({ttl} 동안 받을 수 있음).",
    }
    declined_by(by: &'a str, id: u64, name: &'a str) {
        en: "{by} declined your file #{id} ({name}).",
        ko: "{by}님이 파일 #{id} ({name})을(를) 거절했습니다.",
    }
    declined(id: u64) {
        en: "Declined #{id}.",
        ko: "파일 #{id}을(를) 거절했습니다.",
    }
    expired(id: u64, name: &'a str) {
        en: "Your file #{id} ({name}) expired.",
        ko: "파일 #{id} ({name})의 받을 수 있는 시간이 끝났습니다.",
    }
    evicted(id: u64, name: &'a str) {
        en: "Your file #{id} ({name}) was removed to make room for newer files.",
        ko: "새 파일을 위한 공간을 만들려고 파일 #{id} ({name})을(를) 지웠습니다.",
    }
    no_files() {
        en: "No files are open to you.",
        ko: "받을 수 있는 파일이 없습니다.",
    }
    files_open(n: usize) {
        en: { n; 1 => "1 file is open to you:", _ => "{n} files are open to you:" },
        ko: "받을 수 있는 파일 {n}개:",
    }
    file_entry(id: u64, name: &'a str, size: &'a str, from: &'a str, left: &'a str) {
        en: "#{id} {name} ({size}) from {from}, {left} left",
        ko: "#{id} {name} ({size}), 보낸 사람 {from}, {left} 남음",
    }
    files_end() {
        en: "End of files.",
        ko: "파일 목록 끝.",
    }

    too_large(name: &'a str, size: u64, max: u64) {
        en: "{name} is {size} bytes, over the limit of {max}; its bytes are skipped",
        ko: "{name}은(는) {size}바이트로 한도 {max}바이트를 넘습니다. 보내는 바이트는 버려집니다",
    }
    uploads_busy(name: &'a str, max: usize, per_address: bool) {
        en: { (per_address, max);
            (true, 1) => "{name}: an upload from your address is already under way; send it when that has finished (its bytes are skipped)",
            (true, _) => "{name}: {max} uploads from your address are already under way; send it when one has finished (its bytes are skipped)",
            (false, _) => "{name}: {max} uploads are already under way on the server; send it again in a moment (its bytes are skipped)",
        },
        ko: { per_address;
            true => "{name}: 이 주소에서 이미 {max}개의 파일을 올리는 중입니다. 하나가 끝난 뒤 보내세요 (보낸 바이트는 버려집니다)",
            false => "{name}: 서버에서 이미 {max}개의 파일을 올리는 중입니다. 잠시 후 다시 보내세요 (보낸 바이트는 버려집니다)",
        },
    }
    bad_size(size: &'a str) {
        en: "{size} is not a size; send /file NAME BYTES, then the bytes",
        ko: "크기 {size}이(가) 올바르지 않습니다. /file 이름 바이트수 로 보내세요",
    }
    bad_name() {
        en: "the file name has nothing usable in it; its bytes are skipped",
        ko: "파일 이름에 쓸 수 있는 글자가 없습니다. 보내는 바이트는 버려집니다",
    }
    no_such_file(id: &'a str) {
        en: "#{id} is not open (expired, or never offered)",
        ko: "#{id} 파일이 없습니다 (시간이 지났거나 올라온 적 없음)",
    }
    other_room(id: u64, room: &'a str) {
        en: "#{id} was offered in {room}; /join {room} to take it",
        ko: "#{id}은(는) {room} 방의 파일입니다. /join {room} 후에 받으세요",
    }
    unexpected_bytes(len: u64) {
        en: "{len} bytes of binary data came without a /file line and were ignored",
        ko: "/file 줄 없이 온 {len}바이트를 무시했습니다",
    }
    busy(queued: &'a str) {
        en: "{queued} of files are still on their way to you; try again when they have arrived",
        ko: "아직 받는 중인 파일이 {queued}입니다. 다 받은 뒤에 다시 하세요",
    }
}
