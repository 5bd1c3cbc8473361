//! Where the simulation's choices come from: a seeded generator (the `cargo test` runs and
//! `SIM_SEEDS` runs), or the bytes of a fuzz input, so libFuzzer steers the same choices.

/// A source of choices. Every decision in a run (which client acts, how many bytes arrive, which
/// call fails) is drawn from it, so a seed or an input replays the run exactly.
pub enum Entropy {
    Seeded(fastrand::Rng),
    /// A fuzz input, read a byte at a time; once it is used up every choice is the first one
    /// (no fault, the smallest size) and [`Entropy::exhausted`] says the run should end.
    Bytes {
        data: Vec<u8>,
        at: usize,
    },
}

impl Entropy {
    pub fn seeded(seed: u64) -> Entropy {
        Entropy::Seeded(fastrand::Rng::with_seed(seed))
    }

    pub fn bytes(data: &[u8]) -> Entropy {
        Entropy::Bytes {
            data: data.to_vec(),
            at: 0,
        }
    }

    /// Whether a fuzz input has been used up (a seeded source never is).
    pub fn exhausted(&self) -> bool {
        match self {
            Entropy::Seeded(_) => false,
            Entropy::Bytes { data, at } => *at >= data.len(),
        }
    }

    fn byte(&mut self) -> Option<u8> {
        match self {
            Entropy::Seeded(rng) => Some(rng.u8(..)),
            Entropy::Bytes { data, at } => {
                let b = data.get(*at).copied();
                *at += 1;
                b
            }
        }
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        match self {
            Entropy::Seeded(rng) => rng.usize(..n),
            Entropy::Bytes { .. } => {
                let mut v = 0usize;
                let mut span = 1usize;
                while span < n {
                    match self.byte() {
                        Some(b) => v = (v << 8) | usize::from(b),
                        None => return 0,
                    }
                    span = span.saturating_mul(256);
                }
                v % n
            }
        }
    }

    /// True with probability `per_mille` / 1000; always false once a fuzz input is used up.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        if per_mille == 0 {
            return false;
        }
        match self {
            Entropy::Seeded(rng) => rng.u32(..1000) < per_mille,
            Entropy::Bytes { .. } => match (self.byte(), self.byte()) {
                (Some(a), Some(b)) => (u32::from(a) << 8 | u32::from(b)) % 1000 < per_mille,
                _ => false,
            },
        }
    }

    /// A size in `1..=max`, biased towards small ones (most splits that matter are near a
    /// boundary: one byte, a few, or everything).
    pub fn size(&mut self, max: usize) -> usize {
        if max <= 1 {
            return max;
        }
        match self.below(4) {
            0 => 1,
            1 => 1 + self.below(max.min(8)),
            2 => max,
            _ => 1 + self.below(max),
        }
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
