#![allow(clippy::unwrap_used)]

use super::*;
use crate::seating::doc::{
    CategoryDoc, Document, Flag, Point, RowDoc, SeatDoc, SectionDoc, Size, FORMAT,
};
use crate::seating::generate::stadium;
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
            let strands = rules.avoid_single_gaps && strands_a_seat(&segment, first, q, &is_free);
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
