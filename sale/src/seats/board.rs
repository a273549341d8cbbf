//! Each process's live copy of a seated sale's seat states, behind
//! `GET /api/drops/{id}/seats` and its event stream.
//!
//! A board starts from one atomic snapshot of Redis and then follows the
//! change log (`seat:log`): one Redis read every 100 ms per sale and
//! process, however many fans watch, each change fanned out in-process to
//! every open stream. It keeps the last changes so a stream that
//! reconnects with `after=<version>` gets what it missed; a gap in the log
//! (trimmed, or a rebuild's `reset`) reloads the snapshot and tells every
//! stream to reload too.
//!
//! A seat held by a hold that has lapsed shows as held until the lapse
//! loop gives it back (within a second): the board is for showing and for
//! choosing best-available candidates; the hold script decides.

use super::gate::{RawSnapshot, SeatGate};
use super::SeatedSale;
use runtime::shutdown::CancellationToken;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;

/// How often a board reads the change log.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(100);
/// Changes a board keeps for streams that reconnect.
const RECENT: usize = 4_096;
/// A board nobody used for this long (and nobody streams) is dropped.
const IDLE_MS: i64 = 10 * 60 * 1000;

/// Seat states as the API spells them.
pub const FREE: u8 = b'f';
pub const HELD: u8 = b'h';
pub const SOLD: u8 = b's';
pub const BLOCKED: u8 = b'b';

/// What a stream is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardEvent {
    /// Seats changed state at this version.
    Seats {
        version: i64,
        changes: Vec<(u32, u8)>,
    },
    /// Start over from a new snapshot (this version).
    Reset { version: i64 },
}

impl BoardEvent {
    pub fn version(&self) -> i64 {
        match self {
            Self::Seats { version, .. } | Self::Reset { version } => *version,
        }
    }
}

/// What a stream that asks for changes after a version gets.
#[derive(Debug)]
pub enum Replay {
    /// These events, in order (possibly none).
    Events(Vec<Arc<BoardEvent>>),
    /// Too far behind: reload the snapshot.
    Reset,
}

/// Free, held, sold and blocked seats of one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub free: u32,
    pub held: u32,
    pub sold: u32,
    pub blocked: u32,
}

struct State {
    version: i64,
    seats: Vec<u8>,
    log_id: String,
    recent: VecDeque<Arc<BoardEvent>>,
}

/// One sale's seat states in this process.
pub struct Board {
    pub sale: Arc<SeatedSale>,
    state: RwLock<State>,
    events: broadcast::Sender<Arc<BoardEvent>>,
    used_ms: AtomicI64,
}

/// Parses a log entry's changes: `"<index>:<state>,..."`.
fn parse_changes(text: &str) -> Vec<(u32, u8)> {
    text.split(',')
        .filter_map(|change| {
            let (index, state) = change.split_once(':')?;
            let state = *state.as_bytes().first()?;
            Some((index.parse().ok()?, state))
        })
        .collect()
}

/// Every seat's state from a snapshot.
fn states_of(snapshot: &RawSnapshot, seats: usize) -> Vec<u8> {
    let states: HashMap<&str, u8> = snapshot
        .holds
        .iter()
        .map(|(id, record)| {
            let ordered = record.split('|').nth(1) == Some("o");
            (id.as_str(), if ordered { SOLD } else { HELD })
        })
        .collect();
    let mut board = vec![FREE; seats];
    for (index, hold) in &snapshot.owners {
        if let Some(slot) = board.get_mut(*index as usize) {
            *slot = states.get(hold.as_str()).copied().unwrap_or(FREE);
        }
    }
    board
}

impl Board {
    fn new(sale: Arc<SeatedSale>, snapshot: &RawSnapshot, log_id: String) -> Self {
        let seats = states_of(snapshot, sale.seat_count());
        Self {
            sale,
            state: RwLock::new(State {
                version: snapshot.version,
                seats,
                log_id,
                recent: VecDeque::new(),
            }),
            events: broadcast::channel(1024).0,
            used_ms: AtomicI64::new(runtime::monotonic_ms()),
        }
    }

    fn touch(&self) {
        self.used_ms
            .store(runtime::monotonic_ms(), Ordering::Relaxed);
    }

    /// The version and every seat's state, one character per seat in
    /// canonical order (`b` for seats not on sale in this sale).
    pub fn states(&self) -> (i64, String) {
        self.touch();
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let text = state
            .seats
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if self.sale.on_sale(i as u32) {
                    char::from(*s)
                } else {
                    char::from(BLOCKED)
                }
            })
            .collect();
        (state.version, text)
    }

    /// Whether a seat looks free (on sale, no live hold, not sold).
    pub fn is_free(&self, seat: u32) -> bool {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        self.sale.on_sale(seat) && state.seats.get(seat as usize) == Some(&FREE)
    }

    /// A copy of the states, for a burst of reads (best available).
    pub fn free_mask(&self) -> Vec<bool> {
        self.touch();
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state
            .seats
            .iter()
            .enumerate()
            .map(|(i, s)| *s == FREE && self.sale.on_sale(i as u32))
            .collect()
    }

    /// Counts per category of the map.
    pub fn counts(&self) -> BTreeMap<String, Counts> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let map = self.sale.map();
        let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
        for (i, seat) in map.seats().iter().enumerate() {
            let Some(category) = map.categories().get(usize::from(seat.category)) else {
                continue;
            };
            let entry = counts.entry(category.id.clone()).or_default();
            match (self.sale.on_sale(i as u32), state.seats.get(i).copied()) {
                (false, _) => entry.blocked += 1,
                (true, Some(HELD)) => entry.held += 1,
                (true, Some(SOLD)) => entry.sold += 1,
                (true, _) => entry.free += 1,
            }
        }
        counts
    }

    pub fn version(&self) -> i64 {
        self.state.read().unwrap_or_else(|e| e.into_inner()).version
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BoardEvent>> {
        self.touch();
        self.events.subscribe()
    }

    /// What happened after `after`.
    pub fn replay_after(&self, after: i64) -> Replay {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if after >= state.version {
            return Replay::Events(Vec::new());
        }
        let missed: Vec<_> = state
            .recent
            .iter()
            .filter(|e| e.version() > after)
            .cloned()
            .collect();
        match missed.first() {
            Some(first) if first.version() == after + 1 => Replay::Events(missed),
            _ => Replay::Reset,
        }
    }

    fn remember(state: &mut State, event: &Arc<BoardEvent>) {
        state.recent.push_back(event.clone());
        while state.recent.len() > RECENT {
            state.recent.pop_front();
        }
    }

    /// Applies the log's entries; false when a gap (or a rebuild) calls for
    /// a new snapshot.
    fn follow(&self, entries: Vec<(String, i64, String)>) -> bool {
        for (id, version, changes) in entries {
            let event = {
                let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
                if version <= state.version {
                    state.log_id = id;
                    continue;
                }
                if changes == "reset" || version != state.version + 1 {
                    return false;
                }
                let changes = parse_changes(&changes);
                for (seat, new) in &changes {
                    if let Some(slot) = state.seats.get_mut(*seat as usize) {
                        *slot = *new;
                    }
                }
                state.version = version;
                state.log_id = id;
                let event = Arc::new(BoardEvent::Seats { version, changes });
                Self::remember(&mut state, &event);
                event
            };
            let _ = self.events.send(event);
        }
        true
    }

    fn reload(&self, snapshot: &RawSnapshot, log_id: String) {
        let event = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            state.seats = states_of(snapshot, self.sale.seat_count());
            state.version = snapshot.version;
            state.log_id = log_id;
            state.recent.clear();
            let event = Arc::new(BoardEvent::Reset {
                version: snapshot.version,
            });
            Self::remember(&mut state, &event);
            event
        };
        let _ = self.events.send(event);
    }

    fn log_id(&self) -> String {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .log_id
            .clone()
    }

    fn idle(&self) -> bool {
        self.events.receiver_count() == 0
            && runtime::monotonic_ms() - self.used_ms.load(Ordering::Relaxed) > IDLE_MS
    }
}

/// Reads the log position, then the snapshot: entries after that position
/// with versions the snapshot already has are skipped when followed.
async fn fresh(gate: &SeatGate, drop_id: &str) -> redis::RedisResult<(RawSnapshot, String)> {
    let log_id = gate.log_tail(drop_id).await?;
    let snapshot = gate.snapshot(drop_id).await?;
    Ok((snapshot, log_id))
}

/// The boards of this process, one per seated sale watched here.
#[derive(Clone)]
pub struct Boards {
    boards: Arc<Mutex<HashMap<String, Arc<Board>>>>,
    gate: SeatGate,
    stop: CancellationToken,
}

impl Boards {
    pub fn new(gate: SeatGate, stop: CancellationToken) -> Self {
        Self {
            boards: Arc::default(),
            gate,
            stop,
        }
    }

    /// The sale's board, started (snapshot, then following the log) on
    /// first use.
    pub async fn board(&self, sale: Arc<SeatedSale>) -> redis::RedisResult<Arc<Board>> {
        if let Some(board) = self.existing(&sale.drop_id) {
            return Ok(board);
        }
        let (snapshot, log_id) = fresh(&self.gate, &sale.drop_id).await?;
        let drop_id = sale.drop_id.clone();
        let board = Arc::new(Board::new(sale, &snapshot, log_id));
        let mut boards = self.boards.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = boards.get(&drop_id) {
            return Ok(existing.clone());
        }
        boards.insert(drop_id, board.clone());
        tokio::spawn(follow(self.clone(), board.clone()));
        Ok(board)
    }

    /// Cancelled when the service stops (event streams end with it).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    fn existing(&self, drop_id: &str) -> Option<Arc<Board>> {
        let boards = self.boards.lock().unwrap_or_else(|e| e.into_inner());
        boards.get(drop_id).cloned()
    }

    fn forget(&self, drop_id: &str) {
        let mut boards = self.boards.lock().unwrap_or_else(|e| e.into_inner());
        boards.remove(drop_id);
    }
}

/// Follows one sale's change log until the board is idle or the service
/// stops.
async fn follow(boards: Boards, board: Arc<Board>) {
    let drop_id = board.sale.drop_id.clone();
    let mut tick = tokio::time::interval(FOLLOW_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = boards.stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if board.idle() {
            boards.forget(&drop_id);
            break;
        }
        let entries = match boards.gate.log_after(&drop_id, &board.log_id(), 1000).await {
            Ok(entries) => entries,
            Err(error) => {
                tracing::debug!(%error, drop = drop_id, "seat board: Redis unavailable");
                continue;
            }
        };
        if !board.follow(entries) {
            match fresh(&boards.gate, &drop_id).await {
                Ok((snapshot, log_id)) => board.reload(&snapshot, log_id),
                Err(error) => tracing::debug!(%error, drop = drop_id, "seat board: reload failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_entries_parse_and_junk_is_skipped() {
        assert_eq!(
            parse_changes("3:h,17:s,x:f,9:,12:f"),
            vec![(3, HELD), (17, SOLD), (12, FREE)]
        );
        assert_eq!(parse_changes(""), vec![]);
    }

    #[test]
    fn a_snapshot_tells_holds_from_orders() {
        let snapshot = RawSnapshot {
            version: 7,
            owners: vec![(0, "a".into()), (2, "b".into()), (3, "gone".into())],
            holds: vec![
                ("a".into(), "99|h|0|t||alice".into()),
                ("b".into(), "99|o|2|t|order|bob".into()),
            ],
        };
        assert_eq!(states_of(&snapshot, 5), vec![HELD, FREE, SOLD, FREE, FREE]);
    }
}
