//! Sharing files with a room: `/file`, `/files`, `/accept`, `/decline`, and what happens when an
//! upload completes or an offer expires (PROTOCOL.md, "Files").
//!
//! The core decides; the reactor moves bytes. `/file NAME SIZE` is checked here before a single
//! payload byte is read, and answered with `Output::ReceiveFile`, which switches the connection's
//! decoder to a byte-count frame: collected when the upload is accepted, read and dropped when it
//! is refused, so the connection stays usable either way. The finished payload comes back through
//! [`Chat::file_received`] as one `Bytes`, which every delivery shares. The offers themselves,
//! with their lifetime and the store-wide byte cap, are [`offers`].

pub mod offers;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use log::info;

use super::context::Cx;
use super::event::{Event, FileEntry, FileNotice};
use super::{Chat, ChatTimer, ConnId, Now, Outbox, Output, RoomId, SessionId};
use crate::codec::file::Keep;
use offers::{OfferError, Offers};

/// The open offers and the uploads under way.
#[derive(Debug)]
pub struct Files {
    offers: Offers,
    /// Uploads under way: the connection's next bytes are this file.
    uploads: HashMap<ConnId, Upload>,
}

/// An upload under way: what the connection's next `size` bytes are.
#[derive(Debug)]
struct Upload {
    name: Arc<str>,
}

impl Files {
    /// A store holding at most `cap` payload bytes; offers live for `ttl`.
    pub fn new(cap: usize, ttl: Duration) -> Self {
        Files {
            offers: Offers::new(cap, ttl),
            uploads: HashMap::new(),
        }
    }

    /// The connection's upload, if any, will never complete (it closed, or it is new).
    pub fn upload_ended(&mut self, conn: ConnId) {
        self.uploads.remove(&conn);
    }

    /// Payload bytes held for open offers.
    pub fn store_bytes(&self) -> usize {
        self.offers.total_bytes()
    }
}

/// What a recipient of a pushed file needs: who sent it, and the offer it belongs to.
struct Push {
    room: RoomId,
    sender: SessionId,
    id: u64,
    from: Arc<str>,
    name: Arc<str>,
    payload: Bytes,
}

impl Chat {
    /// `/file NAME SIZE`.
    pub(super) fn start_upload(&mut self, cx: &mut Cx<'_>, name: &str, size: &str) {
        let size = match size.parse::<u64>() {
            Ok(n) if n > 0 => n,
            // Without a size nobody can tell where the payload would end, so nothing is skipped:
            // what follows is read as lines again.
            _ => {
                self.stats.files_refused += 1;
                let size = Arc::from(size);
                return cx.reply(Event::File(FileNotice::BadSize { size }));
            }
        };
        let refusal = match offers::sanitize_file_name(name) {
            Err(_) => Some(FileNotice::BadName),
            Ok(clean) => {
                let max = self.settings.max_file.min(self.settings.file_store as u64);
                if size > max {
                    Some(FileNotice::TooLarge {
                        name: Arc::from(clean),
                        size,
                        max,
                    })
                } else if let Some((max, per_address)) = self.uploads_full(cx.conn) {
                    Some(FileNotice::UploadsBusy {
                        name: Arc::from(clean),
                        max,
                        per_address,
                    })
                } else {
                    let name = Arc::from(clean);
                    self.files.uploads.insert(cx.conn, Upload { name });
                    None
                }
            }
        };
        let keep = match refusal {
            Some(notice) => {
                self.stats.files_refused += 1;
                let why = match &notice {
                    FileNotice::BadName => "bad-name",
                    FileNotice::TooLarge { .. } => "too-large",
                    _ => "uploads-busy",
                };
                info!(nick:% = self.sessions[cx.sid].nick(), size, why; "upload refused");
                cx.reply(Event::File(notice));
                Keep::Discard
            }
            None => Keep::Collect,
        };
        let conn = cx.conn;
        cx.out.items.push(Output::ReceiveFile { conn, size, keep });
    }

    /// An open offer's name and payload for its download link (`GET /files/ID/NAME?key=KEY`):
    /// `None` unless `key` is the offer's, compared in constant time. The link works while the
    /// offer is open, for anyone who has it, as a link shared in a chat does.
    pub fn download(&self, id: u64, key: &str) -> Option<(Arc<str>, Bytes)> {
        let offer = self.files.offers.get(id)?;
        crate::chat::id::keys_equal(&offer.key, key)
            .then(|| (offer.name.clone(), offer.payload.clone()))
    }

    /// Whether another upload from `conn` would pass `--max-uploads-per-ip` (`true`) or
    /// `--max-uploads` (`false`), with the cap. An upload being collected holds up to
    /// `--max-file` bytes until it completes, so uploads under way are capped like connections.
    fn uploads_full(&self, conn: ConnId) -> Option<(usize, bool)> {
        let (per_ip, total) = (self.settings.max_uploads_per_ip, self.settings.max_uploads);
        if self.files.uploads.len() >= total {
            return Some((total, false));
        }
        let ip = self.sessions.entry(conn)?.ip;
        let from_ip = self
            .files
            .uploads
            .keys()
            .filter(|&&c| self.sessions.entry(c).is_some_and(|e| e.ip == ip))
            .count();
        (from_ip >= per_ip).then_some((per_ip, true))
    }

    /// Every byte of `conn`'s upload has arrived: offer it to the room (and, within
    /// `--auto-accept-max`, send it to everyone there at once).
    pub fn file_received(&mut self, conn: ConnId, payload: Bytes, now: Now, out: &mut Outbox) {
        let Some(upload) = self.files.uploads.remove(&conn) else {
            return;
        };
        let Some(sid) = self.sessions.session_of(conn) else {
            return;
        };
        let s = &self.sessions[sid];
        let (room, from, uid) = (s.room(), s.nick().clone(), s.uid());
        let room_name = self.rooms[room].name().clone();
        let size = payload.len() as u64;
        let added = self.files.offers.add(
            from.clone(),
            uid,
            room_name.clone(),
            upload.name.clone(),
            payload.clone(),
            now.mono,
        );
        let (id, key, expires, evicted) = match added {
            Ok((offer, evicted)) => (offer.id, offer.key.clone(), offer.expires, evicted),
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
            from:% = from,
            id,
            name:% = upload.name,
            size,
            room:% = room_name;
            "file offered"
        );
        self.timers.insert(expires, ChatTimer::OfferExpires { id });
        for old in evicted {
            let notice = FileNotice::Evicted {
                id: old.id,
                name: old.name,
            };
            self.sessions
                .tell_uid(old.from_uid, Event::File(notice), out);
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
            key,
        };
        self.broadcast(room, Some(sid), Event::File(offered), out);
        let up = FileNotice::OfferUp {
            id,
            name: upload.name.clone(),
            size,
            room: room_name,
            ttl_secs: self.settings.file_ttl.as_secs(),
        };
        out.send(conn, Event::File(up));
        if pushed {
            let push = Push {
                room,
                sender: sid,
                id,
                from,
                name: upload.name,
                payload,
            };
            self.push_to_room(push, out);
        }
    }

    /// Auto-accept: the file goes to every connected member of the room but its sender, the
    /// payload shared by all of them. Members away on a reconnect see the offer in their replay
    /// and can `/accept` it.
    fn push_to_room(&mut self, push: Push, out: &mut Outbox) {
        let room = &self.rooms[push.room];
        let start = out.recipients.len();
        for &member in room.members() {
            let s = &self.sessions[member];
            if member == push.sender {
                continue;
            }
            if let Some(conn) = s.conn() {
                out.recipients.push(conn);
                let _ = self.files.offers.accept(push.id, s.uid(), room.name());
            }
        }
        let end = out.recipients.len();
        if end > start {
            self.stats.files_sent += (end - start) as u64;
            let data = FileNotice::Data {
                id: push.id,
                from: push.from,
                name: push.name,
                payload: push.payload,
            };
            out.items.push(Output::ToMany {
                start,
                end,
                event: Event::File(data),
            });
        }
    }

    /// `/accept ID`.
    pub(super) fn accept_file(&mut self, cx: &mut Cx<'_>, id: &str) {
        let Some((num, uid, room)) = self.offer_asked(cx, id) else {
            return;
        };
        match self.files.offers.accept(num, uid, &room) {
            Ok(offer) => {
                let data = FileNotice::Data {
                    id: offer.id,
                    from: offer.from.clone(),
                    name: offer.name.clone(),
                    payload: offer.payload.clone(),
                };
                self.stats.files_sent += 1;
                cx.reply(Event::File(data));
            }
            Err(e) => self.refuse_offer(cx, id, num, e),
        }
    }

    /// `/decline ID`.
    pub(super) fn decline_file(&mut self, cx: &mut Cx<'_>, id: &str) {
        let Some((num, uid, room)) = self.offer_asked(cx, id) else {
            return;
        };
        match self.files.offers.decline(num, uid, &room) {
            Ok(offer) => {
                let (from_uid, name) = (offer.from_uid, offer.name.clone());
                cx.reply(Event::File(FileNotice::Declined { id: num }));
                if from_uid != uid {
                    let by = self.sessions[cx.sid].nick().clone();
                    let notice = FileNotice::DeclinedBy { id: num, name, by };
                    self.sessions
                        .tell_uid(from_uid, Event::File(notice), cx.out);
                }
            }
            Err(e) => self.refuse_offer(cx, id, num, e),
        }
    }

    /// The offer an `/accept` or `/decline` names, with the asker's uid and room; `None` (and the
    /// asker told) when `id` is not an offer id at all.
    fn offer_asked(&self, cx: &mut Cx<'_>, id: &str) -> Option<(u64, u64, Arc<str>)> {
        let Some(num) = parse_id(id) else {
            let id = Arc::from(id);
            cx.reply(Event::File(FileNotice::NoSuchFile { id }));
            return None;
        };
        let (uid, room) = self.uid_and_room(cx.sid);
        Some((num, uid, room))
    }

    /// `/files`: the offers open to the user in their room, oldest first.
    pub(super) fn list_files(&mut self, cx: &mut Cx<'_>) {
        let (uid, room) = self.uid_and_room(cx.sid);
        let now = cx.now.mono;
        let entries = self
            .files
            .offers
            .open_to(uid, &room)
            .map(|o| FileEntry {
                id: o.id,
                from: o.from.clone(),
                name: o.name.clone(),
                size: o.size() as u64,
                secs_left: o.expires.saturating_duration_since(now).as_secs(),
            })
            .collect();
        cx.reply(Event::File(FileNotice::List { entries }));
    }

    /// An offer's expiry timer fired.
    pub(super) fn offer_expires(&mut self, id: u64, now: Now, out: &mut Outbox) {
        if let Some(offer) = self.files.offers.expire(id, now.mono) {
            info!(id; "file offer expired");
            let notice = FileNotice::Expired {
                id,
                name: offer.name,
            };
            self.sessions
                .tell_uid(offer.from_uid, Event::File(notice), out);
        }
    }

    fn refuse_offer(&self, cx: &mut Cx<'_>, id: &str, num: u64, e: OfferError) {
        let notice = match (e, self.files.offers.get(num)) {
            (OfferError::OtherRoom, Some(offer)) => FileNotice::OtherRoom {
                id: num,
                room: offer.room.clone(),
            },
            _ => FileNotice::NoSuchFile { id: Arc::from(id) },
        };
        cx.reply(Event::File(notice));
    }

    fn uid_and_room(&self, sid: SessionId) -> (u64, Arc<str>) {
        let s = &self.sessions[sid];
        (s.uid(), self.rooms[s.room()].name().clone())
    }
}

fn parse_id(id: &str) -> Option<u64> {
    id.trim_start_matches('#').parse().ok()
}
