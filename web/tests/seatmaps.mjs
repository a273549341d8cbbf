// Seat maps for the browser tests, in the lineup.seatmap/1 format, made
// here so the tests upload what they generate: a 50,000-seat stadium (a
// three-tier horseshoe bowl of 96 sections, curved rows, aisles, wheelchair
// platforms; adapted from the seat map component's fixtures), a 300-seat
// hall, and a small arena whose seats read like a ticket ("Section 104,
// row 12, seat 5"). Deterministic: the same call gives the same map.
const PITCH = 8;       // seat to seat, drawing units (about half a metre)
const ROW_DEPTH = 10;  // row to row
const DEG = Math.PI / 180;

// Mulberry32: tiny, seedable, good enough for fixtures.
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round1 = (v) => Math.round(v * 10) / 10;
const polar = (c, r, a) => [round1(c.x + r * Math.cos(a)), round1(c.y + r * Math.sin(a))];

// An annular sector (the footprint of one bowl section) as a polygon: the
// outer arc one way, the inner arc back, a point every couple of degrees so
// the curve reads as a curve at overview zoom.
function sectorOutline(c, r0, r1, a0, a1) {
  const steps = Math.max(2, Math.ceil((a1 - a0) / (2 * DEG)));
  const pts = [];
  for (let k = 0; k <= steps; k += 1) pts.push(polar(c, r1, a0 + ((a1 - a0) * k) / steps));
  for (let k = steps; k >= 0; k -= 1) pts.push(polar(c, r0, a0 + ((a1 - a0) * k) / steps));
  return pts;
}

// Seats of one curved row. A spectator faces the bowl's centre, so their
// left-to-right runs towards decreasing angle: physical order is a1 -> a0.
// An aisle splits wide rows in two (the second block starts with gap_before).
function curvedRow(c, r, a0, a1, aisle) {
  const arc = r * (a1 - a0);
  const aisleWidth = aisle ? PITCH * 1.6 : 0;
  const count = Math.floor((arc - aisleWidth) / PITCH);
  const used = count * PITCH + aisleWidth;
  let a = a1 - ((arc - used) / 2 + PITCH / 2) / r;
  const seats = [];
  const half = Math.ceil(count / 2);
  for (let k = 0; k < count; k += 1) {
    const gap = aisle && k === half;
    if (gap) a -= aisleWidth / r;
    const [x, y] = polar(c, r, a);
    seats.push({ x, y, gap_before: gap || undefined });
    a -= PITCH / r;
  }
  return seats;
}

function seat(sectionId, rowId, number, p, category, extra = {}) {
  const s = { id: `${sectionId}-${rowId}-${number}`, number: String(number), x: p.x, y: p.y, category };
  if (p.gap_before) s.gap_before = true;
  return Object.assign(s, extra);
}

// A wheelchair platform row: pairs of [wheelchair space, companion seat],
// spaced wider than normal seats, each pair its own block.
function wheelchairRow(c, r, a0, a1, sectionId, category) {
  const seats = [];
  const pairs = Math.max(1, Math.floor((r * (a1 - a0)) / (PITCH * 5)));
  const span = (a1 - a0) / pairs;
  let number = 1;
  for (let p = 0; p < pairs; p += 1) {
    const mid = a1 - span * (p + 0.5);
    const [x1, y1] = polar(c, r, mid + (PITCH * 0.8) / r);
    const [x2, y2] = polar(c, r, mid - (PITCH * 0.6) / r);
    seats.push(seat(sectionId, "WC", number++, { x: x1, y: y1, gap_before: p > 0 }, category, { flags: ["wheelchair"] }));
    seats.push(seat(sectionId, "WC", number++, { x: x2, y: y2 }, category, { flags: ["companion"] }));
  }
  return seats;
}

// One tier of the bowl: `count` sections evenly over [from, to] (radians),
// rows from r0 outwards. `category(angle, rowIndex)` prices each row.
function tier({ c, level, r0, rows, from, to, count, category, wheelchairEvery, restrictedEnds }) {
  const sections = [];
  const stair = 1.3 * DEG; // radial stairway between sections
  const width = (to - from) / count;
  for (let s = 0; s < count; s += 1) {
    // Number sections clockwise as seen on the map, starting at the stage's right.
    const id = String(level + s + 1);
    const a0 = from + s * width + stair / 2;
    const a1 = from + (s + 1) * width - stair / 2;
    const mid = (a0 + a1) / 2;
    const section = { id, name: `Section ${id}`, outline: [], rows: [] };
    const outer = r0 + (rows - 1) * ROW_DEPTH;
    for (let k = 0; k < rows; k += 1) {
      const r = r0 + k * ROW_DEPTH;
      const rowId = String(k + 1);
      const cat = category(mid, k);
      const restricted = restrictedEnds && (s === 0 || s === count - 1) && k < 4;
      const seats = curvedRow(c, r, a0, a1, r * (a1 - a0) > 16 * PITCH).map((p, n) =>
        seat(id, rowId, n + 1, p, cat, restricted ? { flags: ["restricted_view"] } : {}));
      section.rows.push({ id: rowId, name: rowId, seats });
    }
    let rEnd = outer;
    if (wheelchairEvery && s % wheelchairEvery === 1) {
      rEnd = outer + ROW_DEPTH * 1.4;
      section.rows.push({ id: "WC", name: "WC", seats: wheelchairRow(c, rEnd, a0, a1, id, category(mid, rows - 1)) });
    }
    section.outline = sectorOutline(c, r0 - ROW_DEPTH * 0.7, rEnd + ROW_DEPTH * 0.7, a0 - 0.2 * DEG, a1 + 0.2 * DEG);
    sections.push(section);
  }
  return sections;
}

const countSeats = (sections) => sections.reduce((n, s) => n + s.rows.reduce((m, r) => m + r.seats.length, 0), 0);

// Trim the back rows of the given sections, round robin, to land on an exact
// total: real bowls lose seats at the back to stairs and camera platforms.
function trimTo(all, trimmable, total) {
  let excess = countSeats(all) - total;
  for (let pass = 0; excess > 0; pass += 1) {
    for (const section of trimmable) {
      if (excess <= 0) break;
      const row = section.rows[section.rows.length - 1 - (pass % 4)];
      if (row.seats.length > 4) { row.seats.pop(); excess -= 1; }
    }
  }
  if (excess < 0) throw new Error(`stadium too small by ${-excess} seats`);
}

export function stadium(total = 50000) {
  const c = { x: 2000, y: 2000 };
  const from = -55 * DEG; // the bowl is a horseshoe open towards the stage (up)
  const to = 235 * DEG;
  // Closest to the stage is dearest; the far end and the top tier cheapest.
  const nearness = (a) => Math.abs(Math.sin((a - from) / (to - from) * Math.PI - Math.PI / 2)) ; // 1 at the ends
  const lower = (a, row) => (nearness(a) > 0.55 && row < 18 ? "cat1" : "cat2");
  const middle = (a) => (nearness(a) > 0.5 ? "cat2" : "cat3");
  const upper = (a) => (nearness(a) > 0.8 ? "cat5" : "cat4");
  const sections = [
    ...tier({ c, level: 100, r0: 820, rows: 26, from, to, count: 28, category: lower, wheelchairEvery: 3 }),
    ...tier({ c, level: 200, r0: 1130, rows: 26, from, to, count: 32, category: middle, wheelchairEvery: 4 }),
    ...tier({ c, level: 300, r0: 1440, rows: 30, from, to, count: 36, category: upper, restrictedEnds: true }),
  ];
  trimTo(sections, sections.filter((s) => s.id.startsWith("3")), total);
  return {
    format: "lineup.seatmap/1",
    size: { width: 4000, height: 3800 },
    focal_point: { x: 2000, y: 1330 },
    categories: [
      { id: "cat1", name: "Category 1", color: "#0b5fa5" },
      { id: "cat2", name: "Category 2", color: "#c2410c" },
      { id: "cat3", name: "Category 3", color: "#047857" },
      { id: "cat4", name: "Category 4", color: "#6d28d9" },
      { id: "cat5", name: "Side view", color: "#9d174d" },
      { id: "ga", name: "Standing", color: "#475569" },
    ],
    sections,
    areas: [
      { id: "floor", name: "Standing floor", category: "ga", capacity: 12000,
        outline: [[1600, 1480], [2400, 1480], [2480, 2500], [1520, 2500]] },
    ],
  };
}

// A theatre: curved stalls facing a stage at the top with a centre aisle,
// and a balcony behind; wheelchair spaces at the back of the stalls.
export function hall() {
  const c = { x: 500, y: -120 };
  const sections = [];
  const stalls = { id: "stalls", name: "Stalls", rows: [] };
  for (let k = 0; k < 11; k += 1) {
    const r = 330 + k * ROW_DEPTH * 1.2;
    const rowId = String.fromCharCode(65 + k);
    const half = ((16 + k) * PITCH + PITCH * 2.2) / (2 * r); // 16 seats in row A, one more each row
    const cat = k < 5 ? "cat1" : "cat2";
    // Facing the stage (up), decreasing angle runs left to right: curvedRow's order.
    const seats = curvedRow(c, r, 90 * DEG - half, 90 * DEG + half, true).map((p, n) => seat("S", rowId, n + 1, p, cat));
    stalls.rows.push({ id: rowId, name: rowId, seats });
  }
  const back = stalls.rows[stalls.rows.length - 1].seats;
  const y = back[0].y + ROW_DEPTH * 2.2;
  stalls.rows.push({ id: "W", name: "W", seats: [
    seat("S", "W", 1, { x: 420, y }, "cat2", { flags: ["wheelchair"] }),
    seat("S", "W", 2, { x: 432, y }, "cat2", { flags: ["companion"] }),
    seat("S", "W", 3, { x: 568, y, gap_before: true }, "cat2", { flags: ["companion"] }),
    seat("S", "W", 4, { x: 580, y }, "cat2", { flags: ["wheelchair"] }),
  ] });
  sections.push(stalls);
  const balcony = { id: "balcony", name: "Balcony", rows: [] };
  for (let k = 0; k < 3; k += 1) {
    const rowId = `BB${k + 1}`;
    const yy = 420 + k * ROW_DEPTH * 1.3;
    const seats = [];
    const n = 22 + k;
    for (let i = 0; i < n; i += 1) {
      const x = 500 - ((n - 1) / 2) * PITCH + i * PITCH + (i >= n / 2 ? 6 : -6);
      seats.push(seat("B", rowId, i + 1, { x: round1(x), y: round1(yy + Math.abs(x - 500) * 0.05), gap_before: i === Math.ceil(n / 2) }, "cat3"));
    }
    balcony.rows.push({ id: rowId, name: String(k + 1), seats });
  }
  sections.push(balcony);
  return {
    format: "lineup.seatmap/1",
    size: { width: 1000, height: 640 },
    focal_point: { x: 500, y: 150 },
    categories: [
      { id: "cat1", name: "Front stalls", color: "#0b5fa5" },
      { id: "cat2", name: "Rear stalls", color: "#c2410c" },
      { id: "cat3", name: "Balcony", color: "#047857" },
    ],
    sections,
    areas: [],
  };
}


const countAll = (map) => countSeats(map.sections);
export { countAll as seatCount };

// A small arena: six straight sections in two tiers facing a stage, rows 1
// to 12 of 14 seats with an aisle after the 7th; the front rows cat1, the
// rest of the lower tier cat2, the upper tier cat3.
export function arena() {
  const sections = [];
  const width = 14 * PITCH + PITCH * 1.6;
  for (let s = 0; s < 6; s += 1) {
    const id = String(101 + s);
    const upper = s >= 3;
    const x0 = 60 + (s % 3) * (width + 40);
    const y0 = 140 + (upper ? 12 * ROW_DEPTH + 50 : 0);
    const rows = [];
    for (let r = 0; r < 12; r += 1) {
      const seats = [];
      for (let n = 0; n < 14; n += 1) {
        const gap = n === 7;
        const x = round1(x0 + n * PITCH + (n >= 7 ? PITCH * 1.6 : 0));
        seats.push(seat(id, String(r + 1), n + 1, { x, y: y0 + r * ROW_DEPTH, gap_before: gap },
          upper ? "cat3" : r < 4 ? "cat1" : "cat2"));
      }
      rows.push({ id: String(r + 1), name: String(r + 1), seats });
    }
    sections.push({ id, name: `Section ${id}`, rows });
  }
  const right = 60 + 3 * (width + 40) - 40;
  return {
    format: "lineup.seatmap/1",
    size: { width: right + 60, height: 140 + 24 * ROW_DEPTH + 50 + 60 },
    focal_point: { x: (60 + right) / 2, y: 60 },
    categories: [
      { id: "cat1", name: "Front", color: "#0b5fa5" },
      { id: "cat2", name: "Lower tier", color: "#c2410c" },
      { id: "cat3", name: "Upper tier", color: "#047857" },
    ],
    sections,
    areas: [],
    drawing: [{ shape: "rectangle", x: (60 + right) / 2 - 120, y: 30, width: 240, height: 50, fill: "#334155" },
      { shape: "text", x: (60 + right) / 2, y: 55, text: "Stage", size: 20, color: "#ffffff" }],
  };
}
