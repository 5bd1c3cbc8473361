//! File offers: a shared file's payload held once, open to the room it was offered in, with a
//! lifetime and a store-wide byte cap (PROTOCOL.md, "Files").
//!
//! The store is plain data with time passed in, like the rest of the chat core. It knows nothing
//! of connections: who is in the room is the core's business; here an offer only remembers its
//! room and which users (by session uid) declined or took it. Ids are small sequential numbers
//! because people type them (`/accept 3`).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Characters of a download key (5 random bits each).
const DOWNLOAD_KEY_LEN: usize = 16;

/// Longest file name kept, in characters; longer names are shortened, keeping the extension.
pub const MAX_FILE_NAME_CHARS: usize = 100;

/// One file offered to a room.
#[derive(Debug, Clone)]
pub struct Offer {
    pub id: u64,
    pub from: Arc<str>,
    /// The sender's session uid, so a rename does not orphan the offer.
    pub from_uid: u64,
    /// The room's name as shown; compared case-insensitively.
    pub room: Arc<str>,
    pub name: Arc<str>,
    /// The file, held once and shared by every recipient's queue.
    pub payload: Bytes,
    /// What its download link carries (`/files/ID/NAME?key=KEY`): 80 random bits, so only
    /// those who were shown the offer can fetch it.
    pub key: Arc<str>,
    pub expires: Instant,
    /// Users who said no thanks; the offer is no longer listed for them.
    declined: HashSet<u64>,
    /// Users who took it (they may take it again).
    accepted: HashSet<u64>,
}

impl Offer {
    pub fn size(&self) -> usize {
        self.payload.len()
    }

    /// Whether the offer is listed for `uid` in `room`.
    pub fn open_to(&self, uid: u64, room: &str) -> bool {
        same_room(&self.room, room) && !self.declined.contains(&uid)
    }

    pub fn accepted_by(&self, uid: u64) -> bool {
        self.accepted.contains(&uid)
    }
}

/// Why an offer could not be taken or declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferError {
    /// No such id (never made, expired, evicted or withdrawn).
    NoSuchOffer,
    /// The offer belongs to another room than the user's.
    OtherRoom,
}

/// Why a file could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// Bigger than the whole store: it could never be held.
    LargerThanStore { cap: usize },
}

/// Every open offer.
#[derive(Debug)]
pub struct Offers {
    /// By id; ids grow with time, so the first entry is the oldest (evicted first).
    by_id: BTreeMap<u64, Offer>,
    total: usize,
    cap: usize,
    ttl: Duration,
    next_id: u64,
}

impl Offers {
    /// A store holding at most `cap` payload bytes; offers live for `ttl`.
    pub fn new(cap: usize, ttl: Duration) -> Self {
        Offers {
            by_id: BTreeMap::new(),
            total: 0,
            cap,
            ttl,
            next_id: 0,
        }
    }

    /// Payload bytes held.
    pub fn total_bytes(&self) -> usize {
        self.total
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether a file of `size` bytes could be stored at all (checked before its bytes are read).
    pub fn fits(&self, size: usize) -> Result<(), StoreError> {
        if size > self.cap {
            Err(StoreError::LargerThanStore { cap: self.cap })
        } else {
            Ok(())
        }
    }

    /// Stores a new offer, evicting the oldest offers until it fits. Returns the new offer and
    /// the evicted ones (their senders may be told).
    pub fn add(
        &mut self,
        from: Arc<str>,
        from_uid: u64,
        room: Arc<str>,
        name: Arc<str>,
        payload: Bytes,
        now: Instant,
    ) -> Result<(&Offer, Vec<Offer>), StoreError> {
        self.fits(payload.len())?;
        let mut evicted = Vec::new();
        while self.total + payload.len() > self.cap {
            let Some((_, oldest)) = self.by_id.pop_first() else {
                break;
            };
            self.total -= oldest.size();
            evicted.push(oldest);
        }
        self.next_id += 1;
        let id = self.next_id;
        self.total += payload.len();
        let offer = Offer {
            id,
            from,
            from_uid,
            room,
            name,
            payload,
            key: Arc::from(crate::chat::id::random_key(DOWNLOAD_KEY_LEN)),
            expires: now + self.ttl,
            declined: HashSet::new(),
            accepted: HashSet::new(),
        };
        Ok((self.by_id.entry(id).or_insert(offer), evicted))
    }

    pub fn get(&self, id: u64) -> Option<&Offer> {
        self.by_id.get(&id)
    }

    /// `uid`, in `room`, takes offer `id`: the offer, for its payload.
    pub fn accept(&mut self, id: u64, uid: u64, room: &str) -> Result<&Offer, OfferError> {
        let offer = self.by_id.get_mut(&id).ok_or(OfferError::NoSuchOffer)?;
        if !same_room(&offer.room, room) {
            return Err(OfferError::OtherRoom);
        }
        offer.declined.remove(&uid);
        offer.accepted.insert(uid);
        Ok(offer)
    }

    /// `uid`, in `room`, declines offer `id`.
    pub fn decline(&mut self, id: u64, uid: u64, room: &str) -> Result<&Offer, OfferError> {
        let offer = self.by_id.get_mut(&id).ok_or(OfferError::NoSuchOffer)?;
        if !same_room(&offer.room, room) {
            return Err(OfferError::OtherRoom);
        }
        offer.declined.insert(uid);
        Ok(offer)
    }

    /// The offers listed for `uid` in `room`, oldest first.
    pub fn open_to<'a>(&'a self, uid: u64, room: &'a str) -> impl Iterator<Item = &'a Offer> + 'a {
        self.by_id.values().filter(move |o| o.open_to(uid, room))
    }

    /// Removes offer `id` if its lifetime is over at `now` (its expiry timer fired).
    pub fn expire(&mut self, id: u64, now: Instant) -> Option<Offer> {
        if self.by_id.get(&id)?.expires > now {
            return None;
        }
        self.remove(id)
    }

    /// Removes offer `id` whatever its state (withdrawn by its sender, say).
    pub fn remove(&mut self, id: u64) -> Option<Offer> {
        let offer = self.by_id.remove(&id)?;
        self.total -= offer.size();
        Some(offer)
    }
}

fn same_room(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// Why a file name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileNameError {
    /// Nothing usable was left after cleaning.
    Empty,
}

/// Makes a file name safe to show and to save under: only its last path component, without
/// control or invisible characters, characters that are special on common file systems replaced
/// by `_`, no leading dots (so never `..` and never a hidden file), shortened to
/// [`MAX_FILE_NAME_CHARS`] characters keeping a short extension.
pub fn sanitize_file_name(raw: &str) -> Result<String, FileNameError> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    name = name.trim().trim_start_matches('.').trim().to_string();
    if name.is_empty() {
        return Err(FileNameError::Empty);
    }
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        name = shorten(&name);
    }
    Ok(name)
}

/// Format and other default-ignorable characters that render as nothing (bidi overrides that can
/// disguise an extension, zero-width joiners).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{feff}'
        | '\u{00ad}'
        | '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}')
}

/// Cuts a long name to the cap, keeping an extension of up to 10 characters.
fn shorten(name: &str) -> String {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.chars().count() <= 10);
    match ext {
        Some(ext) => {
            let keep = MAX_FILE_NAME_CHARS - ext.chars().count() - 1;
            let stem: String = name.chars().take(keep).collect();
            format!("{}.{ext}", stem.trim_end())
        }
        None => name.chars().take(MAX_FILE_NAME_CHARS).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(cap: usize) -> Offers {
        Offers::new(cap, Duration::from_secs(600))
    }

    fn add(offers: &mut Offers, size: usize, now: Instant) -> (u64, Vec<u64>) {
        let (offer, evicted) = offers
            .add(
                Arc::from("alice"),
                1,
                Arc::from("lobby"),
                Arc::from("a.txt"),
                Bytes::from(vec![b'x'; size]),
                now,
            )
            .unwrap();
        (offer.id, evicted.iter().map(|o| o.id).collect())
    }

    #[test]
    fn the_oldest_offers_are_evicted_to_make_room() {
        let now = Instant::now();
        let mut offers = store(100);
        assert_eq!(add(&mut offers, 40, now), (1, vec![]));
        assert_eq!(add(&mut offers, 40, now), (2, vec![]));
        assert_eq!(add(&mut offers, 40, now), (3, vec![1]));
        assert_eq!(offers.total_bytes(), 80);
        assert_eq!(add(&mut offers, 100, now), (4, vec![2, 3]));
        assert_eq!(offers.total_bytes(), 100);
        assert_eq!(
            offers.fits(101),
            Err(StoreError::LargerThanStore { cap: 100 })
        );
    }

    #[test]
    fn offers_expire_only_when_their_time_is_up() {
        let now = Instant::now();
        let mut offers = store(1000);
        let (id, _) = add(&mut offers, 10, now);
        assert!(offers.expire(id, now + Duration::from_secs(599)).is_none());
        assert!(offers.expire(id, now + Duration::from_secs(600)).is_some());
        assert_eq!(offers.total_bytes(), 0);
        assert!(offers.expire(id, now + Duration::from_secs(601)).is_none());
    }

    #[test]
    fn accept_and_decline_are_per_user_and_per_room() {
        let now = Instant::now();
        let mut offers = store(1000);
        let (id, _) = add(&mut offers, 10, now);
        assert_eq!(
            offers.accept(id, 2, "games").unwrap_err(),
            OfferError::OtherRoom
        );
        assert_eq!(
            offers.accept(99, 2, "lobby").unwrap_err(),
            OfferError::NoSuchOffer
        );
        assert_eq!(offers.accept(id, 2, "Lobby").unwrap().size(), 10);
        assert!(offers.get(id).unwrap().accepted_by(2));
        offers.decline(id, 3, "lobby").unwrap();
        assert_eq!(offers.open_to(3, "lobby").count(), 0);
        assert_eq!(offers.open_to(2, "lobby").count(), 1);
        assert_eq!(offers.open_to(2, "games").count(), 0);
        // Changing one's mind: a decliner may still take it.
        offers.accept(id, 3, "lobby").unwrap();
        assert_eq!(offers.open_to(3, "lobby").count(), 1);
    }

    #[test]
    fn file_names_never_escape_a_directory_or_hide_control_bytes() {
        let cases = [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
            ("..", ""),
            (".bashrc", "bashrc"),
            ("a\u{0}b\u{7}c\u{1b}[31m.txt", "abc[31m.txt"),
            ("evil\u{202e}txt.exe", "eviltxt.exe"),
            ("what?<>|*:\".txt", "what_______.txt"),
            ("  spaced  name.txt  ", "spaced  name.txt"),
            ("사진 2024.jpg", "사진 2024.jpg"),
            ("dir/", ""),
        ];
        for (raw, want) in cases {
            let got = sanitize_file_name(raw);
            if want.is_empty() {
                assert_eq!(got, Err(FileNameError::Empty), "{raw:?}");
            } else {
                assert_eq!(got.as_deref(), Ok(want), "{raw:?}");
            }
        }
    }

    #[test]
    fn long_names_are_shortened_keeping_the_extension() {
        let long = format!("{}.jpeg", "가".repeat(300));
        let short = sanitize_file_name(&long).unwrap();
        assert_eq!(short.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(short.ends_with(".jpeg"));
        let no_ext = "b".repeat(300);
        assert_eq!(
            sanitize_file_name(&no_ext).unwrap().chars().count(),
            MAX_FILE_NAME_CHARS
        );
    }
}
