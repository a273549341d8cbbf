//! The building blocks of a generated venue: seat, row and section specs, the
//! stage, and the small seeded random number generator that keeps it
//! deterministic.

use crate::seating::doc::{Flag, Outline};

/// A seat before numbering: where it is and what it is.
#[derive(Debug, Clone)]
pub(super) struct SeatSpec {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) gap_before: bool,
    pub(super) flags: Vec<Flag>,
    /// Index into the category list; `None` means "the row's".
    pub(super) category: Option<usize>,
}

impl SeatSpec {
    pub(super) fn at(x: f64, y: f64) -> Self {
        Self {
            x,
            y,
            gap_before: false,
            flags: Vec::new(),
            category: None,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct RowSpec {
    pub(super) name: String,
    pub(super) seats: Vec<SeatSpec>,
    pub(super) category: usize,
}

impl RowSpec {
    pub(super) fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            seats: Vec::new(),
            category: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct SectionSpec {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) outline: Option<Outline>,
    pub(super) rows: Vec<RowSpec>,
}

impl SectionSpec {
    pub(super) fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            outline: None,
            rows: Vec::new(),
        }
    }
}

/// The stage rectangle, in the same coordinates as the seats.
pub(super) struct Stage {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) width: f64,
    pub(super) height: f64,
}

/// A tiny deterministic generator (SplitMix64): the layout must not change
/// with a dependency's version.
pub(super) struct SplitMix64(pub(super) u64);

impl SplitMix64 {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability 1/`n`.
    pub(super) fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    /// Uniform in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
