//! Best available: the best `quantity` free seats next to each other for a
//! request, found fast enough to run inside the hold path.
//!
//! # What is chosen
//!
//! A *window* is `quantity` consecutive seats of one block (so of one row,
//! with no gap between them), all of the requested category. For an
//! ordinary request none of them is a wheelchair space or a companion seat;
//! for an accessible request all of them are, and at least one is a
//! wheelchair space.
//!
//! Among the windows whose seats are all free, the one with the lowest
//! **score** wins (ties: the lowest first seat index):
//!
//! ```text
//! score = |centre − focal_point| + MIDDLE_WEIGHT × |along_centre − row_length / 2|
//! ```
//!
//! - `centre` is the midpoint of the window's first and last seats, so the
//!   first term is how far the group sits from the stage;
//! - `along_centre` is the same midpoint measured along the row (see
//!   [`Seat::along`](super::map::Seat::along)) and `row_length / 2` is the
//!   middle of the row's *full* geometry, every seat taken or not: the
//!   middle does not drift towards whatever happens to be left;
//! - [`MIDDLE_WEIGHT`] (0.5) makes one unit off the row's middle cost half a
//!   unit of distance to the stage: a closer row wins over the middle of a
//!   farther one unless the closer group is far off-centre, and in side
//!   sections (where the row end nearest the stage is nearest) the middle
//!   still pulls.
//!
//! Both terms are in drawing units, so the score does not depend on the
//! map's scale. It depends only on geometry, never on availability, which is
//! what lets it be precomputed.
//!
//! **Single gaps** (with [`Rules::avoid_single_gaps`]): a window *strands* a
//! seat when it leaves exactly one free seat between itself and a seat that
//! is not free or the end of the block. The best window that strands nothing
//! is chosen; only when every free window of that size strands a seat is the
//! best of those taken anyway (never a refusal), and [`Choice`] says so.
//!
//! # Why it is fast
//!
//! [`Finder::new`] splits every block into *segments*: maximal runs of
//! seats of one category and one kind (ordinary, or accessible seating),
//! and keeps them in pools by (category, kind). For every quantity 1–10 it
//! stores each pool's segments sorted by the best score any window of that
//! size in the segment could have. A request walks that list in order,
//! reading seat states only inside the segments it visits, and stops as soon
//! as the next segment's best possible score is worse than the best window
//! already found: on an empty or half-full venue that is after a handful of
//! segments. The worst case (nothing fits, or everything that fits strands a
//! seat) reads each seat state of the pool once.
//!
//! **Why one module of ~480 lines**: the precomputed pools, the ordered walk
//! and the stranding rule read each other's private state (segments, pools,
//! per-seat geometry); split, each half would expose its internals to the
//! other for no reader's gain. The tests live in `best/tests.rs`.

use super::map::SeatMap;
use std::collections::HashMap;
use thiserror::Error;

#[cfg(test)]
mod tests;

/// Largest group one request may ask for.
pub const MAX_QUANTITY: usize = 10;

/// Weight of the distance to the row's middle against the distance to the
/// stage in the score.
pub const MIDDLE_WEIGHT: f64 = 0.5;

/// Tells whether a seat (canonical index) can be sold now.
pub trait Availability {
    fn is_free(&self, seat: u32) -> bool;
}

impl<F: Fn(u32) -> bool + ?Sized> Availability for F {
    fn is_free(&self, seat: u32) -> bool {
        self(seat)
    }
}

/// The `states` string of the seats API, one byte per seat: only `f` is free.
#[derive(Debug, Clone, Copy)]
pub struct StateChars<'a>(pub &'a [u8]);

impl Availability for StateChars<'_> {
    fn is_free(&self, seat: u32) -> bool {
        self.0.get(seat as usize) == Some(&b'f')
    }
}

/// One fan's request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// 1 to [`MAX_QUANTITY`].
    pub quantity: usize,
    /// A category id of the map.
    pub category: &'a str,
    /// Wheelchair space(s) with companion seats, instead of ordinary seats.
    pub accessible: bool,
    /// Seats to treat as taken, e.g. a first choice that lost the race to
    /// hold them. Any length; indices outside the map are ignored.
    pub excluding: &'a [u32],
}

/// Rules a sale can switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Prefer groups that leave no single seat stranded.
    pub avoid_single_gaps: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            avoid_single_gaps: true,
        }
    }
}

/// The seats chosen for a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Canonical indices, consecutive, in row order.
    pub seats: Vec<u32>,
    /// The window's score (lower is better).
    pub score: f64,
    /// True when every window of this size stranded a single seat and the
    /// best was taken anyway.
    pub leaves_single_gap: bool,
}

/// Why no seats were chosen.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BestError {
    #[error("quantity must be 1 to {max}, not {quantity}")]
    InvalidQuantity { quantity: usize, max: usize },
    #[error("category {0:?} is not in this seat map")]
    UnknownCategory(String),
    #[error("no {quantity} free seats next to each other in category {category:?}")]
    NoAdjacentSeats {
        quantity: usize,
        category: String,
        accessible: bool,
    },
}

impl BestError {
    /// The API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidQuantity { .. } => "invalid_quantity",
            Self::UnknownCategory(_) => "unknown_category",
            Self::NoAdjacentSeats { .. } => "no_adjacent_seats",
        }
    }
}

/// What the score needs of a seat.
#[derive(Debug, Clone, Copy)]
struct SeatGeometry {
    x: f64,
    y: f64,
    along: f64,
    wheelchair: bool,
}

/// A maximal run of one block's seats of one category and one kind.
#[derive(Debug, Clone, Copy)]
struct Segment {
    first: u32,
    len: u32,
    /// The enclosing block, for the single-gap rule: `block_first..block_end`.
    block_first: u32,
    block_end: u32,
    row_middle: f64,
}

/// A segment with the best score a window of some size could have in it.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    bound: f64,
    segment: u32,
}

/// The segments of one (category, kind), and for each quantity those that
/// can hold it, best bound first.
#[derive(Debug, Default, Clone)]
struct Pool {
    segments: Vec<Segment>,
    by_quantity: Vec<Vec<Candidate>>,
}

/// Best available for one seat map: build once when the map is loaded,
/// share it, call [`Finder::find`] per request.
#[derive(Debug, Clone)]
pub struct Finder {
    focal: (f64, f64),
    seats: Vec<SeatGeometry>,
    categories: HashMap<String, u16>,
    /// Index `category * 2 + accessible`.
    pools: Vec<Pool>,
}

/// A window under consideration: its score and first seat.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    score: f64,
    first: u32,
}

impl Window {
    /// Lower score wins; equal scores go to the lower seat index, so the
    /// result never depends on the order segments are visited in.
    fn beats(self, other: Option<Window>) -> bool {
        match other {
            None => true,
            Some(o) => self.score < o.score || (self.score == o.score && self.first < o.first),
        }
    }
}

/// The best windows found so far.
#[derive(Debug, Default)]
struct Search {
    /// Best window that strands no seat (or any window, rule off).
    clean: Option<Window>,
    /// Best window of all, for the fallback.
    any: Option<Window>,
}

impl Search {
    /// Nothing in a segment whose best possible score is `bound` can beat
    /// what we have. Only a clean window ends the search: while all we have
    /// strands a seat, a clean one may still come, however far.
    fn is_settled_before(&self, bound: f64) -> bool {
        self.clean.is_some_and(|c| bound > c.score)
    }
}

impl Finder {
    /// Precomputes the segments and their per-quantity bounds. Linear in the
    /// number of seats times [`MAX_QUANTITY`].
    pub fn new(map: &SeatMap) -> Self {
        let focal = map.focal_point();
        let seats = map
            .seats()
            .iter()
            .map(|s| SeatGeometry {
                x: s.x,
                y: s.y,
                along: s.along,
                wheelchair: s.flags.wheelchair(),
            })
            .collect();
        let categories = map
            .categories()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i as u16))
            .collect();
        let mut finder = Self {
            focal: (focal.x, focal.y),
            seats,
            categories,
            pools: vec![Pool::default(); map.categories().len() * 2],
        };
        finder.collect_segments(map);
        for pool_index in 0..finder.pools.len() {
            finder.pools[pool_index].by_quantity = finder.rank_segments(pool_index);
        }
        finder
    }

    fn pool_index(category: u16, accessible: bool) -> usize {
        category as usize * 2 + usize::from(accessible)
    }

    /// Splits every block into segments of one category and kind.
    fn collect_segments(&mut self, map: &SeatMap) {
        let seats = map.seats();
        let kind = |i: u32| {
            let seat = &seats[i as usize];
            Self::pool_index(seat.category, seat.flags.is_accessible_seating())
        };
        for block in map.blocks() {
            let row_middle = map.rows()[block.row as usize].middle();
            let range = block.seats();
            let mut first = range.start;
            for i in range.clone() {
                if i + 1 == range.end || kind(i + 1) != kind(i) {
                    self.pools[kind(i)].segments.push(Segment {
                        first,
                        len: i + 1 - first,
                        block_first: range.start,
                        block_end: range.end,
                        row_middle,
                    });
                    first = i + 1;
                }
            }
        }
    }

    /// For each quantity, the pool's segments that can hold a window of it,
    /// best possible score first.
    fn rank_segments(&self, pool_index: usize) -> Vec<Vec<Candidate>> {
        let pool = &self.pools[pool_index];
        let accessible = pool_index % 2 == 1;
        (1..=MAX_QUANTITY as u32)
            .map(|quantity| {
                let mut ranked: Vec<Candidate> = pool
                    .segments
                    .iter()
                    .enumerate()
                    .filter_map(|(i, segment)| {
                        let bound = self.best_possible(segment, quantity, accessible)?;
                        Some(Candidate {
                            bound,
                            segment: i as u32,
                        })
                    })
                    .collect();
                ranked.sort_by(|a, b| a.bound.total_cmp(&b.bound).then(a.segment.cmp(&b.segment)));
                ranked
            })
            .collect()
    }

    /// The lowest score of any window of `quantity` in the segment (that
    /// holds a wheelchair space, for accessible pools), if there is one.
    fn best_possible(&self, segment: &Segment, quantity: u32, accessible: bool) -> Option<f64> {
        if segment.len < quantity {
            return None;
        }
        (segment.first..=segment.first + segment.len - quantity)
            .filter(|&first| !accessible || self.has_wheelchair(first, quantity))
            .map(|first| self.score(first, quantity, segment.row_middle))
            .min_by(f64::total_cmp)
    }

    fn has_wheelchair(&self, first: u32, quantity: u32) -> bool {
        self.seats[first as usize..(first + quantity) as usize]
            .iter()
            .any(|s| s.wheelchair)
    }

    /// The score of the window of `quantity` seats from `first` (see the
    /// module documentation).
    fn score(&self, first: u32, quantity: u32, row_middle: f64) -> f64 {
        let a = &self.seats[first as usize];
        let b = &self.seats[(first + quantity - 1) as usize];
        let centre = ((a.x + b.x) * 0.5, (a.y + b.y) * 0.5);
        let to_stage = (centre.0 - self.focal.0).hypot(centre.1 - self.focal.1);
        let off_middle = ((a.along + b.along) * 0.5 - row_middle).abs();
        to_stage + MIDDLE_WEIGHT * off_middle
    }

    /// The best free window for `request`, or why there is none.
    pub fn find<A: Availability + ?Sized>(
        &self,
        request: &Request<'_>,
        rules: Rules,
        availability: &A,
    ) -> Result<Choice, BestError> {
        if !(1..=MAX_QUANTITY).contains(&request.quantity) {
            return Err(BestError::InvalidQuantity {
                quantity: request.quantity,
                max: MAX_QUANTITY,
            });
        }
        let category = *self
            .categories
            .get(request.category)
            .ok_or_else(|| BestError::UnknownCategory(request.category.to_string()))?;
        let quantity = request.quantity as u32;
        let pool = &self.pools[Self::pool_index(category, request.accessible)];
        let mut excluded = request.excluding.to_vec();
        excluded.sort_unstable();
        let is_free = |seat: u32| {
            availability.is_free(seat)
                && (excluded.is_empty() || excluded.binary_search(&seat).is_err())
        };
        let mut search = Search::default();
        for candidate in &pool.by_quantity[request.quantity - 1] {
            if search.is_settled_before(candidate.bound) {
                break;
            }
            let segment = &pool.segments[candidate.segment as usize];
            self.scan(
                segment,
                quantity,
                request.accessible,
                rules,
                &is_free,
                &mut search,
            );
        }
        let (window, leaves_single_gap) = match (search.clean, search.any) {
            (Some(clean), _) => (clean, false),
            (None, Some(any)) => (any, true),
            (None, None) => {
                return Err(BestError::NoAdjacentSeats {
                    quantity: request.quantity,
                    category: request.category.to_string(),
                    accessible: request.accessible,
                })
            }
        };
        Ok(Choice {
            seats: (window.first..window.first + quantity).collect(),
            score: window.score,
            leaves_single_gap,
        })
    }

    /// Considers every free window of one segment.
    fn scan(
        &self,
        segment: &Segment,
        quantity: u32,
        accessible: bool,
        rules: Rules,
        is_free: &impl Fn(u32) -> bool,
        search: &mut Search,
    ) {
        let mut run = 0;
        let mut last_wheelchair = None;
        for seat in segment.first..segment.first + segment.len {
            if !is_free(seat) {
                run = 0;
                continue;
            }
            run += 1;
            if self.seats[seat as usize].wheelchair {
                last_wheelchair = Some(seat);
            }
            if run < quantity {
                continue;
            }
            let first = seat + 1 - quantity;
            if accessible && last_wheelchair.is_none_or(|w| w < first) {
                continue;
            }
            let window = Window {
                score: self.score(first, quantity, segment.row_middle),
                first,
            };
            let improves_clean = window.beats(search.clean);
            if !improves_clean && !window.beats(search.any) {
                continue;
            }
            let strands =
                rules.avoid_single_gaps && strands_a_seat(segment, first, quantity, is_free);
            if improves_clean && !strands {
                search.clean = Some(window);
            }
            if window.beats(search.any) {
                search.any = Some(window);
            }
        }
    }
}

/// Would taking `quantity` seats from `first` leave a single free seat
/// between them and a seat that is not free, or the end of the block?
fn strands_a_seat(
    segment: &Segment,
    first: u32,
    quantity: u32,
    is_free: &impl Fn(u32) -> bool,
) -> bool {
    let end = first + quantity;
    let left = first > segment.block_first
        && is_free(first - 1)
        && (first - 1 == segment.block_first || !is_free(first - 2));
    let right = end < segment.block_end
        && is_free(end)
        && (end + 1 == segment.block_end || !is_free(end + 1));
    left || right
}
