//! `--files N`: file offers and accepts mixed into a chat load.
//!
//! Every `N`th message a sender sends is a file upload instead (`/file bench-S-K.bin SIZE` and
//! `--file-size` pattern bytes). Every other member of the room answers the offer line with
//! `/accept ID`, then reads the `=file ID SIZE FROM NAME` header and exactly SIZE bytes in the
//! middle of its line stream, checking each against the pattern. The report counts uploads,
//! accepts, complete deliveries, corrupted payloads and refusals (`! file-busy`, expired offers),
//! so a file relay that stalls chat or loses a payload shows up beside the message figures.

/// The byte at `offset` of every bench file: catches shifted or mixed-up bytes.
pub fn pattern(offset: usize) -> u8 {
    (offset.wrapping_mul(131) ^ (offset >> 9)) as u8
}

/// Appends an upload of `size` bytes to a sender's output.
pub fn encode_upload(out: &mut Vec<u8>, sender: usize, n: u64, size: usize) {
    out.extend_from_slice(format!("/file bench-{sender}-{n}.bin {size}\n").as_bytes());
    out.extend((0..size).map(pattern));
}

/// The offer id in `[HH:MM] * NICK offers the file NAME (SIZE) as #ID: /accept ID ...`.
pub fn parse_offer(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    if !text.contains(" offers the file ") {
        return None;
    }
    let (_, rest) = text.rsplit_once(" as #")?;
    let (id, _) = rest.split_once(':')?;
    id.parse().ok()
}

/// The payload size in `=file ID SIZE FROM NAME`.
pub fn parse_header(line: &[u8]) -> Option<usize> {
    let rest = line.strip_prefix(b"=file ")?;
    let mut words = rest.split(|&b| b == b' ');
    let _id = words.next()?;
    std::str::from_utf8(words.next()?).ok()?.parse().ok()
}

/// A payload being read: how much is left and whether every byte so far matched.
#[derive(Debug, Default, Clone, Copy)]
pub struct Incoming {
    pub size: usize,
    pub read: usize,
    pub intact: bool,
}

impl Incoming {
    pub fn new(size: usize) -> Incoming {
        Incoming {
            size,
            read: 0,
            intact: true,
        }
    }

    /// Takes the payload's bytes from the front of `data`; returns how many it took.
    pub fn take(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.size - self.read);
        if self.intact {
            self.intact = data[..n]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == pattern(self.read + i));
        }
        self.read += n;
        n
    }

    pub fn done(&self) -> bool {
        self.read == self.size
    }
}

/// File figures of one run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FileCounts {
    pub uploads: u64,
    pub accepts: u64,
    pub delivered: u64,
    pub bytes: u64,
    pub corrupted: u64,
    /// `! file-busy`, `! no-such-file` and other refusals of an accept.
    pub refused: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_and_header_lines_parse() {
        let offer = b"[12:34] * b1 offers the file bench-0-3.bin (4.0 KiB) as #17: /accept 17 to get it, /decline 17 to say no";
        assert_eq!(parse_offer(offer), Some(17));
        assert_eq!(parse_offer(b"[12:34] b1: as #3: hi"), None);
        assert_eq!(parse_header(b"=file 17 4096 b1 bench-0-3.bin"), Some(4096));
        assert_eq!(parse_header(b"[12:34] =file 1 2"), None);
    }

    #[test]
    fn a_payload_is_checked_across_any_split() {
        let mut upload = Vec::new();
        encode_upload(&mut upload, 0, 0, 1000);
        let payload = &upload[upload.iter().position(|&b| b == b'\n').unwrap() + 1..];
        for split in 0..=payload.len() {
            let mut incoming = Incoming::new(1000);
            assert_eq!(incoming.take(&payload[..split]), split);
            assert_eq!(incoming.take(&payload[split..]), 1000 - split);
            assert!(incoming.done() && incoming.intact, "split at {split}");
        }
        let mut bad = payload.to_vec();
        bad[500] ^= 1;
        let mut incoming = Incoming::new(1000);
        incoming.take(&bad);
        assert!(!incoming.intact);
        // Bytes after the payload are left for the line reader.
        let mut incoming = Incoming::new(10);
        assert_eq!(incoming.take(&payload[..20]), 10);
    }
}
