// The operator console: sign in with the operator key, list, create and
// control drops (who may join, proof of work and CAPTCHA per drop), create
// venues (with a seat map), events and seated sales,
// edit events and venues (each edit made from the version loaded),
// and watch one drop's live numbers (a seated sale's live seat map too).
// Plain JavaScript.
"use strict";

const $ = (id) => document.getElementById(id);
let key = sessionStorage.getItem("lineup.operator") || "";
let current = null;   // the drop on the dashboard
let history = [];     // [{t, sold, pending, admitted}]
let timer = null;
let drops = {};       // the listed drops by id

async function api(path, options = {}) {
  const headers = Object.assign({ authorization: `Bearer ${key}` }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  return { status: response.status, body };
}

function showError(text) { $("error").textContent = text || ""; $("error").hidden = !text; }
function notice(text) { $("notice").textContent = text || ""; $("notice").hidden = !text; }
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

async function signIn(event) {
  if (event) event.preventDefault();
  if (event) key = $("key").value.trim();
  const { status } = await api("/api/drops/__probe__/stats");
  if (status === 401 || status === 403) {
    showError("That operator key was not accepted.");
    return;
  }
  sessionStorage.setItem("lineup.operator", key);
  showError("");
  $("signin").hidden = true;
  $("console").hidden = false;
  $("signout").hidden = false;
  const opens = new Date(Date.now() + 5 * 60000);
  opens.setSeconds(0, 0);
  $("c-opens").value = localInput(opens).slice(0, 16);
  $("s-opens").value = localInput(opens);
  const starts = new Date(Date.now() + 30 * 86400000);
  starts.setHours(20, 0, 0, 0);
  $("e-starts").value = localInput(starts).slice(0, 16);
  loadDrops();
}

// A date as a datetime-local input wants it: local time, to the second.
function localInput(date) {
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

async function loadDrops() {
  const { status, body } = await api("/api/drops");
  if (status !== 200) { showError("Could not list the drops."); return; }
  drops = Object.fromEntries(body.map((d) => [d.id, d]));
  $("drops").innerHTML = body.map((d) => `<tr>
      <td>${escapeHtml(d.name)} <span class="muted">(${escapeHtml(d.id)})</span></td>
      <td>${escapeHtml(d.state)}</td><td>${d.stock}${d.seating ? " seats" : ""}</td><td>${d.remaining}</td>
      <td>${new Date(d.opens_at).toLocaleString()}</td>
      <td><button type="button" class="secondary" data-drop="${escapeHtml(d.id)}">Dashboard</button></td></tr>`).join("")
    || '<tr><td colspan="6" class="muted">No drops yet.</td></tr>';
  for (const button of $("drops").querySelectorAll("button[data-drop]")) {
    button.addEventListener("click", () => openDashboard(button.dataset.drop));
  }
}

function fieldError(form) {
  for (const input of form.querySelectorAll("input, select, textarea")) {
    if (!input.checkValidity()) {
      const label = form.querySelector(`label[for="${input.id}"]`);
      input.focus();
      return `${label ? label.textContent : input.name}: ${input.validationMessage}`;
    }
  }
  return "";
}

async function create(event) {
  event.preventDefault();
  const form = $("create-form");
  const problem = fieldError(form);
  if (problem) { showError(problem); return; }
  const data = Object.fromEntries(new FormData(form).entries());
  const body = {
    id: data.id, name: data.name, currency: data.currency,
    stock: Number(data.stock), price_cents: Number(data.price_cents),
    opens_at: new Date(data.opens_at).toISOString(),
    admission_rate_per_sec: Number(data.admission_rate_per_sec), max_active: Number(data.max_active),
    per_user_cap: Number(data.per_user_cap), order_timeout_secs: Number(data.order_timeout_secs),
  };
  const { status, body: answer } = await api("/api/drops", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  if (status !== 201) { showError((answer && answer.message) || "The drop was not created."); return; }
  showError("");
  notice(`Drop ${answer.id} created.`);
  loadDrops();
  openDashboard(answer.id);
}

function stat(label, value) {
  return `<div class="stat"><div class="label">${label}</div><div class="value">${value}</div></div>`;
}

function drawChart(id, values) {
  const path = $(id).querySelector("path");
  if (values.length < 2) { path.setAttribute("d", ""); return; }
  const max = Math.max(1, ...values);
  const step = 300 / (values.length - 1);
  path.setAttribute("d", values.map((v, i) => `${i ? "L" : "M"}${(i * step).toFixed(1)},${(58 - 56 * v / max).toFixed(1)}`).join(" "));
}

async function refresh() {
  if (!current) return;
  const { status, body: s } = await api(`/api/drops/${encodeURIComponent(current)}/stats`);
  if (status !== 200) return;
  const now = Date.now();
  const sold = s.paid.units + s.pending.units;
  history.push({ t: now, sold, orders: s.paid.orders + s.pending.orders + s.expired.orders + s.cancelled.orders + s.refunded.orders, admitted: s.queue.admitted });
  history = history.filter((h) => now - h.t < 5 * 60000);
  const rate = (field) => history.slice(1).map((h, i) => Math.max(0, (h[field] - history[i][field]) / ((h.t - history[i].t) / 1000)));
  $("d-title").textContent = `Dashboard: ${current}`;
  $("d-state").textContent = `State: ${s.state}. Admission rate ${s.admission_rate_per_sec}/s, up to ${s.max_active} active shoppers.`;
  $("d-stats").innerHTML = [
    stat("Waiting", s.queue.waiting), stat("Admitted", s.queue.admitted), stat("Active shoppers", s.queue.active),
    stat("Sold (paid)", s.paid.units), stat("Pending", s.pending.units), stat("Remaining", s.remaining),
    stat("Expired", s.expired.units), stat("Refunded", s.refunded.units),
  ].join("");
  drawChart("chart-sold", history.map((h) => h.sold));
  drawChart("chart-orders", rate("orders"));
  drawChart("chart-admitted", rate("admitted"));
  if (document.activeElement !== $("new-rate")) $("new-rate").value = s.admission_rate_per_sec;
  if (document.activeElement !== $("new-active")) $("new-active").value = s.max_active;
}

function openDashboard(id) {
  current = id;
  history = [];
  $("dashboard").hidden = false;
  if (timer) clearInterval(timer);
  timer = setInterval(refresh, 2000);
  refresh();
  loadAccess(id);
  openLive(drops[id]);
}

// ---- who may join a drop, and its checks on joining ----

async function loadAccess(id) {
  const form = $("access-form");
  // Only this form's own messages: the page's notice (a drop just
  // created) stays.
  for (const message of form.querySelectorAll(".form-message")) message.textContent = "";
  const { status, body } = await api(`/api/drops/${encodeURIComponent(id)}/access`).catch(() => ({ status: 0, body: null }));
  if (current !== id) return;
  if (status !== 200) { form.querySelector(".form-message.error").textContent = "The drop's join settings could not be loaded; reload the dashboard."; return; }
  $("access-mode").value = body.mode;
  $("access-pow").checked = body.proof_of_work;
  $("access-captcha").checked = body.captcha;
  $("access-pow-algorithm").value = body.pow_algorithm || "SHA-256";
}

async function saveAccess(event) {
  event.preventDefault();
  const form = $("access-form");
  const id = current;
  if (!id) return;
  const body = {
    mode: $("access-mode").value, proof_of_work: $("access-pow").checked, captcha: $("access-captcha").checked,
    pow_algorithm: $("access-pow-algorithm").value,
  };
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const { status, body: answer } = await api(`/api/drops/${encodeURIComponent(id)}/access`, {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  }).catch(() => ({ status: 0, body: null }));
  button.disabled = false;
  if (status !== 200) { formSay(form, `The join settings of ${id} were not saved: ${sentence(answer && answer.message)}`); return; }
  const on = (flag) => (flag ? "on" : "off");
  formSay(form, "", `Saved for ${id}: proof of work ${on(answer.proof_of_work)}, CAPTCHA ${on(answer.captcha)}, puzzle ${answer.pow_algorithm}; every queue node applies it within a second.`);
}

async function change(body, done) {
  const { status, body: answer } = await api(`/api/drops/${encodeURIComponent(current)}`, {
    method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  if (status !== 200) { showError((answer && answer.message) || "The change was refused."); return; }
  showError("");
  notice(done);
  refresh();
  loadDrops();
}

// ---- venues, events, seated sales ----

// A form's own message, next to it (errors are alerts, successes status).
function formSay(form, error, ok) {
  showError("");
  notice("");
  form.querySelector(".form-message.error").textContent = error || "";
  form.querySelector(".form-message.ok").textContent = ok || "";
}

// What the API said, in plain words, with what was being done.
function refused(what, answer) {
  const message = answer && answer.message ? answer.message : "the service did not answer; try again";
  return `${what} was not created: ${message.charAt(0).toUpperCase()}${message.slice(1)}${/[.!?]$/.test(message) ? "" : "."}`;
}

function remember(listId, value) {
  const list = $(listId);
  if ([...list.options].some((o) => o.value === value)) return;
  const option = document.createElement("option");
  option.value = value;
  list.append(option);
}

// Which upload a seat map file is: ours (its `format` says so) or a pretix
// seating plan (it has `zones`).
function mapField(doc, chosen) {
  if (chosen === "lineup") return "map";
  if (chosen === "pretix") return "pretix_map";
  if (doc && doc.format === "lineup.seatmap/1") return "map";
  if (doc && Array.isArray(doc.zones)) return "pretix_map";
  return null;
}

async function createVenue(event) {
  event.preventDefault();
  const form = $("venue-form");
  const problem = fieldError(form);
  if (problem) { formSay(form, problem); return; }
  const data = Object.fromEntries(new FormData(form).entries());
  let doc;
  try {
    doc = JSON.parse(await $("v-map").files[0].text());
  } catch (error) {
    $("v-map").focus();
    formSay(form, `The seat map file is not JSON: ${error.message}`);
    return;
  }
  const field = mapField(doc, data.format);
  if (!field) {
    $("v-map").focus();
    formSay(form, "This file is neither a Lineup seat map (format lineup.seatmap/1) nor a pretix seating plan (with zones). Pick its format above if it is one.");
    return;
  }
  const body = {
    id: data.id, name: data.name, city: data.city, country: data.country, timezone: data.timezone,
    lat: Number(data.lat), lon: Number(data.lon), address: data.address || "", [field]: doc,
  };
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const { status, body: answer } = await api("/api/venues", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  }).catch(() => ({ status: 0, body: null }));
  button.disabled = false;
  if (status !== 201) { formSay(form, refused("The venue", answer)); return; }
    const seats = await mapSeats(answer.id, answer.map_version);
  formSay(form, "", `Venue ${answer.id} created with seat map version ${answer.map_version}${seats === null ? "" : ` (${seats.toLocaleString()} seats)`}.`);
  remember("venue-ids", answer.id);
  $("e-venue").value = answer.id;
}

// How many seats a venue's map has (null when it cannot be read).
async function mapSeats(venue, version) {
  const doc = await venueMap(venue, version);
  if (!doc) return null;
  return doc.sections.reduce((n, s) => n + s.rows.reduce((m, r) => m + r.seats.length, 0), 0);
}

async function venueMap(venue, version) {
  const query = version ? `?version=${version}` : "";
  const response = await fetch(`/api/venues/${encodeURIComponent(venue)}/map${query}`).catch(() => null);
  return response && response.ok ? response.json() : null;
}

async function createEvent(event) {
  event.preventDefault();
  const form = $("event-form");
  const problem = fieldError(form);
  if (problem) { formSay(form, problem); return; }
  const data = Object.fromEntries(new FormData(form).entries());
  const body = {
    id: data.id, name: data.name, venue_id: data.venue_id,
    performers: data.performers.split(",").map((p) => p.trim()).filter(Boolean),
    starts_at: new Date(data.starts_at).toISOString(),
  };
  if (data.genre.trim()) body.genre = data.genre.trim();
  if (data.description.trim()) body.description = data.description.trim();
  const { status, body: answer } = await api("/api/events", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  }).catch(() => ({ status: 0, body: null }));
  if (status !== 201) { formSay(form, refused("The event", answer)); return; }
    formSay(form, "", `Event ${answer.id} created.`);
  remember("event-ids", answer.id);
  $("s-event").value = answer.id;
  loadCategories();
}

// The seated-sale form asks a price for each category of the event's
// venue map.
let categoriesFor = null;

async function loadCategories() {
  const eventId = $("s-event").value.trim();
  if (!eventId || eventId === categoriesFor) return;
  categoriesFor = eventId;
  const box = $("s-prices");
  const hint = $("s-prices-hint");
  for (const row of box.querySelectorAll(".row")) row.remove();
  hint.hidden = false;
  hint.textContent = "Loading the venue's categories…";
  const { status, body } = await api(`/api/events/${encodeURIComponent(eventId)}`);
  if (categoriesFor !== eventId) return;
  if (status !== 200) { hint.textContent = `There is no event ${eventId}.`; categoriesFor = null; return; }
  const doc = await venueMap(body.venue.id, body.venue.map_version);
  if (categoriesFor !== eventId) return;
  if (!doc) { hint.textContent = `The venue ${body.venue.id} has no seat map.`; categoriesFor = null; return; }
  const seats = {};
  for (const s of doc.sections) for (const r of s.rows) for (const seat of r.seats) seats[seat.category] = (seats[seat.category] || 0) + 1;
  const row = document.createElement("div");
  row.className = "row";
  for (const c of doc.categories) {
    if (!seats[c.id]) continue;
    const cell = document.createElement("div");
    const label = document.createElement("label");
    label.htmlFor = `s-price-${c.id}`;
    label.textContent = `${c.name} (${seats[c.id].toLocaleString()} seats), price`;
    const input = document.createElement("input");
    Object.assign(input, { id: `s-price-${c.id}`, type: "number", min: "0", step: "0.01", inputMode: "decimal" });
    input.dataset.category = c.id;
    cell.append(label, input);
    row.append(cell);
  }
  box.append(row);
  hint.textContent = `${body.venue.name}, ${body.venue.city}: seat map version ${body.venue.map_version}.`;
}

async function createSeated(event) {
  event.preventDefault();
  const form = $("seated-form");
  const problem = fieldError(form);
  if (problem) { formSay(form, problem); return; }
  await loadCategories();
  const prices = {};
  for (const input of form.querySelectorAll("input[data-category]")) {
    if (input.value !== "") prices[input.dataset.category] = Math.round(Number(input.value) * 100);
  }
  if (!Object.keys(prices).length) {
    const first = form.querySelector("input[data-category]");
    if (first) first.focus(); else $("s-event").focus();
    formSay(form, "Prices: give a price for at least one category of the venue (the event's venue must have a seat map).");
    return;
  }
  const data = Object.fromEntries(new FormData(form).entries());
  const body = {
    id: data.id, name: data.name, currency: data.currency, event_id: data.event_id,
    opens_at: new Date(data.opens_at).toISOString(),
    per_user_cap: Number(data.per_user_cap), order_timeout_secs: Number(data.order_timeout_secs),
    admission_rate_per_sec: Number(data.admission_rate_per_sec), max_active: Number(data.max_active),
    seating: { prices, hold_secs: Number(data.hold_secs) },
  };
  const { status, body: answer } = await api("/api/drops", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  }).catch(() => ({ status: 0, body: null }));
  if (status !== 201) { formSay(form, refused("The seated sale", answer)); return; }
    formSay(form, "", `Seated sale ${answer.id} created: ${answer.stock.toLocaleString()} seats on sale.`);
  await loadDrops();
  openDashboard(answer.id);
}

// ---- a seated sale's live map ----

const live = { map: null, stream: null, drop: null, version: 0, doc: null, snapshot: null, changes: 0, countsTimer: null };
// The browser test reads the live map from here.
window.lineupLive = live;

function closeLive() {
  if (live.stream) live.stream.close();
  if (live.map) live.map.destroy();
  if (live.countsTimer) clearInterval(live.countsTimer);
  Object.assign(live, { map: null, stream: null, drop: null, countsTimer: null });
  $("live").hidden = true;
}

async function openLive(drop) {
  closeLive();
  if (!drop || !drop.seating) return;
  live.drop = drop.id;
  $("live").hidden = false;
  $("live-map").textContent = "Loading the seat map…";
  const snapshot = await (await fetch(`/api/drops/${encodeURIComponent(drop.id)}/seats`, { cache: "no-store" })).json().catch(() => null);
  if (live.drop !== drop.id) return;
  const doc = snapshot && await venueMap(snapshot.venue_id, snapshot.map_version);
  if (live.drop !== drop.id) return;
  if (!doc) { $("live-map").textContent = "The seat map could not be loaded."; return; }
  $("live-map").textContent = "";
  live.doc = doc;
  live.snapshot = snapshot;
  live.version = snapshot.version;
  live.map = SeatMap.create($("live-map"), {
    map: doc, states: snapshot.states, prices: snapshot.prices, currency: snapshot.currency,
    selectable: false,
    labels: { map: "Live seat map", seatsHint: "Seats change here as fans hold and buy them. Drag to move, pinch or scroll to zoom." },
  });
  renderCounts();
  live.countsTimer = setInterval(renderCounts, 1000);
  const stream = new EventSource(`/api/drops/${encodeURIComponent(drop.id)}/seats/stream?after=${live.version}`);
  live.stream = stream;
  stream.addEventListener("seats", (event) => {
    const data = JSON.parse(event.data);
    if (data.version <= live.version) return;
    live.version = data.version;
    live.changes += data.changes.length;
    live.map.applyChanges(data.changes);
  });
  stream.addEventListener("reset", async () => {
    const fresh = await (await fetch(`/api/drops/${encodeURIComponent(drop.id)}/seats`, { cache: "no-store" })).json().catch(() => null);
    if (fresh && live.stream === stream && fresh.version >= live.version) {
      live.version = fresh.version;
      live.map.setStates(fresh.states);
    }
  });
  stream.onerror = () => { $("live-line").textContent = "Live updates interrupted; reconnecting…"; };
  stream.onopen = () => { renderCounts(); };
}

function renderCounts() {
  if (!live.map) return;
  const counts = live.map.counts();
  const money = new Intl.NumberFormat(undefined, { style: "currency", currency: live.snapshot.currency });
  const rows = [];
  const total = { free: 0, held: 0, sold: 0, blocked: 0 };
  for (const c of live.doc.categories) {
    const k = counts[c.id];
    if (!k || k.free + k.held + k.sold + k.blocked === 0) continue;
    for (const f of Object.keys(total)) total[f] += k[f];
    const price = c.id in live.snapshot.prices ? money.format(live.snapshot.prices[c.id] / 100) : "not on sale";
    rows.push(`<tr><th scope="row">${escapeHtml(c.name)}</th><td>${price}</td><td>${k.free}</td><td>${k.held}</td><td>${k.sold}</td><td>${k.blocked}</td></tr>`);
  }
  rows.push(`<tr class="total"><th scope="row">All</th><td></td><td>${total.free}</td><td>${total.held}</td><td>${total.sold}</td><td>${total.blocked}</td></tr>`);
  $("live-counts").innerHTML = rows.join("");
  const open = live.stream && live.stream.readyState === EventSource.OPEN;
  $("live-line").textContent = `${open ? "Live" : "Connecting…"} · seat version ${live.version}`;
}

// ---- editing events and venues ----
// A form shows the row as loaded and sends only the fields changed, with the
// version it was loaded at (If-Match): when another operator changed the row
// meanwhile the API refuses (412) and the form says so instead of
// overwriting their change.
const editing = { event: null, venue: null }; // {id, version, loaded: {field: value}}

function boxSay(box, error, ok) {
  showError("");
  notice("");
  $(box).querySelector(".form-message.error").textContent = error || "";
  $(box).querySelector(".form-message.ok").textContent = ok || "";
}

function sentence(message) {
  const text = message || "the service did not answer; try again";
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}`;
}

// The values of a form's named fields, as strings.
function values(form) {
  const out = {};
  for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) out[input.name] = input.value;
  return out;
}

function fillForm(form, fields) {
  for (const [name, value] of Object.entries(fields)) form.querySelector(`[name="${name}"]`).value = value;
}

// Loads a row into its edit form; what: "event" or "venue".
async function loadForEdit(what, event) {
  event.preventDefault();
  const box = `edit-${what}-box`;
  const loader = $(`edit-${what}-load`);
  const problem = fieldError(loader);
  if (problem) { boxSay(box, problem); return; }
  const id = loader.querySelector("input[name=id]").value.trim();
  const { status, body } = await api(`/api/${what}s/${encodeURIComponent(id)}`).catch(() => ({ status: 0, body: null }));
  if (status !== 200) {
    boxSay(box, status === 404 ? `There is no ${what} with the id ${id}.` : `The ${what} could not be loaded; try again.`);
    return;
  }
  showForEdit(what, body);
  boxSay(box, "", `${what === "event" ? "Event" : "Venue"} ${id} loaded (version ${body.version}).`);
  $(`edit-${what}-form`).querySelector("input[name=name]").focus();
}

function showForEdit(what, row) {
  const fields = what === "event"
    ? { name: row.name, performers: row.performers.join(", "), venue_id: row.venue_id,
        starts_at: localInput(new Date(row.starts_at)).slice(0, 16), genre: row.genre,
        status: row.status, description: row.description }
    : { name: row.name, city: row.city, country: row.country, timezone: row.timezone,
        lat: String(row.lat), lon: String(row.lon), address: row.address };
  const form = $(`edit-${what}-form`);
  fillForm(form, fields);
  editing[what] = { id: row.id, version: row.version, loaded: values(form) };
  $(what === "event" ? "ee-version" : "ev-version").textContent = `Editing ${row.id}, version ${row.version}.`;
  form.hidden = false;
}

// The changed fields as the API takes them.
function changes(what, now, loaded) {
  const body = {};
  for (const [name, value] of Object.entries(now)) {
    if (value === loaded[name]) continue;
    if (name === "performers") body.performers = value.split(",").map((p) => p.trim()).filter(Boolean);
    else if (name === "starts_at") body.starts_at = new Date(value).toISOString();
    else if (name === "lat" || name === "lon") body[name] = Number(value);
    else body[name] = value.trim();
  }
  return body;
}

async function saveEdit(what, event) {
  event.preventDefault();
  const box = `edit-${what}-box`;
  const form = $(`edit-${what}-form`);
  const row = editing[what];
  if (!row) return;
  const problem = fieldError(form);
  if (problem) { boxSay(box, problem); return; }
  const body = changes(what, values(form), row.loaded);
  const label = `${what === "event" ? "Event" : "Venue"} ${row.id}`;
  if (!Object.keys(body).length) { boxSay(box, "", `Nothing to save: no field of ${label.toLowerCase()} was changed.`); return; }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const { status, body: answer } = await api(`/api/${what}s/${encodeURIComponent(row.id)}`, {
    method: "PATCH",
    headers: { "content-type": "application/json", "if-match": `"${row.version}"` },
    body: JSON.stringify(body),
  }).catch(() => ({ status: 0, body: null }));
  button.disabled = false;
  if (status === 200) {
    showForEdit(what, answer);
    boxSay(box, "", `${label} saved (version ${answer.version}); the search shows the change now.`);
  } else if (status === 412) {
    boxSay(box, `${label} was not saved: someone else changed it meanwhile. Load it again to see their change, then make yours.`);
  } else {
    boxSay(box, `${label} was not saved: ${sentence(answer && answer.message)}`);
  }
}

$("signin-form").addEventListener("submit", signIn);
$("create-form").addEventListener("submit", create);
$("venue-form").addEventListener("submit", createVenue);
$("event-form").addEventListener("submit", createEvent);
$("seated-form").addEventListener("submit", createSeated);
$("edit-event-load").addEventListener("submit", (event) => loadForEdit("event", event));
$("edit-venue-load").addEventListener("submit", (event) => loadForEdit("venue", event));
$("edit-event-form").addEventListener("submit", (event) => saveEdit("event", event));
$("edit-venue-form").addEventListener("submit", (event) => saveEdit("venue", event));
$("s-event").addEventListener("change", loadCategories);
$("pause").addEventListener("click", () => change({ state: "paused" }, "Admission paused."));
$("resume").addEventListener("click", () => change({ state: "open" }, "Admission resumed."));
$("close").addEventListener("click", () => {
  if (confirm("Close this drop for good?")) change({ state: "closed" }, "Drop closed.");
});
$("rate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  change({ admission_rate_per_sec: Number($("new-rate").value), max_active: Number($("new-active").value) }, "Rate and limit changed.");
});
$("stock-form").addEventListener("submit", (event) => {
  event.preventDefault();
  change({ add_stock: Number($("add-stock").value) }, "Stock added.");
});
$("access-form").addEventListener("submit", saveAccess);
$("signout").addEventListener("click", () => { sessionStorage.removeItem("lineup.operator"); location.reload(); });
if (key) signIn();
