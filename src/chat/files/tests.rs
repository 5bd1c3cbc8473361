//! Shared files: offers, refusals, expiry, eviction, auto-accept.

use crate::chat::testing::*;
use crate::chat::*;

fn file_settings(auto_accept_max: u64) -> ChatSettings {
    ChatSettings {
        max_file: 100,
        file_store: 250,
        file_ttl: Duration::from_secs(60),
        auto_accept_max,
        ..settings()
    }
}

impl Harness {
    /// `/file NAME SIZE` from `conn`, then its bytes; returns what the bytes produced.
    fn upload(&mut self, conn: usize, name: &str, payload: &'static [u8]) -> Vec<Output> {
        let outs = self.line(conn, &format!("/file {name} {}", payload.len()));
        assert!(
            outs.contains(&Output::ReceiveFile {
                conn: ConnId(conn),
                size: payload.len() as u64,
                keep: crate::codec::file::Keep::Collect,
            }),
            "{outs:?}"
        );
        self.out.clear();
        let now = self.now;
        self.chat.file_received(
            ConnId(conn),
            bytes::Bytes::from_static(payload),
            now,
            &mut self.out,
        );
        self.out.items.clone()
    }

    fn file_notices_to(&self, conn: usize) -> Vec<FileNotice> {
        self.delivered_to(conn)
            .into_iter()
            .filter_map(|e| match e {
                Event::File(n) => Some(n),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn a_file_is_offered_to_the_room_and_taken_or_declined_per_user() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.upload(1, "../notes.txt", b"hello");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::Offered { id: 1, name, size: 5, pushed: false, .. }] if &**name == "notes.txt"
    ));
    assert!(matches!(
        &h.file_notices_to(1)[..],
        [FileNotice::OfferUp { id: 1, size: 5, .. }]
    ));
    h.line(2, "/files");
    assert!(
        matches!(&h.file_notices_to(2)[..], [FileNotice::List { entries }] if entries.len() == 1)
    );
    h.line(2, "/accept #1");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::Data { id: 1, payload, .. }] if &payload[..] == b"hello"
    ));
    h.line(3, "/decline 1");
    assert_eq!(h.file_notices_to(3), [FileNotice::Declined { id: 1 }]);
    assert!(matches!(
        &h.file_notices_to(1)[..],
        [FileNotice::DeclinedBy { id: 1, by, .. }] if &**by == "carol"
    ));
    h.line(3, "/files");
    assert!(
        matches!(&h.file_notices_to(3)[..], [FileNotice::List { entries }] if entries.is_empty())
    );
}

#[test]
fn refused_uploads_skip_their_bytes_unless_the_size_is_unknown() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    let outs = h.line(1, "/file big.bin 101");
    assert!(outs.contains(&Output::ReceiveFile {
        conn: ConnId(1),
        size: 101,
        keep: crate::codec::file::Keep::Discard,
    }));
    assert!(matches!(
        &h.file_notices_to(1)[..],
        [FileNotice::TooLarge {
            size: 101,
            max: 100,
            ..
        }]
    ));
    let outs = h.line(1, "/file .. 10");
    assert!(outs.contains(&Output::ReceiveFile {
        conn: ConnId(1),
        size: 10,
        keep: crate::codec::file::Keep::Discard,
    }));
    assert_eq!(h.file_notices_to(1), [FileNotice::BadName]);
    for bad in ["/file a.txt lots", "/file a.txt 0", "/file a.txt -5"] {
        let outs = h.line(1, bad);
        assert!(
            !outs.iter().any(|o| matches!(o, Output::ReceiveFile { .. })),
            "{bad}: {outs:?}"
        );
        assert!(matches!(
            &h.file_notices_to(1)[..],
            [FileNotice::BadSize { .. }]
        ));
    }
}

#[test]
fn offers_expire_and_the_oldest_are_evicted_for_new_ones() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    h.login(2, "bob");
    h.upload(1, "a.txt", &[b'a'; 100]);
    h.upload(1, "b.txt", &[b'b'; 100]);
    let outs = h.upload(1, "c.txt", &[b'c'; 100]);
    assert!(
        outs.iter().any(|o| matches!(
            o,
            Output::ToConn {
                event: Event::File(FileNotice::Evicted { id: 1, .. }),
                ..
            }
        )),
        "{outs:?}"
    );
    h.line(2, "/accept 1");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::NoSuchFile { .. }]
    ));
    h.advance(60);
    let expired: Vec<_> = h
        .file_notices_to(1)
        .into_iter()
        .filter(|n| matches!(n, FileNotice::Expired { .. }))
        .collect();
    assert_eq!(expired.len(), 2, "{expired:?}");
    h.line(2, "/accept 3");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::NoSuchFile { .. }]
    ));
    assert_eq!(h.chat.file_store_bytes(), 0);
}

#[test]
fn an_offer_belongs_to_its_room() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    h.login(2, "bob");
    h.upload(1, "a.txt", b"abc");
    h.line(2, "/join games");
    h.line(2, "/accept 1");
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::OtherRoom { id: 1, room }] if &**room == "lobby"
    ));
}

#[test]
fn auto_accept_pushes_small_files_to_everyone_but_the_sender() {
    let mut h = Harness::with(file_settings(10));
    h.login(1, "alice");
    h.login(2, "bob");
    h.login(3, "carol");
    h.upload(1, "small.txt", b"tiny");
    for conn in [2, 3] {
        let notices = h.file_notices_to(conn);
        assert!(
            matches!(
                &notices[..],
                [FileNotice::Offered { pushed: true, .. }, FileNotice::Data { payload, .. }] if &payload[..] == b"tiny"
            ),
            "{notices:?}"
        );
    }
    assert!(!h
        .file_notices_to(1)
        .iter()
        .any(|n| matches!(n, FileNotice::Data { .. })));
    // Above the threshold it is only offered.
    h.upload(1, "large.txt", &[b'x'; 11]);
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::Offered { pushed: false, .. }]
    ));
}

#[test]
fn a_sender_lost_mid_upload_offers_nothing() {
    let mut h = Harness::with(file_settings(0));
    h.login(1, "alice");
    h.login(2, "bob");
    h.line(1, "/file a.txt 5");
    let now = h.now;
    h.chat
        .disconnect(ConnId(1), LostReason::Closed, now, &mut h.out);
    h.out.clear();
    h.chat.file_received(
        ConnId(1),
        bytes::Bytes::from_static(b"hello"),
        now,
        &mut h.out,
    );
    assert!(h.out.items.is_empty(), "{:?}", h.out.items);
    h.line(2, "/files");
    assert!(
        matches!(&h.file_notices_to(2)[..], [FileNotice::List { entries }] if entries.is_empty())
    );
}

#[test]
fn uploads_under_way_are_capped_per_address_and_in_all() {
    let mut h = Harness::with(ChatSettings {
        max_uploads_per_ip: 1,
        max_uploads: 2,
        ..file_settings(0)
    });
    let collect = |h: &mut Harness, conn: usize, line: &str| {
        h.line(conn, line).contains(&Output::ReceiveFile {
            conn: ConnId(conn),
            size: 10,
            keep: crate::codec::file::Keep::Collect,
        })
    };
    for (conn, nick) in [(1, "alice"), (3, "carol")] {
        h.login(conn, nick);
    }
    // bob shares alice's address.
    h.connect(2, ip(1));
    h.line(2, "bob");
    assert!(collect(&mut h, 1, "/file a.txt 10"));
    assert!(
        !collect(&mut h, 2, "/file b.txt 10"),
        "a second from the address"
    );
    assert!(matches!(
        &h.file_notices_to(2)[..],
        [FileNotice::UploadsBusy {
            max: 1,
            per_address: true,
            ..
        }]
    ));
    assert!(collect(&mut h, 3, "/file c.txt 10"));
    h.login(4, "dave");
    assert!(!collect(&mut h, 4, "/file d.txt 10"), "a third in all");
    assert!(matches!(
        &h.file_notices_to(4)[..],
        [FileNotice::UploadsBusy {
            max: 2,
            per_address: false,
            ..
        }]
    ));
    // An upload that ends (its connection closed) makes room.
    h.disconnect(1);
    assert!(collect(&mut h, 2, "/file b.txt 10"));
}
