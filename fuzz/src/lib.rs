//! Helpers shared by the fuzz targets.

/// Cuts `data` into pieces whose sizes cycle through `splits` (1 to 64 bytes each); the whole
/// input as one piece when `splits` is empty. Decoders must give the same result either way.
pub fn split<'a>(data: &'a [u8], splits: &[u8]) -> Vec<&'a [u8]> {
    if splits.is_empty() {
        return vec![data];
    }
    let mut parts = Vec::new();
    let mut at = 0;
    for size in splits.iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + 1 + usize::from(*size) % 64).min(data.len());
        parts.push(&data[at..end]);
        at = end;
    }
    parts
}

/// How the decoder targets read their input, so that seed files are easy to write by hand: the
/// first byte is a parameter (a size or a cap), the next four the split pattern, the rest the
/// bytes to decode. Shorter inputs are all data, with a zero parameter and no splits.
pub fn framed(data: &[u8]) -> (u8, &[u8], &[u8]) {
    if data.len() < 5 {
        return (0, &[], data);
    }
    (data[0], &data[1..5], &data[5..])
}
