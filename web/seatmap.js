// Lineup seat map: the fan's seat picker and the operator's live map, one
// component. Plain JavaScript, no build step, no dependencies.
//
//   const map = SeatMap.create(container, { map, states, prices, currency,
//     mine, selectable, onToggle, onFocus, onConflict, labels, locale });
//   map.setStates("ffhs…"); map.applyChanges([[17, "h"]]); map.destroy();
//
// How it stays fast at 50,000 seats (details in NOTES.md):
// - Overview zoom draws one polygon per section, coloured by how much of it
//   is free. No seat is touched.
// - Zoomed in, seats are *stamped*: each look (state × category) is drawn
//   once into a sprite atlas at the current size, and every visible seat's
//   sprite pixels are copied into one ImageData, put on a canvas of its own.
//   A uniform grid finds the visible seats, so the work per frame follows
//   the viewport's pixels, not the venue's size. (Canvas paths or drawImage
//   per seat cost ~4 µs each in software raster: 20k seats = 80 ms frames.)
// - Three stacked canvases (sections, seats, overlay) redraw only what
//   changed, at most once per animation frame.
//
// Accessibility: the map is one tab stop, a listbox whose single option (the
// focused seat, re-created on every move) is its aria-activedescendant, so
// screen readers read each seat as focus moves; a role=status line says what
// happened (selected, taken by someone else). States differ by shape as well
// as colour.
(function (global) {
  "use strict";

  // --- constants ----------------------------------------------------------

  const STATE_CHARS = "fhsb?";
  const FREE = 0, HELD = 1, SOLD = 2, BLOCKED = 3, UNKNOWN = 4;
  const FLAG_BITS = { wheelchair: 1, companion: 2, restricted_view: 4, aisle: 8 };

  // Zoom thresholds, in CSS px between neighbouring seats (the "pitch").
  const SEATS_FROM_PITCH = 5;      // below: sections only
  const ROW_LABELS_FROM = 14;      // row names beside the rows
  const TAP_PICKS_FROM = 10;       // below: a click zooms in instead of picking
  const TOUCH_PICKS_FROM = 18;     // the same for a fingertip (~7 mm wide)
  const COMFORT_PITCH = 24;        // where "zoom to this seat" lands
  const MAX_PITCH = 64;
  const GLYPH = 0.74;              // glyph diameter / pitch
  const TOOLS_WIDTH = 56;          // CSS px kept free for the zoom buttons when fitting

  const BASE = 1, SEATS = 2, OVERLAY = 4, ALL = 7;

  const COLOR = {
    ink: "#111827", muted: "#4a5263", white: "#ffffff",
    held: "#475569", sold: "#8391a7", blocked: "#c4ccd8", unknown: "#d5dbe4",
    sectionFill: "#eef2f7", sectionLine: "#aab4c3", area: "#f1f5f9",
    focus: "#f59e0b", stage: "#334155",
    // Overview: one hue, rising darkness = more free (colour-blind safe);
    // sold-out sections are hatched, so "none" never depends on colour.
    ramp: ["#dbeafe", "#93c5fd", "#2563eb", "#1e3a8a"],
    rampText: ["#111827", "#111827", "#ffffff", "#ffffff"],
    soldOut: "#e5e7eb", notOnSale: "#f3f4f6",
  };

  const DEFAULT_LABELS = {
    map: "Seat map",
    roledescription: "seat map",
    hint: "Arrow keys move between seats; Page Up and Page Down, or [ and ], change section; " +
      "Enter or Space selects a seat; plus and minus zoom; 0 shows the whole map.",
    row: "row", seat: "seat",
    states: { f: "available", h: "held", s: "sold", b: "not on sale", "?": "loading" },
    selected: "selected", mine: "held for you",
    flags: { wheelchair: "wheelchair space", companion: "companion seat", restricted_view: "restricted view", aisle: "aisle seat" },
    afterAisle: "across the aisle",
    sectionFree: (free) => `${free} free in this section`,
    picked: (d) => `Selected: ${d}.`,
    unpicked: (d) => `Removed from your selection: ${d}.`,
    notFree: (d) => `Not available: ${d}.`,
    taken: (list) => `${list} ${list.includes(";") ? "were" : "was"} just taken and removed from your selection.`,
    endOfRow: "End of row.", startOfRow: "Start of row.", firstRow: "First row of the section.", lastRow: "Last row of the section.",
    firstSection: "First section.", lastSection: "Last section.",
    overviewHint: "Choose a section to see its seats.",
    seatsHint: "Tap or click a free seat to select it. Drag to move, pinch or scroll to zoom.",
    zoomIn: "Zoom in", zoomOut: "Zoom out", fit: "Show the whole map",
    legendCategories: "Prices", legendSeats: "Seats", legendSections: "Free seats per section",
    legendStates: { free: "Available", selected: "Your selection", mine: "Held for you", held: "Held by someone", sold: "Sold", blocked: "Not on sale", wheelchair: "Wheelchair space", companion: "Companion seat" },
    legendRamp: ["Sold out", "Few", "Some", "Many", "Most"],
    notOnSale: "not on sale",
  };

  // --- model: the map document as flat typed arrays -----------------------

  // Canonical index order is document order, so a row's seats and a
  // section's rows are contiguous ranges: rows and sections are just starts.
  function buildModel(doc) {
    if (!doc || !Array.isArray(doc.sections)) throw new TypeError("SeatMap: the map has no sections");
    const catIndex = new Map();
    const categories = (doc.categories || []).map((c, i) => {
      catIndex.set(c.id, i);
      return { id: c.id, name: c.name || c.id, color: c.color || "#475569" };
    });
    let n = 0, rowCount = 0;
    for (const s of doc.sections) for (const r of s.rows || []) { rowCount += 1; n += (r.seats || []).length; }
    const m = {
      n, categories,
      x: new Float32Array(n), y: new Float32Array(n), cat: new Uint8Array(n), flags: new Uint8Array(n),
      gap: new Uint8Array(n), row: new Uint32Array(n), ids: new Array(n), numbers: new Array(n),
      rowStart: new Uint32Array(rowCount + 1), rowSection: new Uint16Array(rowCount), rowNames: new Array(rowCount),
      sections: [],
    };
    let i = 0, r = 0;
    doc.sections.forEach((s, si) => {
      const section = { index: si, id: String(s.id), name: s.name || String(s.id), rowStart: r, seatStart: i };
      for (const row of s.rows || []) {
        m.rowStart[r] = i; m.rowSection[r] = si; m.rowNames[r] = row.name || row.id;
        for (const seat of row.seats || []) {
          m.x[i] = seat.x; m.y[i] = seat.y;
          m.cat[i] = categoryOf(seat.category, catIndex, categories);
          m.flags[i] = flagBits(seat.flags);
          m.gap[i] = seat.gap_before ? 1 : 0;
          m.row[i] = r; m.ids[i] = seat.id; m.numbers[i] = seat.number || "";
          i += 1;
        }
        r += 1;
      }
      section.rowEnd = r; section.seatEnd = i;
      m.sections.push(section);
    });
    m.rowStart[rowCount] = n;
    m.seatsPerCategory = new Uint32Array(categories.length);
    for (let k = 0; k < n; k += 1) m.seatsPerCategory[m.cat[k]] += 1;
    m.pitch = seatPitch(m);
    for (const section of m.sections) shapeSection(m, section, doc.sections[section.index].outline);
    m.areas = (doc.areas || []).filter((a) => Array.isArray(a.outline) && a.outline.length >= 3)
      .map((a) => ({ name: a.name || a.id, outline: a.outline, bbox: bboxOf(a.outline), centroid: centroidOf(a.outline) }));
    m.focal = doc.focal_point || null;
    for (const section of m.sections) if (section.outline) section.back = backEdge(section, m.focal);
    m.bounds = contentBounds(m);
    m.stage = stageBox(m);
    m.grid = buildGrid(m);
    return m;
  }

  // A seat whose category is not listed still draws (in slate), so a bad
  // map shows up as odd colours rather than a crash.
  function categoryOf(id, catIndex, categories) {
    if (!catIndex.has(id)) {
      catIndex.set(id, categories.length);
      categories.push({ id, name: String(id), color: "#475569" });
    }
    return catIndex.get(id);
  }

  function flagBits(flags) {
    if (!flags) return 0; // the common case: no iterator per seat
    let bits = 0;
    for (const f of flags || []) bits |= FLAG_BITS[f] || 0;
    return bits;
  }

  // The typical distance between neighbours in a row sets every size on
  // screen (glyphs, tap radius, zoom limits), so any drawing unit works.
  function seatPitch(m) {
    const d = [];
    const step = Math.max(1, Math.floor(m.n / 4000));
    for (let i = 1; i < m.n; i += step) {
      if (m.row[i] !== m.row[i - 1] || m.gap[i]) continue;
      const v = Math.hypot(m.x[i] - m.x[i - 1], m.y[i] - m.y[i - 1]);
      if (v > 0) d.push(v);
    }
    if (!d.length) return 10;
    d.sort((a, b) => a - b);
    return d[d.length >> 1];
  }

  function shapeSection(m, section, outline) {
    if (Array.isArray(outline) && outline.length >= 3) {
      section.outline = outline;
    } else if (section.seatEnd > section.seatStart) {
      // The format's fallback: a padded bounding box of the seats.
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (let i = section.seatStart; i < section.seatEnd; i += 1) {
        x0 = Math.min(x0, m.x[i]); y0 = Math.min(y0, m.y[i]); x1 = Math.max(x1, m.x[i]); y1 = Math.max(y1, m.y[i]);
      }
      const p = m.pitch;
      section.outline = [[x0 - p, y0 - p], [x1 + p, y0 - p], [x1 + p, y1 + p], [x0 - p, y1 + p]];
    } else {
      section.outline = null;
      return;
    }
    section.bbox = bboxOf(section.outline);
    section.centroid = centroidOf(section.outline);
  }

  function bboxOf(points) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const [x, y] of points) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
    return { x0, y0, x1, y1 };
  }

  function centroidOf(points) {
    let a = 0, cx = 0, cy = 0;
    for (let k = 0; k < points.length; k += 1) {
      const [x0, y0] = points[k], [x1, y1] = points[(k + 1) % points.length];
      const f = x0 * y1 - x1 * y0;
      a += f; cx += (x0 + x1) * f; cy += (y0 + y1) * f;
    }
    if (Math.abs(a) < 1e-9) { const b = bboxOf(points); return { x: (b.x0 + b.x1) / 2, y: (b.y0 + b.y1) / 2 }; }
    return { x: cx / (3 * a), y: cy / (3 * a) };
  }

  // Where a section's name goes when seats are drawn: on its edge facing
  // away from the stage (usually an aisle or concourse), so it never covers
  // seats. The farthest crossing of the ray stage -> centroid with the outline.
  function backEdge(section, focal) {
    const c = section.centroid;
    const from = focal || { x: c.x, y: section.bbox.y0 - 1 };
    let dx = c.x - from.x, dy = c.y - from.y;
    const len = Math.hypot(dx, dy) || 1;
    dx /= len; dy /= len;
    let best = 0;
    const pts = section.outline;
    for (let k = 0; k < pts.length; k += 1) {
      const [ax, ay] = pts[k], [bx, by] = pts[(k + 1) % pts.length];
      const ex = bx - ax, ey = by - ay;
      const den = dx * ey - dy * ex;
      if (Math.abs(den) < 1e-12) continue;
      const t = ((ax - c.x) * ey - (ay - c.y) * ex) / den;  // along the ray from c
      const u = ((ax - c.x) * dy - (ay - c.y) * dx) / den;  // along the edge
      if (t > best && u >= 0 && u <= 1) best = t;
    }
    return { x: c.x + dx * best, y: c.y + dy * best, dx, dy };
  }

  function pointInPolygon(x, y, points) {
    let inside = false;
    for (let k = 0, j = points.length - 1; k < points.length; j = k, k += 1) {
      const [xi, yi] = points[k], [xj, yj] = points[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  function contentBounds(m) {
    const b = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
    const grow = (x, y) => { b.x0 = Math.min(b.x0, x); b.y0 = Math.min(b.y0, y); b.x1 = Math.max(b.x1, x); b.y1 = Math.max(b.y1, y); };
    for (let i = 0; i < m.n; i += 1) grow(m.x[i], m.y[i]);
    for (const s of m.sections) if (s.bbox) { grow(s.bbox.x0, s.bbox.y0); grow(s.bbox.x1, s.bbox.y1); }
    for (const a of m.areas) { grow(a.bbox.x0, a.bbox.y0); grow(a.bbox.x1, a.bbox.y1); }
    if (m.focal) grow(m.focal.x, m.focal.y);
    if (!isFinite(b.x0)) return { x0: 0, y0: 0, x1: 100, y1: 100 };
    const pad = m.pitch * 2;
    return { x0: b.x0 - pad, y0: b.y0 - pad, x1: b.x1 + pad, y1: b.y1 + pad };
  }

  // The format has only a focal point, no stage shape: draw a stage-sized
  // box there, scaled to the venue, so fans can orient themselves.
  function stageBox(m) {
    if (!m.focal) return null;
    const b = m.bounds;
    const w = Math.min(b.x1 - b.x0, b.y1 - b.y0) * 0.2;
    const h = w * 0.3;
    return { x0: m.focal.x - w / 2, y0: m.focal.y - h, x1: m.focal.x + w / 2, y1: m.focal.y };
  }

  // A uniform grid of seat indices (counting sort into one array): cells of
  // four pitches hold ~16 seats, so culling and hit tests touch few seats.
  function buildGrid(m) {
    const b = m.bounds;
    let size = m.pitch * 4;
    while (((b.x1 - b.x0) / size) * ((b.y1 - b.y0) / size) > 1 << 20) size *= 2;
    const cols = Math.max(1, Math.ceil((b.x1 - b.x0) / size));
    const rows = Math.max(1, Math.ceil((b.y1 - b.y0) / size));
    const cellOf = new Uint32Array(m.n);
    const start = new Uint32Array(cols * rows + 1);
    for (let i = 0; i < m.n; i += 1) {
      const cx = Math.min(cols - 1, Math.max(0, Math.floor((m.x[i] - b.x0) / size)));
      const cy = Math.min(rows - 1, Math.max(0, Math.floor((m.y[i] - b.y0) / size)));
      cellOf[i] = cy * cols + cx;
      start[cellOf[i] + 1] += 1;
    }
    for (let c = 0; c < cols * rows; c += 1) start[c + 1] += start[c];
    const fill = start.slice(0, cols * rows);
    const items = new Uint32Array(m.n);
    for (let i = 0; i < m.n; i += 1) items[fill[cellOf[i]]++] = i;
    return { x0: b.x0, y0: b.y0, size, cols, rows, start, items };
  }

  // Calls fn(i) for every seat in the grid cells that overlap a world rect.
  function forSeatsIn(grid, x0, y0, x1, y1, fn) {
    const c0 = Math.max(0, Math.floor((x0 - grid.x0) / grid.size));
    const c1 = Math.min(grid.cols - 1, Math.floor((x1 - grid.x0) / grid.size));
    const r0 = Math.max(0, Math.floor((y0 - grid.y0) / grid.size));
    const r1 = Math.min(grid.rows - 1, Math.floor((y1 - grid.y0) / grid.size));
    for (let r = r0; r <= r1; r += 1) {
      for (let c = c0; c <= c1; c += 1) {
        const cell = r * grid.cols + c;
        for (let p = grid.start[cell]; p < grid.start[cell + 1]; p += 1) fn(grid.items[p]);
      }
    }
  }

  // --- glyphs: one drawing per look, shared by the atlas and the legend ---

  function disc(ctx, x, y, r, color) {
    ctx.fillStyle = color; ctx.beginPath(); ctx.arc(x, y, r, 0, Math.PI * 2); ctx.fill();
  }

  function glyphExtent(d) {
    const gap = Math.max(1, d * 0.12), ring = Math.max(1.5, d * 0.18);
    return { gap, ring, outer: d / 2 + gap + ring };
  }

  // d: the glyph's diameter in device pixels. Every state has its own shape
  // so colour is never the only cue: free = filled disc (category colour),
  // wheelchair = rounded square, companion = disc with a hole, held = hollow
  // ring, sold = cross, blocked = small square, selected = disc with a thick
  // dark outline, mine = dark disc with a check.
  function drawGlyph(ctx, kind, x, y, d, color) {
    const r = d / 2;
    const { gap, ring } = glyphExtent(d);
    ctx.save();
    ctx.lineCap = "round"; ctx.lineJoin = "round";
    if (kind === "free") {
      disc(ctx, x, y, r, color);
    } else if (kind === "wheelchair") {
      ctx.fillStyle = color; ctx.beginPath(); roundRect(ctx, x - r, y - r, d, d, d * 0.22); ctx.fill();
      if (d >= 9) wheelchairMark(ctx, x, y, d); else disc(ctx, x, y, Math.max(0.8, r * 0.3), COLOR.white);
    } else if (kind === "companion") {
      disc(ctx, x, y, r, color); disc(ctx, x, y, Math.max(0.8, r * 0.36), COLOR.white);
    } else if (kind === "selected") {
      disc(ctx, x, y, r + gap + ring, COLOR.ink); disc(ctx, x, y, r + gap, COLOR.white); disc(ctx, x, y, r, color);
    } else if (kind === "mine") {
      disc(ctx, x, y, r + gap, COLOR.ink);
      if (d >= 6) check(ctx, x, y, r, COLOR.white);
    } else if (kind === "held") {
      const w = Math.max(1.2, d * 0.2);
      ctx.strokeStyle = COLOR.held; ctx.lineWidth = w;
      ctx.beginPath(); ctx.arc(x, y, Math.max(0.5, r - w / 2), 0, Math.PI * 2); ctx.stroke();
    } else if (kind === "sold") {
      const a = Math.max(1, r * 0.55);
      ctx.strokeStyle = COLOR.sold; ctx.lineWidth = Math.max(1, d * 0.14);
      ctx.beginPath(); ctx.moveTo(x - a, y - a); ctx.lineTo(x + a, y + a); ctx.moveTo(x + a, y - a); ctx.lineTo(x - a, y + a); ctx.stroke();
    } else if (kind === "blocked") {
      const a = Math.max(1, r * 0.5);
      ctx.fillStyle = COLOR.blocked; ctx.fillRect(x - a, y - a, 2 * a, 2 * a);
    } else {
      disc(ctx, x, y, Math.max(0.8, r * 0.45), COLOR.unknown);
    }
    ctx.restore();
  }

  function roundRect(ctx, x, y, w, h, r) {
    ctx.moveTo(x + r, y); ctx.arcTo(x + w, y, x + w, y + h, r); ctx.arcTo(x + w, y + h, x, y + h, r);
    ctx.arcTo(x, y + h, x, y, r); ctx.arcTo(x, y, x + w, y, r); ctx.closePath();
  }

  function check(ctx, x, y, r, color) {
    ctx.strokeStyle = color; ctx.lineWidth = Math.max(1.2, r * 0.3);
    ctx.beginPath(); ctx.moveTo(x - r * 0.5, y + r * 0.02); ctx.lineTo(x - r * 0.12, y + r * 0.4); ctx.lineTo(x + r * 0.52, y - r * 0.38); ctx.stroke();
  }

  // The ISO 7001 wheelchair pictogram, reduced: head, back and seat, wheel.
  function wheelchairMark(ctx, x, y, d) {
    ctx.strokeStyle = COLOR.white; ctx.fillStyle = COLOR.white; ctx.lineWidth = Math.max(1, d * 0.08);
    ctx.beginPath(); ctx.arc(x - d * 0.06, y - d * 0.3, d * 0.08, 0, Math.PI * 2); ctx.fill();
    ctx.beginPath(); ctx.moveTo(x - d * 0.08, y - d * 0.16); ctx.lineTo(x - d * 0.06, y + d * 0.06);
    ctx.lineTo(x + d * 0.18, y + d * 0.06); ctx.lineTo(x + d * 0.28, y + d * 0.28); ctx.stroke();
    ctx.beginPath(); ctx.arc(x - d * 0.04, y + d * 0.12, d * 0.2, Math.PI * 0.05, Math.PI * 1.25); ctx.stroke();
  }

  // --- the sprite atlas: every look at one size, as pixels ----------------

  // Style numbers: per category [free, wheelchair, companion, selected],
  // then the looks that do not depend on the category.
  const PER_CATEGORY = ["free", "wheelchair", "companion", "selected"];
  const SHARED = ["held", "sold", "blocked", "mine", "unknown"];
  const STATE_LOOK = ["free", "held", "sold", "blocked", "unknown"]; // by state code

  function styleCount(categories) { return categories.length * PER_CATEGORY.length + SHARED.length; }
  function sharedStyle(categories, kind) { return categories.length * PER_CATEGORY.length + SHARED.indexOf(kind); }

  function buildAtlas(d, categories) {
    const g = (Math.ceil(glyphExtent(d).outer * 2) + 2) | 1; // odd: a centre pixel
    const count = styleCount(categories);
    const canvas = document.createElement("canvas");
    canvas.width = g * count; canvas.height = g;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    let s = 0;
    for (const c of categories) for (const kind of PER_CATEGORY) drawGlyph(ctx, kind, s++ * g + g / 2, g / 2, d, c.color);
    for (const kind of SHARED) drawGlyph(ctx, kind, s++ * g + g / 2, g / 2, d, COLOR.ink);
    const all = new Uint32Array(ctx.getImageData(0, 0, canvas.width, g).data.buffer);
    const pixels = new Uint32Array(count * g * g);
    const spans = new Int16Array(count * g * 2);
    for (let k = 0; k < count; k += 1) {
      for (let y = 0; y < g; y += 1) {
        let first = -1, last = -1;
        for (let x = 0; x < g; x += 1) {
          const p = all[y * canvas.width + k * g + x];
          pixels[k * g * g + y * g + x] = p;
          if (p >>> 24) { if (first < 0) first = x; last = x; }
        }
        spans[(k * g + y) * 2] = first; spans[(k * g + y) * 2 + 1] = last;
      }
    }
    return { d, g, half: (g - 1) >> 1, pixels, spans };
  }

  // Copies one sprite's opaque span of each row into the frame buffer: a
  // plain loop, no allocation, clipped to the buffer.
  function stamp(buf, W, H, atlas, style, px, py) {
    const g = atlas.g, pixels = atlas.pixels, spans = atlas.spans;
    const x0 = px - atlas.half;
    let y = py - atlas.half;
    for (let row = 0; row < g; row += 1, y += 1) {
      if (y < 0 || y >= H) continue;
      const sp = (style * g + row) * 2;
      let a = spans[sp];
      if (a < 0) continue;
      let b = spans[sp + 1];
      if (x0 + a < 0) a = -x0;
      if (x0 + b >= W) b = W - 1 - x0;
      let o = y * W + x0 + a;
      let src = style * g * g + row * g + a;
      for (let k = a; k <= b; k += 1) buf[o++] = pixels[src++];
    }
  }

  // --- small DOM helpers ---------------------------------------------------

  let instances = 0;

  function el(tag, attrs, parent) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    if (parent) parent.append(node);
    return node;
  }

  const ICONS = {
    in: '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M12 5v14M5 12h14"/></svg>',
    out: '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M5 12h14"/></svg>',
    fit: '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5"/></svg>',
  };

  function iconCanvas(kind, color, parent) {
    const ratio = global.devicePixelRatio || 1;
    const canvas = el("canvas", { class: "seatmap-icon", "aria-hidden": "true" }, parent);
    canvas.width = canvas.height = Math.round(20 * ratio);
    const ctx = canvas.getContext("2d");
    if (kind.startsWith("ramp")) {
      const k = Number(kind.slice(4));
      ctx.fillStyle = k === 0 ? COLOR.soldOut : COLOR.ramp[k - 1];
      ctx.fillRect(2 * ratio, 3 * ratio, 16 * ratio, 14 * ratio);
      if (k === 0) hatch(ctx, 2 * ratio, 3 * ratio, 16 * ratio, 14 * ratio, ratio);
      ctx.strokeStyle = COLOR.sectionLine; ctx.lineWidth = ratio; ctx.strokeRect(2.5 * ratio, 3.5 * ratio, 15 * ratio, 13 * ratio);
    } else {
      drawGlyph(ctx, kind, 10 * ratio, 10 * ratio, 11 * ratio, color);
    }
    return canvas;
  }

  function hatch(ctx, x, y, w, h, ratio) {
    ctx.save(); ctx.beginPath(); ctx.rect(x, y, w, h); ctx.clip();
    ctx.strokeStyle = "#6b7280"; ctx.lineWidth = ratio;
    ctx.beginPath();
    for (let t = -h; t < w; t += 5 * ratio) { ctx.moveTo(x + t, y + h); ctx.lineTo(x + t + h, y); }
    ctx.stroke(); ctx.restore();
  }

  // Page labels over the defaults, one level deep (states, flags, legend
  // names), so a translation can replace single words.
  function mergeLabels(defaults, given) {
    const out = Object.assign({}, defaults, given);
    for (const [k, v] of Object.entries(defaults)) {
      if (v && typeof v === "object" && !Array.isArray(v) && given[k]) out[k] = Object.assign({}, v, given[k]);
    }
    return out;
  }

  // --- the component --------------------------------------------------------

  function create(container, options) {
    const opts = Object.assign({ selectable: true, states: null, prices: {}, currency: "EUR", mine: [], locale: undefined }, options);
    const labels = mergeLabels(DEFAULT_LABELS, opts.labels || {});
    const t0 = performance.now();
    const m = buildModel(opts.map);
    const uid = `seatmap${++instances}`;
    // Times are performance.now() (ms since navigation) unless named *Ms.
    const stats = { seats: m.n, sections: m.sections.length, modelMs: 0, createdAt: null, statesAt: null, firstDrawMs: null, firstCompleteMs: null,
      renders: 0, renderMs: [], renderSeats: [], lastSeatsDrawn: 0, lod: "overview", animating: false, pitch: 0 };

    // Per-seat live state.
    const state = new Uint8Array(m.n).fill(UNKNOWN);
    const selected = new Uint8Array(m.n);
    const mine = new Uint8Array(m.n);
    const style = new Uint16Array(m.n);
    let selectedList = [], mineList = [];
    let statesKnown = false;
    const secFree = new Int32Array(m.sections.length), secSale = new Int32Array(m.sections.length);
    const catCounts = new Int32Array(m.categories.length * 5);
    let prices = opts.prices || {}, money = formatter(opts.currency);

    // View: world point (cx, cy) at the view's centre, k CSS px per unit.
    const view = { k: 1, cx: 0, cy: 0 };
    let W = 0, H = 0, dpr = 1, fitted = true, anim = null;
    let frame = 0, dirty = 0, lod = "overview";
    let focused = -1, hoverSection = -1, hasFocus = false;
    const atlases = new Map();
    let seatImage = null, seatBuf = null;
    const reducedMotion = global.matchMedia && global.matchMedia("(prefers-reduced-motion: reduce)").matches;

    // DOM.
    container.classList.add("seatmap");
    const dom = buildDom();
    const ctx = { base: dom.base.getContext("2d"), seats: dom.seats.getContext("2d"), overlay: dom.overlay.getContext("2d") };
    const paths = m.sections.map((s) => (s.outline ? polygonPath(s.outline) : null));
    const areaPaths = m.areas.map((a) => polygonPath(a.outline));
    const labelWidths = new Map();
    const hatchTile = makeHatchTile();

    // ---- DOM construction ----

    function buildDom() {
      const view = el("div", { class: "seatmap-view" }, container);
      const base = el("canvas", { class: "seatmap-layer", "aria-hidden": "true" }, view);
      const seats = el("canvas", { class: "seatmap-layer", "aria-hidden": "true" }, view);
      const overlay = el("canvas", { class: "seatmap-layer", "aria-hidden": "true" }, view);
      const hint = el("p", { class: "sr-only", id: `${uid}-hint`, text: labels.hint }, container);
      const proxy = el("div", {
        class: "seatmap-proxy", role: "listbox", tabindex: "0", "aria-label": labels.map,
        "aria-roledescription": labels.roledescription, "aria-describedby": hint.id,
      }, view);
      if (opts.selectable) proxy.setAttribute("aria-multiselectable", "true");
      const tools = el("div", { class: "seatmap-tools" }, view);
      const zoomIn = toolButton(tools, "in", labels.zoomIn);
      const zoomOut = toolButton(tools, "out", labels.zoomOut);
      const fit = toolButton(tools, "fit", labels.fit);
      const readout = el("div", { class: "seatmap-readout" }, container);
      const info = el("p", { class: "seatmap-info", "aria-hidden": "true" }, readout);
      const status = el("p", { class: "seatmap-status", role: "status" }, readout);
      const legend = el("div", { class: "seatmap-legend" }, container);
      return { view, base, seats, overlay, hint, proxy, tools, zoomIn, zoomOut, fit, readout, info, status, legend, option: null };
    }

    function toolButton(parent, icon, label) {
      const b = el("button", { type: "button", class: "secondary", "aria-label": label, title: label }, parent);
      b.innerHTML = ICONS[icon];
      return b;
    }

    function renderLegend() {
      const legend = dom.legend;
      legend.textContent = "";
      const cats = el("ul", { class: "seatmap-legend-list", "aria-label": labels.legendCategories }, legend);
      const used = m.categories.map((c, k) => k).filter((k) => m.seatsPerCategory[k] > 0);
      m.categories.forEach((c, k) => {
        if (!m.seatsPerCategory[k]) return;
        const li = el("li", {}, cats);
        iconCanvas("free", c.color, li);
        el("span", { text: c.name }, li);
        el("span", { class: "seatmap-price", text: c.id in prices ? money(prices[c.id]) : labels.notOnSale }, li);
      });
      const states = el("ul", { class: "seatmap-legend-list", "aria-label": labels.legendSeats }, legend);
      const sample = m.categories[used[0] || 0] || { color: COLOR.ink };
      const kinds = opts.selectable ? ["free", "selected", "mine", "held", "sold", "blocked", "wheelchair", "companion"]
        : ["free", "held", "sold", "blocked", "wheelchair", "companion"];
      for (const kind of kinds) {
        const li = el("li", {}, states);
        iconCanvas(kind, sample.color, li);
        el("span", { text: labels.legendStates[kind] }, li);
      }
      const ramp = el("ul", { class: "seatmap-legend-list seatmap-legend-ramp", "aria-label": labels.legendSections }, legend);
      el("li", { class: "seatmap-legend-title", "aria-hidden": "true", text: `${labels.legendSections}:` }, ramp);
      labels.legendRamp.forEach((text, k) => {
        const li = el("li", {}, ramp);
        iconCanvas(`ramp${k}`, null, li);
        el("span", { text }, li);
      });
    }

    // ---- state bookkeeping ----

    function restyle(i) {
      const c = m.cat[i] * PER_CATEGORY.length;
      if (mine[i]) style[i] = sharedStyle(m.categories, "mine");
      else if (selected[i]) style[i] = c + 3;
      else if (state[i] === FREE) style[i] = m.flags[i] & FLAG_BITS.wheelchair ? c + 1 : m.flags[i] & FLAG_BITS.companion ? c + 2 : c;
      else style[i] = sharedStyle(m.categories, STATE_LOOK[state[i]]);
    }

    function sectionOf(i) { return m.rowSection[m.row[i]]; }

    function count(i, sign) {
      const s = sectionOf(i), st = state[i];
      if (st === FREE) secFree[s] += sign;
      if (st !== BLOCKED && st !== UNKNOWN) secSale[s] += sign;
      catCounts[m.cat[i] * 5 + st] += sign;
    }

    // Sets one seat's state; returns true when a picked seat was lost.
    function setState(i, code) {
      if (state[i] === code) return false;
      count(i, -1); state[i] = code; count(i, +1);
      restyle(i);
      return selected[i] === 1 && code !== FREE && !mine[i];
    }

    function setStates(text, quiet) {
      if (typeof text !== "string") throw new TypeError("SeatMap: states must be a string");
      if (text.length !== m.n) console.warn(`SeatMap: ${text.length} states for ${m.n} seats`);
      const lost = [];
      for (let i = 0; i < m.n; i += 1) {
        const code = i < text.length ? STATE_CHARS.indexOf(text[i]) : UNKNOWN;
        if (setState(i, code < 0 ? UNKNOWN : code)) lost.push(i);
      }
      statesKnown = true;
      afterStateChange(lost, quiet);
      if (stats.statesAt === null) stats.statesAt = performance.now();
    }

    function applyChanges(changes) {
      const lost = [];
      for (const [i, ch] of changes) {
        if (!(i >= 0 && i < m.n)) continue;
        const code = STATE_CHARS.indexOf(ch);
        if (setState(i, code < 0 ? UNKNOWN : code)) lost.push(i);
      }
      afterStateChange(lost, false);
    }

    // A picked seat that someone else got first is dropped from the
    // selection, reported to the page (onConflict) and said out loud.
    function afterStateChange(lost, quiet) {
      if (lost.length) {
        const infos = lost.map(seatInfo);
        for (const i of lost) { selected[i] = 0; restyle(i); }
        selectedList = selectedList.filter((i) => selected[i]);
        if (!quiet) announce(labels.taken(infos.map((s) => s.label).join("; ")));
        if (opts.onConflict) opts.onConflict(infos);
      }
      if (focused >= 0) updateOption();
      invalidate(SEATS | (lod === "overview" ? BASE : 0));
    }

    function setMine(indices, quiet) {
      for (const i of mineList) { mine[i] = 0; restyle(i); }
      mineList = [...new Set(indices)].filter((i) => i >= 0 && i < m.n);
      for (const i of mineList) { mine[i] = 1; selected[i] = 0; restyle(i); }
      selectedList = selectedList.filter((i) => selected[i]);
      if (!quiet) { updateOption(); invalidate(SEATS); }
    }

    // Only free seats can be picked; returns the ones that were.
    function setSelected(indices) {
      for (const i of selectedList) { selected[i] = 0; restyle(i); }
      selectedList = [...new Set(indices)].filter((i) => i >= 0 && i < m.n && !mine[i] && state[i] === FREE);
      for (const i of selectedList) { selected[i] = 1; restyle(i); }
      updateOption();
      invalidate(SEATS);
      return selectedList.slice();
    }

    // ---- words ----

    function formatter(currency) {
      const base = { style: "currency", currency };
      let f;
      try { f = new Intl.NumberFormat(opts.locale, Object.assign({ trailingZeroDisplay: "stripIfInteger" }, base)); }
      catch (_) { f = new Intl.NumberFormat(opts.locale, base); }
      return (cents) => f.format(cents / 100);
    }

    function priceOf(i) {
      const id = m.categories[m.cat[i]].id;
      return id in prices ? prices[id] : null;
    }

    function stateWord(i) {
      if (mine[i]) return labels.mine;
      if (selected[i]) return labels.selected;
      return labels.states[STATE_CHARS[state[i]]];
    }

    // "Section 104, row 12, seat 5" — what a ticket says.
    function seatLabel(i) {
      return `${m.sections[sectionOf(i)].name}, ${labels.row} ${m.rowNames[m.row[i]]}, ${labels.seat} ${m.numbers[i]}`;
    }

    // "Section 104, row 12, seat 5, €89, available, wheelchair space".
    function describe(i) {
      const parts = [seatLabel(i)];
      const price = priceOf(i);
      if (price !== null) parts.push(money(price));
      parts.push(stateWord(i));
      for (const [name, bit] of Object.entries(FLAG_BITS)) if (m.flags[i] & bit) parts.push(labels.flags[name]);
      return parts.join(", ");
    }

    function seatInfo(i) {
      const cat = m.categories[m.cat[i]];
      return {
        index: i, id: m.ids[i], section: m.sections[sectionOf(i)].id, sectionName: m.sections[sectionOf(i)].name,
        row: m.rowNames[m.row[i]], number: m.numbers[i], category: cat.id, categoryName: cat.name,
        price: priceOf(i), state: STATE_CHARS[state[i]], selected: selected[i] === 1, mine: mine[i] === 1,
        flags: Object.keys(FLAG_BITS).filter((f) => m.flags[i] & FLAG_BITS[f]),
        label: seatLabel(i), description: describe(i),
      };
    }

    function announce(text) {
      // Clear first so the same sentence twice is still announced.
      dom.status.textContent = "";
      requestAnimationFrame(() => { dom.status.textContent = text; });
    }

    function showInfo(text) { dom.info.textContent = text; }

    // The listbox's one option is the focused seat. A fresh element (new id)
    // per move makes every screen reader treat it as a new active item.
    let optionSerial = 0, optionExtra = "";
    function updateOption(extra) {
      if (extra !== undefined) optionExtra = extra;
      // Before the first move the option names the map: a listbox option
      // must always have a name (axe: aria-toggle-field-name).
      const i = focused;
      const text = i >= 0 ? describe(i) + optionExtra : labels.overviewHint;
      const old = dom.option;
      if (i >= 0) showInfo(describe(i));
      if (old && old.dataset.seat === String(i) && extra === undefined) {
        old.textContent = text;
        if (opts.selectable) old.setAttribute("aria-selected", String(i >= 0 && selected[i] === 1));
        return;
      }
      const option = el("div", { role: "option", id: `${uid}-o${++optionSerial}`, class: "sr-only", text }, null);
      option.dataset.seat = String(i);
      if (opts.selectable) option.setAttribute("aria-selected", String(i >= 0 && selected[i] === 1));
      dom.proxy.append(option);
      if (old) old.remove();
      dom.option = option;
      dom.proxy.setAttribute("aria-activedescendant", option.id);
    }

    // Where keyboard focus starts: the free seat closest to the stage.
    let bestSeat = null;
    function defaultSeat() {
      if (bestSeat !== null && state[bestSeat] === FREE) return bestSeat;
      const f = m.focal || { x: (m.bounds.x0 + m.bounds.x1) / 2, y: m.bounds.y0 };
      let best = -1, bestD = Infinity;
      for (let i = 0; i < m.n; i += 1) {
        const free = state[i] === FREE || !statesKnown;
        const d = Math.hypot(m.x[i] - f.x, m.y[i] - f.y) + (free ? 0 : 1e9);
        if (d < bestD) { bestD = d; best = i; }
      }
      bestSeat = best;
      return best;
    }

    // ---- view ----

    function pitchCss() { return m.pitch * view.k; }
    function toScreen(x, y) { return { x: (x - view.cx) * view.k + W / 2, y: (y - view.cy) * view.k + H / 2 }; }
    function toWorld(p) { return { x: (p.x - W / 2) / view.k + view.cx, y: (p.y - H / 2) / view.k + view.cy }; }

    // The whole venue, clear of the zoom buttons down the right edge.
    function fitView() {
      const b = m.bounds, tools = Math.min(TOOLS_WIDTH, W / 4);
      const k = Math.min((W - tools) / (b.x1 - b.x0), H / (b.y1 - b.y0)) * 0.97;
      return { k, cx: (b.x0 + b.x1) / 2 + tools / 2 / k, cy: (b.y0 + b.y1) / 2 };
    }

    function clampView(v) {
      const fitK = fitView().k, b = m.bounds;
      const k = Math.min(Math.max(v.k, fitK * 0.8), Math.max(MAX_PITCH / m.pitch, fitK * 2));
      const slack = Math.min(TOOLS_WIDTH, W / 4) / k;
      return { k, cx: Math.min(b.x1 + slack, Math.max(b.x0, v.cx)), cy: Math.min(b.y1, Math.max(b.y0, v.cy)) };
    }

    function setView(v) {
      Object.assign(view, clampView(v));
      invalidate(ALL);
    }

    // The world point under screen point p stays put while zooming.
    function zoomAround(p, factor, animate) {
      const at = toWorld(p);
      const k = clampView({ k: view.k * factor, cx: 0, cy: 0 }).k;
      const target = { k, cx: at.x - (p.x - W / 2) / k, cy: at.y - (p.y - H / 2) / k };
      fitted = false;
      if (animate) animateTo(target); else setView(target);
    }

    function animateTo(target, ms = 240) {
      fitted = false;
      if (reducedMotion || !W) { anim = null; setView(target); return; }
      anim = { from: Object.assign({}, view), to: clampView(target), start: performance.now(), ms };
      stats.animating = true;
      invalidate(ALL);
    }

    function stepAnimation(now) {
      if (!anim) return;
      const t = Math.min(1, (now - anim.start) / anim.ms);
      const e = 1 - Math.pow(1 - t, 3);
      const { from, to } = anim;
      view.k = from.k * Math.pow(to.k / from.k, e);
      view.cx = from.cx + (to.cx - from.cx) * e;
      view.cy = from.cy + (to.cy - from.cy) * e;
      dirty |= ALL;
      if (t >= 1) { anim = null; stats.animating = false; } else schedule();
    }

    function stopAnimation() { anim = null; stats.animating = false; }

    function fit() { const target = fitView(); animateTo(target); fitted = true; }

    function zoomToSection(si) {
      const s = m.sections[si];
      if (!s || !s.bbox) return;
      const b = s.bbox;
      const k = Math.min(W / (b.x1 - b.x0), H / (b.y1 - b.y0)) * 0.9;
      animateTo({ k, cx: (b.x0 + b.x1) / 2, cy: (b.y0 + b.y1) / 2 });
    }

    // Brings a seat on screen at a size where it can be read and picked.
    function reveal(i) {
      if (pitchCss() < COMFORT_PITCH * 0.6) {
        animateTo({ k: COMFORT_PITCH / m.pitch, cx: m.x[i], cy: m.y[i] });
        return;
      }
      const p = toScreen(m.x[i], m.y[i]);
      const margin = Math.min(64, W / 4, H / 4);
      if (p.x < margin || p.x > W - margin || p.y < margin || p.y > H - margin) {
        animateTo({ k: view.k, cx: m.x[i], cy: m.y[i] });
      }
    }

    // ---- rendering ----

    function invalidate(what) { dirty |= what; schedule(); }
    function schedule() { if (!frame) frame = requestAnimationFrame(render); }

    function render(now) {
      frame = 0;
      if (!W || !H) return;
      stepAnimation(now);
      if (global.devicePixelRatio && global.devicePixelRatio !== dpr) resizeCanvases();
      const started = performance.now();
      const next = pitchCss() < SEATS_FROM_PITCH ? "overview" : "seats";
      if (next !== lod) { lod = next; dirty |= ALL; showInfo(lod === "overview" ? labels.overviewHint : focused >= 0 ? describe(focused) : labels.seatsHint); }
      if (dirty & BASE) drawBase();
      if (dirty & SEATS) drawSeats();
      if (dirty & OVERLAY) drawOverlay();
      dirty = 0;
      record(started, performance.now());
    }

    function record(started, done) {
      stats.renders += 1;
      stats.lod = lod;
      stats.pitch = pitchCss();
      stats.renderMs.push(done - started);
      stats.renderSeats.push(lod === "seats" ? stats.lastSeatsDrawn : 0);
      if (stats.renderMs.length > 2000) { stats.renderMs.splice(0, 1000); stats.renderSeats.splice(0, 1000); }
      if (stats.firstDrawMs === null) stats.firstDrawMs = done;
      // "Complete" = the seat states are on screen; the next frame callback
      // runs once that frame has been handed to the compositor.
      if (stats.firstCompleteMs === null && statesKnown) {
        stats.firstCompleteMs = -1;
        requestAnimationFrame(() => { stats.firstCompleteMs = performance.now(); });
      }
    }

    function polygonPath(points) {
      const p = new Path2D();
      points.forEach(([x, y], k) => (k ? p.lineTo(x, y) : p.moveTo(x, y)));
      p.closePath();
      return p;
    }

    function makeHatchTile() {
      const c = document.createElement("canvas");
      c.width = c.height = 8;
      const g = c.getContext("2d");
      g.strokeStyle = "#6b7280"; g.lineWidth = 1;
      g.beginPath(); g.moveTo(-2, 10); g.lineTo(10, -2); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(6, 10); g.lineTo(10, 6); g.stroke();
      return c;
    }

    function worldTransform(c) {
      const K = view.k * dpr;
      c.setTransform(K, 0, 0, K, (W / 2 - view.cx * view.k) * dpr, (H / 2 - view.cy * view.k) * dpr);
    }

    function onScreen(b, margin = 0) {
      const a = toScreen(b.x0, b.y0), z = toScreen(b.x1, b.y1);
      return z.x >= -margin && a.x <= W + margin && z.y >= -margin && a.y <= H + margin;
    }

    // 0 = none free, 1..4 = quartiles of the seats on sale that are free.
    function rampLevel(si) {
      if (secSale[si] === 0) return -1;
      if (secFree[si] === 0) return 0;
      return 1 + Math.min(3, Math.floor((4 * secFree[si]) / secSale[si]));
    }

    function drawBase() {
      const c = ctx.base;
      c.setTransform(1, 0, 0, 1, 0, 0);
      c.clearRect(0, 0, dom.base.width, dom.base.height);
      worldTransform(c);
      const line = 1 / (view.k);
      const hatchPattern = c.createPattern(hatchTile, "repeat");
      hatchPattern.setTransform(new DOMMatrix().scale(1 / (view.k * dpr)));
      m.areas.forEach((a, k) => {
        if (!onScreen(a.bbox)) return;
        c.fillStyle = COLOR.area; c.fill(areaPaths[k]);
        c.strokeStyle = COLOR.sectionLine; c.lineWidth = line; c.stroke(areaPaths[k]);
      });
      if (m.stage) {
        const s = m.stage;
        c.fillStyle = COLOR.stage; c.fillRect(s.x0, s.y0, s.x1 - s.x0, s.y1 - s.y0);
      }
      const overview = lod === "overview";
      m.sections.forEach((s, si) => {
        if (!paths[si] || !onScreen(s.bbox)) return;
        const level = statesKnown ? rampLevel(si) : -1;
        c.fillStyle = !overview ? COLOR.sectionFill : level < 0 ? COLOR.notOnSale : level === 0 ? COLOR.soldOut : COLOR.ramp[level - 1];
        c.fill(paths[si]);
        if (overview && level === 0) { c.fillStyle = hatchPattern; c.fill(paths[si]); }
        const hovered = si === hoverSection && overview;
        c.strokeStyle = hovered ? COLOR.ink : COLOR.sectionLine;
        c.lineWidth = hovered ? line * 2.5 : line;
        c.stroke(paths[si]);
      });
      c.setTransform(dpr, 0, 0, dpr, 0, 0);
      drawBaseLabels(c, overview);
    }

    function textWidth(c, text) {
      const key = `${c.font}|${text}`;
      if (!labelWidths.has(key)) labelWidths.set(key, c.measureText(text).width);
      return labelWidths.get(key);
    }

    // Names that fit inside their shape: the section's name, else its id.
    function drawBaseLabels(c, overview) {
      c.textAlign = "center"; c.textBaseline = "middle";
      c.font = "600 12px system-ui, sans-serif";
      if (m.stage && onScreen(m.stage)) {
        const s = m.stage, a = toScreen(s.x0, s.y0), z = toScreen(s.x1, s.y1);
        if (z.x - a.x > textWidth(c, "STAGE") + 8 && z.y - a.y > 14) { c.fillStyle = COLOR.white; c.fillText("STAGE", (a.x + z.x) / 2, (a.y + z.y) / 2); }
      }
      for (const a of m.areas) {
        if (!onScreen(a.bbox)) continue;
        const p = toScreen(a.centroid.x, a.centroid.y);
        const w = (a.bbox.x1 - a.bbox.x0) * view.k;
        if (textWidth(c, a.name) + 8 < w) { c.fillStyle = COLOR.muted; c.fillText(a.name, p.x, p.y); }
      }
      if (!overview) return;
      const fonts = ["600 12px system-ui, sans-serif", "600 10px system-ui, sans-serif"];
      m.sections.forEach((s, si) => {
        if (!s.bbox || !onScreen(s.bbox)) return;
        const w = Math.min(s.bbox.x1 - s.bbox.x0, s.bbox.y1 - s.bbox.y0) * view.k;
        const fit = sectionLabel(c, s, w, fonts);
        if (!fit) return;
        const level = statesKnown ? rampLevel(si) : -1;
        c.fillStyle = level > 0 ? COLOR.rampText[level - 1] : COLOR.ink;
        const p = toScreen(s.centroid.x, s.centroid.y);
        c.font = fit.font;
        c.fillText(fit.text, p.x, p.y);
      });
    }

    // The longest label that fits: the name, else the id, in 12 then 10 px.
    function sectionLabel(c, s, width, fonts) {
      for (const text of [s.name, s.id]) {
        for (const font of fonts) {
          c.font = font;
          if (textWidth(c, text) + 4 < width) return { text, font };
        }
      }
      return null;
    }

    function atlasFor(d) {
      let a = atlases.get(d);
      if (!a) {
        a = buildAtlas(d, m.categories);
        atlases.set(d, a);
        if (atlases.size > 12) atlases.delete(atlases.keys().next().value);
      }
      return a;
    }

    function drawSeats() {
      const cw = dom.seats.width, ch = dom.seats.height;
      if (lod === "overview") {
        if (stats.lastSeatsDrawn !== 0) { ctx.seats.clearRect(0, 0, cw, ch); stats.lastSeatsDrawn = 0; }
        return;
      }
      if (!seatImage || seatImage.width !== cw || seatImage.height !== ch) {
        seatImage = ctx.seats.createImageData(cw, ch);
        seatBuf = new Uint32Array(seatImage.data.buffer);
      }
      seatBuf.fill(0);
      const K = view.k * dpr, TX = (W / 2 - view.cx * view.k) * dpr, TY = (H / 2 - view.cy * view.k) * dpr;
      const atlas = atlasFor(Math.max(3, Math.round(m.pitch * K * GLYPH)));
      const margin = atlas.g / K;
      const a = toWorld({ x: 0, y: 0 }), z = toWorld({ x: W, y: H });
      let drawn = 0;
      const put = (i) => { stamp(seatBuf, cw, ch, atlas, style[i], Math.floor(m.x[i] * K + TX), Math.floor(m.y[i] * K + TY)); drawn += 1; };
      forSeatsIn(m.grid, a.x - margin, a.y - margin, z.x + margin, z.y + margin, (i) => { if (!selected[i] && !mine[i]) put(i); });
      // Picked and held-for-you seats last: their outlines overlap neighbours.
      for (const i of selectedList) put(i);
      for (const i of mineList) put(i);
      ctx.seats.putImageData(seatImage, 0, 0);
      stats.lastSeatsDrawn = drawn;
    }

    function drawOverlay() {
      const c = ctx.overlay;
      c.setTransform(1, 0, 0, 1, 0, 0);
      c.clearRect(0, 0, dom.overlay.width, dom.overlay.height);
      if (lod === "overview") return;
      c.setTransform(dpr, 0, 0, dpr, 0, 0);
      const pitch = pitchCss();
      drawSectionPills(c); // outside the seats, so always: orientation at any zoom
      if (pitch >= ROW_LABELS_FROM) drawRowLabels(c, pitch);
      if (hasFocus && focused >= 0) drawFocusRing(c, focused);
    }

    function drawSectionPills(c) {
      c.font = "600 12px system-ui, sans-serif"; c.textAlign = "center"; c.textBaseline = "middle";
      for (const s of m.sections) {
        if (!s.bbox || !onScreen(s.bbox)) continue;
        const edge = toScreen(s.back.x, s.back.y);
        const w = textWidth(c, s.name) + 12;
        // Just outside, kept inside the view so a name at the edge stays readable.
        const p = { x: Math.min(Math.max(edge.x + s.back.dx * 12, w / 2 + 2), W - w / 2 - 2),
          y: Math.min(Math.max(edge.y + s.back.dy * 12, 12), H - 12) };
        c.fillStyle = "rgba(255,255,255,0.92)"; c.strokeStyle = COLOR.sectionLine; c.lineWidth = 1;
        c.beginPath(); roundRect(c, p.x - w / 2, p.y - 10, w, 20, 10); c.fill(); c.stroke();
        c.fillStyle = COLOR.ink; c.fillText(s.name, p.x, p.y);
      }
    }

    // Row names just outside both ends of each row, along the row.
    function drawRowLabels(c, pitch) {
      c.font = `600 ${Math.round(Math.min(13, Math.max(10, pitch * 0.45)))}px system-ui, sans-serif`;
      c.textAlign = "center"; c.textBaseline = "middle"; c.fillStyle = COLOR.muted;
      for (const s of m.sections) {
        if (!s.bbox || !onScreen(s.bbox, 40)) continue;
        for (let r = s.rowStart; r < s.rowEnd; r += 1) {
          const first = m.rowStart[r], last = m.rowStart[r + 1] - 1;
          if (last < first) continue;
          rowLabel(c, m.rowNames[r], first, last > first ? first + 1 : first, -1);
          if (last > first) rowLabel(c, m.rowNames[r], last, last - 1, -1);
        }
      }
    }

    function rowLabel(c, text, at, toward, dir) {
      let dx = m.x[toward] - m.x[at], dy = m.y[toward] - m.y[at];
      const len = Math.hypot(dx, dy) || 1;
      if (toward === at) { dx = 1; dy = 0; }
      const x = m.x[at] + (dir * dx / len) * m.pitch * 1.2, y = m.y[at] + (dir * dy / len) * m.pitch * 1.2;
      const p = toScreen(x, y);
      if (p.x < -20 || p.x > W + 20 || p.y < -20 || p.y > H + 20) return;
      c.fillText(text, p.x, p.y);
    }

    function drawFocusRing(c, i) {
      const p = toScreen(m.x[i], m.y[i]);
      const d = Math.max(3, Math.round(m.pitch * view.k * dpr * GLYPH)) / dpr;
      const r = glyphExtent(d).outer + 3;
      c.lineWidth = 6; c.strokeStyle = COLOR.ink; c.beginPath(); c.arc(p.x, p.y, r, 0, Math.PI * 2); c.stroke();
      c.lineWidth = 3; c.strokeStyle = COLOR.focus; c.stroke();
    }

    // ---- size ----

    function onResize(entries) {
      const box = entries[0].contentRect;
      const first = !W;
      W = Math.max(1, Math.round(box.width)); H = Math.max(1, Math.round(box.height));
      resizeCanvases();
      if (first || fitted) Object.assign(view, fitView()); else Object.assign(view, clampView(view));
      invalidate(ALL);
    }

    function resizeCanvases() {
      dpr = global.devicePixelRatio || 1;
      for (const canvas of [dom.base, dom.seats, dom.overlay]) {
        canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
      }
      atlases.clear();
      dirty |= ALL;
    }

    // ---- hit tests ----

    function seatAt(p) {
      const w = toWorld(p);
      const reach = Math.max(m.pitch * 0.6, 10 / view.k); // at least 10 CSS px for fingers
      let best = -1, bestD = reach;
      forSeatsIn(m.grid, w.x - reach, w.y - reach, w.x + reach, w.y + reach, (i) => {
        const d = Math.hypot(m.x[i] - w.x, m.y[i] - w.y);
        if (d < bestD) { bestD = d; best = i; }
      });
      return best;
    }

    function sectionAt(p) {
      const w = toWorld(p);
      for (let si = m.sections.length - 1; si >= 0; si -= 1) {
        const s = m.sections[si];
        if (!s.bbox || w.x < s.bbox.x0 || w.x > s.bbox.x1 || w.y < s.bbox.y0 || w.y > s.bbox.y1) continue;
        if (pointInPolygon(w.x, w.y, s.outline)) return si;
      }
      return -1;
    }

    // ---- selection and focus ----

    function toggle(i) {
      if (!opts.selectable || i < 0) return false;
      if (mine[i]) {
        // Releasing a hold is the page's business (DELETE /api/holds/{id}).
        if (opts.onToggle) opts.onToggle(i, false, seatInfo(i));
        return false;
      }
      const on = !selected[i];
      if (on && state[i] !== FREE) { announce(labels.notFree(describe(i))); return false; }
      if (opts.onToggle && opts.onToggle(i, on, seatInfo(i)) === false) return false;
      selected[i] = on ? 1 : 0;
      selectedList = on ? selectedList.concat(i) : selectedList.filter((j) => j !== i);
      restyle(i);
      updateOption();
      announce(on ? labels.picked(describe(i)) : labels.unpicked(seatLabel(i)));
      invalidate(SEATS | OVERLAY);
      return true;
    }

    function setFocused(i, how = {}) {
      if (i < 0 || i >= m.n) return;
      const sectionChanged = focused < 0 || sectionOf(focused) !== sectionOf(i);
      const acrossAisle = how.step === 1 ? m.gap[i] === 1 : how.step === -1 ? m.gap[focused] === 1 : false;
      focused = i;
      let extra = "";
      if (acrossAisle) extra += `, ${labels.afterAisle}`;
      if (sectionChanged && how.keyboard) extra += ` (${labels.sectionFree(secFree[sectionOf(i)])})`;
      updateOption(extra);
      showInfo(describe(i));
      if (how.reveal) reveal(i);
      if (opts.onFocus) opts.onFocus(i, seatInfo(i));
      invalidate(OVERLAY);
    }

    // ---- keyboard ----

    function onKey(e) {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const i = focused >= 0 ? focused : defaultSeat();
      if (i < 0) return;
      const r = m.row[i], s = sectionOf(i), sec = m.sections[s];
      let handled = true;
      switch (e.key) {
        case "ArrowRight": moveTo(i + 1 < m.rowStart[r + 1] ? i + 1 : -1, labels.endOfRow, 1); break;
        case "ArrowLeft": moveTo(i - 1 >= m.rowStart[r] ? i - 1 : -1, labels.startOfRow, -1); break;
        case "Home": moveTo(m.rowStart[r], labels.startOfRow); break;
        case "End": moveTo(m.rowStart[r + 1] - 1, labels.endOfRow); break;
        case "ArrowUp": moveTo(r - 1 >= sec.rowStart ? nearestInRows(r - 1, r - 1, i) : -1, labels.firstRow); break;
        case "ArrowDown": moveTo(r + 1 < sec.rowEnd ? nearestInRows(r + 1, r + 1, i) : -1, labels.lastRow); break;
        case "PageUp": case "[": moveTo(otherSection(s, -1, i), labels.firstSection); break;
        case "PageDown": case "]": moveTo(otherSection(s, 1, i), labels.lastSection); break;
        case "Enter": case " ": if (focused < 0) setFocused(i, { keyboard: true, reveal: true }); toggle(i); break;
        case "+": case "=": zoomAround(focusPoint(i), 1.6, true); break;
        case "-": case "_": zoomAround(focusPoint(i), 1 / 1.6, true); break;
        case "0": fit(); break;
        default: handled = false;
      }
      if (handled) e.preventDefault();
    }

    function moveTo(j, edgeMessage, step) {
      if (j < 0 || j >= m.n) { announce(edgeMessage); return; }
      setFocused(j, { keyboard: true, reveal: true, step });
    }

    function focusPoint(i) {
      const p = toScreen(m.x[i], m.y[i]);
      return p.x >= 0 && p.x <= W && p.y >= 0 && p.y <= H ? p : { x: W / 2, y: H / 2 };
    }

    function nearestInRows(r0, r1, from) {
      let best = -1, bestD = Infinity;
      for (let j = m.rowStart[r0]; j < m.rowStart[r1 + 1]; j += 1) {
        const d = Math.hypot(m.x[j] - m.x[from], m.y[j] - m.y[from]);
        if (d < bestD) { bestD = d; best = j; }
      }
      return best;
    }

    // The neighbouring section (document order) that has seats, landing on
    // its seat nearest to where focus was.
    function otherSection(s, dir, from) {
      for (let t = s + dir; t >= 0 && t < m.sections.length; t += dir) {
        const sec = m.sections[t];
        if (sec.seatEnd > sec.seatStart) return nearestInRows(sec.rowStart, sec.rowEnd - 1, from);
      }
      return -1;
    }

    // ---- pointer: drag, pinch, wheel, tap ----

    const pointers = new Map();
    let gesture = null;

    function point(e) {
      const r = dom.view.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    }

    function onPointerDown(e) {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      stopAnimation();
      pointers.set(e.pointerId, point(e));
      try { dom.proxy.setPointerCapture(e.pointerId); } catch (_) { /* synthetic events */ }
      gesture = startGesture(pointers.size > 1);
    }

    function startGesture(moved) {
      const pts = [...pointers.values()];
      if (pts.length === 1) return { kind: "pan", start: pts[0], last: pts[0], moved };
      const [a, b] = pts;
      const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
      return { kind: "pinch", k0: view.k, d0: Math.max(1, Math.hypot(a.x - b.x, a.y - b.y)), anchor: toWorld(mid), moved: true };
    }

    function onPointerMove(e) {
      if (!pointers.has(e.pointerId)) { if (e.pointerType === "mouse") hover(point(e)); return; }
      const p = point(e);
      pointers.set(e.pointerId, p);
      if (!gesture) return;
      fitted = false;
      if (gesture.kind === "pan") {
        const slop = e.pointerType === "mouse" ? 4 : 8;
        if (!gesture.moved && Math.hypot(p.x - gesture.start.x, p.y - gesture.start.y) < slop) return;
        gesture.moved = true;
        dom.proxy.classList.add("is-dragging");
        setView({ k: view.k, cx: view.cx - (p.x - gesture.last.x) / view.k, cy: view.cy - (p.y - gesture.last.y) / view.k });
        gesture.last = p;
      } else {
        const [a, b] = [...pointers.values()];
        const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
        const k = clampView({ k: gesture.k0 * Math.hypot(a.x - b.x, a.y - b.y) / gesture.d0, cx: 0, cy: 0 }).k;
        setView({ k, cx: gesture.anchor.x - (mid.x - W / 2) / k, cy: gesture.anchor.y - (mid.y - H / 2) / k });
      }
    }

    function onPointerUp(e) {
      if (!pointers.has(e.pointerId)) return;
      const wasTap = gesture && gesture.kind === "pan" && !gesture.moved && pointers.size === 1 && e.type === "pointerup";
      pointers.delete(e.pointerId);
      dom.proxy.classList.remove("is-dragging");
      gesture = pointers.size ? startGesture(true) : null;
      if (wasTap) tap(point(e), e.pointerType);
    }

    function tap(p, pointerType) {
      if (lod === "overview") {
        const si = sectionAt(p);
        if (si >= 0) zoomToSection(si);
        return;
      }
      const enough = pointerType === "mouse" ? TAP_PICKS_FROM : TOUCH_PICKS_FROM;
      if (pitchCss() < enough) { zoomAround(p, COMFORT_PITCH / pitchCss(), true); return; }
      const i = seatAt(p);
      if (i < 0) return;
      setFocused(i, {});
      toggle(i);
    }

    function hover(p) {
      let cursor = "grab";
      if (lod === "overview") {
        const si = sectionAt(p);
        if (si !== hoverSection) { hoverSection = si; invalidate(BASE); }
        if (si >= 0) { cursor = "zoom-in"; showInfo(`${m.sections[si].name}: ${labels.sectionFree(secFree[si])}`); }
      } else {
        const i = pitchCss() >= TAP_PICKS_FROM ? seatAt(p) : -1;
        if (i >= 0) { cursor = opts.selectable && state[i] === FREE ? "pointer" : "default"; showInfo(describe(i)); }
        else if (pitchCss() < TAP_PICKS_FROM) cursor = "zoom-in";
      }
      dom.proxy.style.cursor = cursor;
    }

    function onWheel(e) {
      e.preventDefault();
      stopAnimation();
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? H : 1;
      zoomAround(point(e), Math.exp(-e.deltaY * unit * 0.0015), false);
    }

    function onFocusIn() {
      hasFocus = true;
      // Only keyboard focus jumps to a seat; a click focuses too and must not zoom.
      if (dom.proxy.matches(":focus-visible")) {
        if (focused < 0) setFocused(defaultSeat(), { keyboard: true, reveal: true });
        else reveal(focused);
      }
      invalidate(OVERLAY);
    }

    function onFocusOut() { hasFocus = false; invalidate(OVERLAY); }

    function bindEvents() {
      const list = [
        [dom.proxy, "pointerdown", onPointerDown], [dom.proxy, "pointermove", onPointerMove],
        [dom.proxy, "pointerup", onPointerUp], [dom.proxy, "pointercancel", onPointerUp],
        [dom.proxy, "pointerleave", () => { if (hoverSection >= 0) { hoverSection = -1; invalidate(BASE); } }],
        [dom.proxy, "wheel", onWheel, { passive: false }],
        [dom.proxy, "keydown", onKey], [dom.proxy, "focus", onFocusIn], [dom.proxy, "blur", onFocusOut],
        [dom.zoomIn, "click", () => zoomAround({ x: W / 2, y: H / 2 }, 1.6, true)],
        [dom.zoomOut, "click", () => zoomAround({ x: W / 2, y: H / 2 }, 1 / 1.6, true)],
        [dom.fit, "click", fit],
      ];
      for (const [target, type, fn, o] of list) target.addEventListener(type, fn, o);
      return list;
    }

    function destroy() {
      for (const [target, type, fn, o] of listeners) target.removeEventListener(type, fn, o);
      resizer.disconnect();
      if (frame) cancelAnimationFrame(frame);
      for (const node of [dom.view, dom.hint, dom.readout, dom.legend]) node.remove();
      container.classList.remove("seatmap");
    }

    // ---- start: everything above is declared, so initialise ----

    for (let i = 0; i < m.n; i += 1) { catCounts[m.cat[i] * 5 + UNKNOWN] += 1; restyle(i); }
    if (opts.states) setStates(opts.states, true);
    setMine(opts.mine || [], true);
    stats.modelMs = performance.now() - t0;
    renderLegend();
    updateOption();
    showInfo(labels.overviewHint);

    const resizer = new ResizeObserver(onResize);
    resizer.observe(dom.view);
    const listeners = bindEvents();
    stats.createdAt = performance.now();

    // ---- public API ----

    return {
      setStates: (text) => setStates(text, false),
      applyChanges,
      setMine: (indices) => setMine(indices, false),
      setSelected,
      getSelected: () => selectedList.slice(),
      getMine: () => mineList.slice(),
      focusSeat: (i, o = {}) => { setFocused(i, { reveal: o.reveal !== false }); if (o.focus) dom.proxy.focus(); },
      focusedSeat: () => focused,
      zoomToSection: (idOrIndex) => zoomToSection(typeof idOrIndex === "number" ? idOrIndex : m.sections.findIndex((s) => s.id === idOrIndex)),
      fit,
      zoomBy: (factor) => zoomAround({ x: W / 2, y: H / 2 }, factor, true),
      setPrices: (next, currency) => { prices = next || {}; if (currency) money = formatter(currency); renderLegend(); updateOption(); },
      seat: (i) => seatInfo(i),
      indexOf: (() => { let ids = null; return (id) => { if (!ids) ids = new Map(m.ids.map((v, k) => [v, k])); return ids.has(id) ? ids.get(id) : -1; }; })(),
      seatCount: () => m.n,
      sections: () => m.sections.map((s) => ({ index: s.index, id: s.id, name: s.name, seatStart: s.seatStart, seatEnd: s.seatEnd,
        free: secFree[s.index], onSale: secSale[s.index] })),
      counts: () => Object.fromEntries(m.categories.map((c, k) => [c.id, {
        free: catCounts[k * 5], held: catCounts[k * 5 + 1], sold: catCounts[k * 5 + 2], blocked: catCounts[k * 5 + 3] }])),
      // Where a seat is, in CSS px from the view's top-left (for pages and tests).
      seatToScreen: (i) => { const p = toScreen(m.x[i], m.y[i]); return { x: p.x, y: p.y, visible: lod === "seats" && p.x >= 0 && p.x <= W && p.y >= 0 && p.y <= H }; },
      sectionToScreen: (si) => { const c = m.sections[si].centroid; return toScreen(c.x, c.y); },
      view: () => ({ k: view.k, cx: view.cx, cy: view.cy, pitch: pitchCss(), lod, width: W, height: H }),
      announce,
      stats,
      element: dom.view,
      destroy,
    };
  }

  global.SeatMap = { create, version: "1", _buildModel: buildModel };
})(typeof window !== "undefined" ? window : globalThis);
