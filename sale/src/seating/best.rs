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

use super::map::SeatMap;
use std::collections::HashMap;
use thiserror::Error;

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::doc::{
        CategoryDoc, Document, Flag, Point, RowDoc, SeatDoc, SectionDoc, Size, FORMAT,
    };
    use super::super::generate::stadium;
    use super::*;
    use proptest::prelude::*;
    use std::time::Instant;

    /// A map from row sketches: `a`/`b` ordinary seats of category a/b,
    /// `W` wheelchair and `C` companion (category a), `|` a gap before the
    /// next seat. Rows are 20 units apart, seats 10; the stage is centred
    /// 1,000 units in front of the first row, so the distance to it barely
    /// changes along a row and the row's middle decides within a row.
    fn sketch_map(rows: &[&str]) -> SeatMap {
        sketch_map_with_focal(rows, None)
    }

    fn sketch_map_with_focal(rows: &[&str], focal: Option<Point>) -> SeatMap {
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(0) as f64 * 10.0;
        let rows: Vec<RowDoc> = rows
            .iter()
            .enumerate()
            .map(|(r, sketch)| {
                let mut seats = Vec::new();
                let mut gap = false;
                let mut x = 0.0;
                for c in sketch.chars() {
                    x += 10.0;
                    if c == '|' {
                        gap = true;
                        continue;
                    }
                    let (category, flags) = match c {
                        'a' => ("a", vec![]),
                        'b' => ("b", vec![]),
                        'W' => ("a", vec![Flag::Wheelchair]),
                        'C' => ("a", vec![Flag::Companion]),
                        other => panic!("unknown sketch seat {other:?}"),
                    };
                    seats.push(SeatDoc {
                        id: format!("r{r}s{}", seats.len()),
                        number: (seats.len() + 1).to_string(),
                        x,
                        y: 1000.0 + 20.0 * r as f64,
                        category: category.into(),
                        flags,
                        gap_before: std::mem::take(&mut gap),
                        label: None,
                    });
                }
                RowDoc {
                    id: r.to_string(),
                    name: r.to_string(),
                    label: None,
                    seats,
                }
            })
            .collect();
        let doc = Document {
            format: FORMAT.into(),
            name: None,
            size: Size {
                width: width + 20.0,
                height: 2000.0,
            },
            focal_point: focal.unwrap_or(Point {
                x: (width + 10.0) / 2.0,
                y: 0.0,
            }),
            categories: ["a", "b"]
                .iter()
                .map(|id| CategoryDoc {
                    id: (*id).into(),
                    name: id.to_uppercase(),
                    color: "#123456".into(),
                })
                .collect(),
            sections: vec![SectionDoc {
                id: "s".into(),
                name: "S".into(),
                outline: None,
                rows,
            }],
            areas: vec![],
            drawing: vec![],
        };
        SeatMap::from_document(doc).unwrap()
    }

    /// Seat states from a sketch: `x` taken, anything else free; spaces and
    /// `|` are ignored so the sketch can line up with the map's.
    fn states(sketch: &str) -> Vec<bool> {
        sketch
            .chars()
            .filter(|c| !matches!(c, ' ' | '|'))
            .map(|c| c != 'x')
            .collect()
    }

    fn request(quantity: usize, category: &str) -> Request<'_> {
        Request {
            quantity,
            category,
            accessible: false,
            excluding: &[],
        }
    }

    fn find(map: &SeatMap, request: &Request<'_>, free: &[bool]) -> Result<Choice, BestError> {
        let free = |i: u32| free.get(i as usize).copied().unwrap_or(false);
        Finder::new(map).find(request, Rules::default(), &free)
    }

    fn seats(map: &SeatMap, request: &Request<'_>, free: &[bool]) -> Vec<u32> {
        find(map, request, free).unwrap().seats
    }

    #[test]
    fn the_middle_of_the_row_is_preferred() {
        let map = sketch_map(&["aaaaaaaaaa"]);
        let all = states("..........");
        assert_eq!(seats(&map, &request(2, "a"), &all), [4, 5]);
        assert_eq!(seats(&map, &request(3, "a"), &all), [3, 4, 5]);
        assert_eq!(seats(&map, &request(1, "a"), &all), [4]);
    }

    #[test]
    fn the_middle_is_that_of_the_whole_row_not_of_what_is_left() {
        let map = sketch_map(&["aaaaaaaaaa"]);
        // Free 4–9: the free part's middle is between 6 and 7, the row's
        // between 4 and 5.
        assert_eq!(seats(&map, &request(2, "a"), &states("xxxx......")), [4, 5]);
    }

    #[test]
    fn closer_rows_are_preferred() {
        let map = sketch_map(&["aaaaaaaaaa", "aaaaaaaaaa"]);
        let all = states(".......... ..........");
        assert_eq!(seats(&map, &request(2, "a"), &all), [4, 5]);
        // Off-centre in the front row still beats the middle of the second
        // when only a little off ...
        let free = states("xxx..xxxxx ..........");
        assert_eq!(seats(&map, &request(2, "a"), &free), [3, 4]);
        // ... but not when at the very end.
        let free = states("xxxxxxxx.. ..........");
        assert_eq!(seats(&map, &request(2, "a"), &free), [14, 15]);
    }

    #[test]
    fn the_stage_position_counts() {
        // Stage off to the left, level with the row: the left end is nearest.
        let focal = Point {
            x: -500.0,
            y: 1000.0,
        };
        let map = sketch_map_with_focal(&["aaaaaaaaaa"], Some(focal));
        assert_eq!(seats(&map, &request(2, "a"), &states("..........")), [0, 1]);
    }

    #[test]
    fn a_single_seat_is_not_stranded_when_another_choice_exists() {
        let map = sketch_map(&["aaaaaaaaaa"]);
        // Free runs 2–5 and 7–9. Three from 2–5 leave one seat alone on
        // either side; 7–9 fill their run exactly.
        let free = states("xx....x...");
        assert_eq!(seats(&map, &request(3, "a"), &free), [7, 8, 9]);
        let off = Rules {
            avoid_single_gaps: false,
        };
        let free_fn = |i: u32| free[i as usize];
        let choice = Finder::new(&map)
            .find(&request(3, "a"), off, &free_fn)
            .unwrap();
        assert_eq!(choice.seats, [3, 4, 5]);
        // A single seat left at the block end counts too: 4 of 5 free.
        let map = sketch_map(&["aaaaa|aaaa", "aaaaaaaaaa"]);
        let free = states(".....|.... xxxxxxxxxx");
        let choice = find(&map, &request(4, "a"), &free).unwrap();
        assert_eq!(choice.seats, [5, 6, 7, 8]);
        assert!(!choice.leaves_single_gap);
    }

    #[test]
    fn the_best_is_taken_anyway_when_every_choice_strands_a_seat() {
        let map = sketch_map(&["aaaaa"]);
        let choice = find(&map, &request(4, "a"), &states(".....")).unwrap();
        assert_eq!(choice.seats, [0, 1, 2, 3]);
        assert!(choice.leaves_single_gap);
        // A stranding choice in a better row loses to a clean one farther back.
        let map = sketch_map(&["aaaaa", "aaaa"]);
        let choice = find(&map, &request(4, "a"), &states("..... ....")).unwrap();
        assert_eq!(choice.seats, [5, 6, 7, 8]);
        assert!(!choice.leaves_single_gap);
    }

    #[test]
    fn a_taken_neighbour_beyond_the_single_seat_makes_it_stranded() {
        let map = sketch_map(&["aaaaaaaaaa"]);
        // 2 free seats right of a 2-seat group are fine, 1 is not.
        let free = states("xxx....xxx");
        assert_eq!(seats(&map, &request(2, "a"), &free), [3, 4]);
        // Of 3 free seats, any pair strands the third: the middle pair wins.
        let choice = find(&map, &request(2, "a"), &states("xxx...xxxx")).unwrap();
        assert_eq!(choice.seats, [4, 5]);
        assert!(choice.leaves_single_gap);
    }

    #[test]
    fn accessible_requests_get_wheelchair_spaces_with_companions() {
        let map = sketch_map(&["aaCWWCaaaa"]);
        let all = states("..........");
        let accessible = |quantity| Request {
            accessible: true,
            ..request(quantity, "a")
        };
        let choice = seats(&map, &accessible(2), &all);
        assert!(choice
            .iter()
            .any(|s| map.seat(*s).unwrap().flags.wheelchair()));
        assert!(choice
            .iter()
            .all(|s| map.seat(*s).unwrap().flags.is_accessible_seating()));
        assert_eq!(seats(&map, &accessible(4), &all), [2, 3, 4, 5]);
        assert_eq!(seats(&map, &accessible(1), &states("...x......")), [4]);
        // Companions alone are not enough.
        assert!(matches!(
            find(&map, &accessible(2), &states("...xx.....")),
            Err(BestError::NoAdjacentSeats {
                accessible: true,
                ..
            })
        ));
        assert!(find(&map, &accessible(5), &all).is_err());
    }

    #[test]
    fn ordinary_requests_never_get_accessible_seating() {
        let map = sketch_map(&["aaCWWCaaaa"]);
        let all = states("..........");
        for quantity in 1..=4 {
            let choice = seats(&map, &request(quantity, "a"), &all);
            assert!(choice
                .iter()
                .all(|s| !map.seat(*s).unwrap().flags.is_accessible_seating()));
        }
        let err = find(&map, &request(2, "a"), &states("xx....xxxx")).unwrap_err();
        assert_eq!(err.code(), "no_adjacent_seats");
    }

    #[test]
    fn the_category_is_respected() {
        let map = sketch_map(&["bbbaaaabbb"]);
        let all = states("..........");
        assert_eq!(seats(&map, &request(2, "a"), &all), [4, 5]);
        let b = seats(&map, &request(2, "b"), &all);
        // [1, 2] or [7, 8] would strand the end seat of the block.
        assert_eq!(b, [0, 1]);
        assert!(find(&map, &request(4, "b"), &all).is_err());
        assert_eq!(
            find(&map, &request(1, "vip"), &all).unwrap_err(),
            BestError::UnknownCategory("vip".into())
        );
    }

    #[test]
    fn adjacency_never_crosses_gaps_or_rows() {
        let map = sketch_map(&["aa|aa", "aa"]);
        let all = states("....  ..");
        assert!(matches!(
            find(&map, &request(3, "a"), &all),
            Err(BestError::NoAdjacentSeats { quantity: 3, .. })
        ));
        let pair = seats(&map, &request(2, "a"), &all);
        let blocks: Vec<u32> = pair.iter().map(|s| map.seat(*s).unwrap().block).collect();
        assert_eq!(blocks[0], blocks[1]);
    }

    #[test]
    fn quantity_is_checked() {
        let map = sketch_map(&["aaaa"]);
        let all = states("....");
        for quantity in [0, MAX_QUANTITY + 1] {
            assert_eq!(
                find(&map, &request(quantity, "a"), &all)
                    .unwrap_err()
                    .code(),
                "invalid_quantity"
            );
        }
    }

    #[test]
    fn excluded_seats_are_treated_as_taken() {
        let map = sketch_map(&["aaaaaaaaaa"]);
        let all = states("..........");
        let excluding = [4, 5];
        let retry = Request {
            excluding: &excluding,
            ..request(2, "a")
        };
        let choice = seats(&map, &retry, &all);
        assert!(choice.iter().all(|s| !excluding.contains(s)), "{choice:?}");
        assert_eq!(
            choice,
            [2, 3],
            "no single seat left next to the excluded pair"
        );
    }

    #[test]
    fn state_chars_mean_free_only_for_f() {
        let states = StateChars(b"fhsbf");
        let free: Vec<bool> = (0..6).map(|i| states.is_free(i)).collect();
        assert_eq!(free, [true, false, false, false, true, false]);
    }

    /// Every window of the map, scored the same way, checked the slow way.
    fn brute_force(
        finder: &Finder,
        map: &SeatMap,
        request: &Request<'_>,
        rules: Rules,
        free: &[bool],
    ) -> Option<(Vec<u32>, bool)> {
        let category = map.category_index(request.category)?;
        let q = request.quantity as u32;
        let is_free = |i: u32| free[i as usize] && !request.excluding.contains(&i);
        let mut best: Option<(bool, Window)> = None;
        for block in map.blocks() {
            let row_middle = map.rows()[block.row as usize].middle();
            let segment = Segment {
                first: block.first_seat,
                len: block.len,
                block_first: block.first_seat,
                block_end: block.first_seat + block.len,
                row_middle,
            };
            for first in block.seats() {
                let window: Vec<u32> = (first..first + q).collect();
                if first + q > block.seats().end {
                    break;
                }
                let ok = window.iter().all(|&s| {
                    let seat = map.seat(s).unwrap();
                    is_free(s)
                        && seat.category == category
                        && seat.flags.is_accessible_seating() == request.accessible
                }) && (!request.accessible
                    || window
                        .iter()
                        .any(|&s| map.seat(s).unwrap().flags.wheelchair()));
                if !ok {
                    continue;
                }
                let strands =
                    rules.avoid_single_gaps && strands_a_seat(&segment, first, q, &is_free);
                let candidate = Window {
                    score: finder.score(first, q, row_middle),
                    first,
                };
                let better = match best {
                    None => true,
                    Some((best_strands, b)) => {
                        (!strands && best_strands)
                            || (strands == best_strands && candidate.beats(Some(b)))
                    }
                };
                if better {
                    best = Some((strands, candidate));
                }
            }
        }
        best.map(|(strands, w)| ((w.first..w.first + q).collect(), strands))
    }

    fn random_sketch() -> impl Strategy<Value = Vec<String>> {
        let seat = prop_oneof![
            6 => Just('a'),
            3 => Just('b'),
            1 => Just('W'),
            1 => Just('C'),
            1 => Just('|'),
        ];
        let row = prop::collection::vec(seat, 1..24).prop_map(|chars| {
            let row: String = chars.into_iter().collect();
            // A row must have a seat; a gap needs a seat after it.
            format!("{}a", row.trim_start_matches('|'))
        });
        prop::collection::vec(row, 1..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn choices_are_free_adjacent_of_the_category_and_the_best(
            sketch in random_sketch(),
            free_bits in prop::collection::vec(prop::bool::weighted(0.6), 200),
            quantity in 1usize..=5,
            category_b in prop::bool::ANY,
            accessible in prop::bool::weighted(0.2),
            avoid_single_gaps in prop::bool::ANY,
            exclude in prop::collection::vec(0u32..120, 0..3),
        ) {
            let rows: Vec<&str> = sketch.iter().map(String::as_str).collect();
            let map = sketch_map(&rows);
            let free = &free_bits[..map.seat_count()];
            let category = if category_b { "b" } else { "a" };
            let request = Request { quantity, category, accessible, excluding: &exclude };
            let rules = Rules { avoid_single_gaps };
            let finder = Finder::new(&map);
            let is_free = |i: u32| free[i as usize];
            let expected = brute_force(&finder, &map, &request, rules, free);
            match finder.find(&request, rules, &is_free) {
                Ok(choice) => {
                    prop_assert_eq!(choice.seats.len(), quantity);
                    let first = map.seat(choice.seats[0]).unwrap();
                    for (k, &s) in choice.seats.iter().enumerate() {
                        let seat = map.seat(s).unwrap();
                        prop_assert!(free[s as usize] && !exclude.contains(&s), "seat {} not free", s);
                        prop_assert_eq!(seat.block, first.block, "one block");
                        prop_assert_eq!(seat.position_in_block as usize, first.position_in_block as usize + k, "adjacent");
                        prop_assert_eq!(Some(seat.category), map.category_index(category));
                        prop_assert_eq!(seat.flags.is_accessible_seating(), accessible);
                    }
                    if accessible {
                        prop_assert!(choice.seats.iter().any(|s| map.seat(*s).unwrap().flags.wheelchair()));
                    }
                    prop_assert_eq!(Some((choice.seats.clone(), choice.leaves_single_gap)), expected);
                }
                Err(err) => {
                    prop_assert_eq!(err.code(), "no_adjacent_seats");
                    prop_assert_eq!(expected, None);
                }
            }
        }
    }

    /// Seat states with `taken_percent` of the seats taken at random.
    fn random_states(seats: usize, taken_percent: u64, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..seats)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 100 < taken_percent {
                    b's'
                } else {
                    b'f'
                }
            })
            .collect()
    }

    /// Seat states with the `taken_percent` of seats nearest the stage taken,
    /// as when the best seats sell first: the search must pass them all.
    fn front_sold_states(map: &SeatMap, taken_percent: usize) -> Vec<u8> {
        let focal = map.focal_point();
        let mut order: Vec<usize> = (0..map.seat_count()).collect();
        let distance = |i: usize| {
            let s = &map.seats()[i];
            (s.x - focal.x).hypot(s.y - focal.y)
        };
        order.sort_by(|a, b| distance(*a).total_cmp(&distance(*b)));
        let mut states = vec![b'f'; map.seat_count()];
        for &i in &order[..map.seat_count() * taken_percent / 100] {
            states[i] = b's';
        }
        states
    }

    /// Times requests of every size 1–6 in every category (every 50th one
    /// accessible), alternating a generic and a `dyn Fn` availability. Each
    /// request runs three times and keeps its fastest run, so the figures
    /// show the work done rather than the scheduler of a shared machine.
    fn time_requests(finder: &Finder, states: &[u8]) -> (Vec<f64>, usize) {
        let categories = ["cat1", "cat2", "cat3", "cat4"];
        let availability = StateChars(states);
        let dyn_free = |i: u32| states.get(i as usize) == Some(&b'f');
        let dyn_free: &dyn Fn(u32) -> bool = &dyn_free;
        let mut times = Vec::new();
        let mut found = 0;
        for i in 0..2_000usize {
            let request = Request {
                quantity: 1 + i % 6,
                category: categories[i % categories.len()],
                accessible: i % 50 == 0,
                excluding: &[],
            };
            let mut fastest = f64::INFINITY;
            let mut ok = false;
            for _ in 0..3 {
                let start = Instant::now();
                let result = if i % 2 == 0 {
                    finder.find(&request, Rules::default(), &availability)
                } else {
                    finder.find(&request, Rules::default(), dyn_free)
                };
                fastest = fastest.min(start.elapsed().as_secs_f64() * 1e6);
                ok = result.is_ok();
            }
            times.push(fastest);
            found += usize::from(ok);
        }
        times.sort_by(f64::total_cmp);
        (times, found)
    }

    #[test]
    fn timing_on_a_fifty_thousand_seat_stadium() {
        let map = SeatMap::from_document(stadium(50_000, 1)).unwrap();
        let start = Instant::now();
        let finder = Finder::new(&map);
        println!(
            "best available: index for 50,000 seats built in {:.1} ms",
            start.elapsed().as_secs_f64() * 1e3
        );
        let scenarios = [
            ("empty", random_states(map.seat_count(), 0, 0x5eed)),
            (
                "half full (random)",
                random_states(map.seat_count(), 50, 0x5eed),
            ),
            (
                "95% full (random)",
                random_states(map.seat_count(), 95, 0x5eed),
            ),
            (
                "95% full (best seats sold first)",
                front_sold_states(&map, 95),
            ),
        ];
        for (label, states) in &scenarios {
            let (times, found) = time_requests(&finder, states);
            let mean = times.iter().sum::<f64>() / times.len() as f64;
            println!(
                "best available, {label}: mean {mean:.1} µs, p50 {:.1} µs, p99 {:.1} µs, \
                 max {:.1} µs per request ({found}/2000 found)",
                times[times.len() / 2],
                times[times.len() * 99 / 100],
                times[times.len() - 1]
            );
        }
    }
}
