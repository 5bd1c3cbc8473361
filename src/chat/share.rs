//! Sharing files with a room: `/file`, `/files`, `/accept`, `/decline`, and what happens when an
//! upload completes or an offer expires (PROTOCOL.md, "Files").
//!
//! The core decides; the reactor moves bytes. `/file NAME SIZE` is checked here before a single
//! payload byte is read, and answered with `Output::ReceiveFile`, which switches the connection's
//! decoder to a byte-count frame: collected when the upload is accepted, read and dropped when it
//! is refused, so the connection stays usable either way. The finished payload comes back through
//! [`Chat::file_received`] as one `Bytes`, which every delivery shares.

use std::sync::Arc;

use bytes::Bytes;
use log::info;

use super::event::{FileEntry, FileNotice};
use super::files::{self, OfferError};
use super::{Chat, ChatTimer, ConnId, Event, Now, Outbox, Output, SessionId};
use crate::codec::file::Keep;

/// An upload under way: what the connection's next `size` bytes are.
#[derive(Debug)]
pub(super) struct Upload {
    name: Arc<str>,
}

impl Chat {
    /// `/file NAME SIZE`.
    pub(super) fn start_upload(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        name: &str,
        size: &str,
        out: &mut Outbox,
    ) {
        let size = match size.parse::<u64>() {
            Ok(n) if n > 0 => n,
            // Without a size nobody can tell where the payload would end, so nothing is skipped:
            // what follows is read as lines again.
            _ => {
                self.stats.files_refused += 1;
                let size = Arc::from(size);
                return out.send(conn, Event::File(FileNotice::BadSize { size }));
            }
        };
        let refusal = match files::sanitize_file_name(name) {
            Err(_) => Some(FileNotice::BadName),
            Ok(clean) => {
                let max = self.settings.max_file.min(self.settings.file_store as u64);
                if size > max {
                    Some(FileNotice::TooLarge {
                        name: Arc::from(clean),
                        size,
                        max,
                    })
                } else {
                    self.uploads.insert(
                        conn,
                        Upload {
                            name: Arc::from(clean),
                        },
                    );
                    None
                }
            }
        };
        let keep = match refusal {
            Some(notice) => {
                self.stats.files_refused += 1;
                info!("{}: upload refused: {notice:?}", self.sessions[sid].nick);
                out.send(conn, Event::File(notice));
                Keep::Discard
            }
            None => Keep::Collect,
        };
        out.items.push(Output::ReceiveFile { conn, size, keep });
    }

    /// Every byte of `conn`'s upload has arrived: offer it to the room (and, within
    /// `--auto-accept-max`, send it to everyone there at once).
    pub fn file_received(&mut self, conn: ConnId, payload: Bytes, now: Now, out: &mut Outbox) {
        let Some(upload) = self.uploads.remove(&conn) else {
            return;
        };
        let Some(sid) = self.entry(conn).and_then(|e| e.session) else {
            return;
        };
        let (room, from, uid) = {
            let s = &self.sessions[sid];
            (s.room, s.nick.clone(), s.uid)
        };
        let room_name = self.rooms[room].name.clone();
        let size = payload.len() as u64;
        let added = self.offers.add(
            from.clone(),
            uid,
            room_name.clone(),
            upload.name.clone(),
            payload.clone(),
            now.mono,
        );
        let (id, expires, evicted) = match added {
            Ok((offer, evicted)) => (offer.id, offer.expires, evicted),
            Err(_) => {
                // Checked at `/file`; only a smaller store configured since could get here.
                let max = self.settings.file_store as u64;
                let notice = FileNotice::TooLarge {
                    name: upload.name,
                    size,
                    max,
                };
                return out.send(conn, Event::File(notice));
            }
        };
        self.stats.files_offered += 1;
        info!(
            "{from} offers #{id} {} ({size} bytes) in {room_name}",
            upload.name
        );
        self.timers.insert(expires, ChatTimer::OfferExpires { id });
        for old in evicted {
            let notice = FileNotice::Evicted {
                id: old.id,
                name: old.name,
            };
            self.tell_uid(old.from_uid, Event::File(notice), out);
        }
        let pushed = size <= self.settings.auto_accept_max;
        let offered = FileNotice::Offered {
            at: now.wall,
            room: room_name.clone(),
            from: from.clone(),
            id,
            name: upload.name.clone(),
            size,
            pushed,
        };
        self.broadcast(room, Some(sid), Event::File(offered), out);
        out.send(
            conn,
            Event::File(FileNotice::OfferUp {
                id,
                name: upload.name.clone(),
                size,
                room: room_name.clone(),
                ttl_secs: self.settings.file_ttl.as_secs(),
            }),
        );
        if pushed {
            self.push_to_room(room, sid, id, from, upload.name, payload, out);
        }
    }

    /// Auto-accept: the file goes to every connected member of the room but its sender, the
    /// payload shared by all of them. Members away on a reconnect see the offer in their replay
    /// and can `/accept` it.
    #[allow(clippy::too_many_arguments)]
    fn push_to_room(
        &mut self,
        room: super::RoomId,
        sender: SessionId,
        id: u64,
        from: Arc<str>,
        name: Arc<str>,
        payload: Bytes,
        out: &mut Outbox,
    ) {
        let room_name = self.rooms[room].name.clone();
        let start = out.recipients.len();
        for &member in &self.rooms[room].members {
            let s = &self.sessions[member];
            if member == sender {
                continue;
            }
            if let Some(conn) = s.conn {
                out.recipients.push(conn);
                let _ = self.offers.accept(id, s.uid, &room_name);
            }
        }
        let end = out.recipients.len();
        if end > start {
            self.stats.files_sent += (end - start) as u64;
            let data = FileNotice::Data {
                id,
                from,
                name,
                payload,
            };
            out.items.push(Output::ToMany {
                start,
                end,
                event: Event::File(data),
            });
        }
    }

    /// `/accept ID`.
    pub(super) fn accept_file(&mut self, conn: ConnId, sid: SessionId, id: &str, out: &mut Outbox) {
        let (uid, room) = self.uid_and_room(sid);
        let Some(num) = parse_id(id) else {
            let id = Arc::from(id);
            return out.send(conn, Event::File(FileNotice::NoSuchFile { id }));
        };
        match self.offers.accept(num, uid, &room) {
            Ok(offer) => {
                let data = FileNotice::Data {
                    id: offer.id,
                    from: offer.from.clone(),
                    name: offer.name.clone(),
                    payload: offer.payload.clone(),
                };
                self.stats.files_sent += 1;
                out.send(conn, Event::File(data));
            }
            Err(e) => self.refuse_offer(conn, id, num, e, out),
        }
    }

    /// `/decline ID`.
    pub(super) fn decline_file(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        id: &str,
        out: &mut Outbox,
    ) {
        let (uid, room) = self.uid_and_room(sid);
        let Some(num) = parse_id(id) else {
            let id = Arc::from(id);
            return out.send(conn, Event::File(FileNotice::NoSuchFile { id }));
        };
        match self.offers.decline(num, uid, &room) {
            Ok(offer) => {
                let (from_uid, name) = (offer.from_uid, offer.name.clone());
                out.send(conn, Event::File(FileNotice::Declined { id: num }));
                if from_uid != uid {
                    let by = self.sessions[sid].nick.clone();
                    let notice = FileNotice::DeclinedBy { id: num, name, by };
                    self.tell_uid(from_uid, Event::File(notice), out);
                }
            }
            Err(e) => self.refuse_offer(conn, id, num, e, out),
        }
    }

    /// `/files`: the offers open to the user in their room, oldest first.
    pub(super) fn list_files(&mut self, conn: ConnId, sid: SessionId, now: Now, out: &mut Outbox) {
        let (uid, room) = self.uid_and_room(sid);
        let entries = self
            .offers
            .open_to(uid, &room)
            .map(|o| FileEntry {
                id: o.id,
                from: o.from.clone(),
                name: o.name.clone(),
                size: o.size() as u64,
                secs_left: o.expires.saturating_duration_since(now.mono).as_secs(),
            })
            .collect();
        out.send(conn, Event::File(FileNotice::List { entries }));
    }

    /// An offer's expiry timer fired.
    pub(super) fn offer_expires(&mut self, id: u64, now: Now, out: &mut Outbox) {
        if let Some(offer) = self.offers.expire(id, now.mono) {
            info!("file offer #{id} expired");
            let notice = FileNotice::Expired {
                id,
                name: offer.name,
            };
            self.tell_uid(offer.from_uid, Event::File(notice), out);
        }
    }

    fn refuse_offer(&self, conn: ConnId, id: &str, num: u64, e: OfferError, out: &mut Outbox) {
        let notice = match (e, self.offers.get(num)) {
            (OfferError::OtherRoom, Some(offer)) => FileNotice::OtherRoom {
                id: num,
                room: offer.room.clone(),
            },
            _ => FileNotice::NoSuchFile { id: Arc::from(id) },
        };
        out.send(conn, Event::File(notice));
    }

    fn uid_and_room(&self, sid: SessionId) -> (u64, Arc<str>) {
        let s = &self.sessions[sid];
        (s.uid, self.rooms[s.room].name.clone())
    }

    /// Tells the user with this uid, if still connected (offers outlive their senders).
    pub(super) fn tell_uid(&self, uid: u64, event: Event, out: &mut Outbox) {
        let conn = self
            .sessions
            .iter()
            .find(|(_, s)| s.uid == uid)
            .and_then(|(_, s)| s.conn);
        if let Some(conn) = conn {
            out.send(conn, event);
        }
    }

    /// Payload bytes held for open offers.
    pub fn file_store_bytes(&self) -> usize {
        self.offers.total_bytes()
    }
}

fn parse_id(id: &str) -> Option<u64> {
    id.trim_start_matches('#').parse().ok()
}
