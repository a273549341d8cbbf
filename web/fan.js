// The fan's page: wait in line over a WebSocket (polling when it cannot),
// then buy and pay in the sale service; in a seated sale, pick seats on the
// seat map (web/seatmap.js), hold them, check out. Plain JavaScript, no
// build step.
"use strict";

const settings = JSON.parse(document.getElementById("settings").textContent);
const dropId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const $ = (id) => document.getElementById(id);
const sections = ["signin", "access", "captcha", "prequeue", "waiting", "paused", "ended", "admitted", "seats", "order"];

let user = JSON.parse(localStorage.getItem("lineup.user") || "null");
let drop = null;          // the sale service's view of the drop
let status = null;        // the last status from the queue
let firstPosition = null; // for the progress bar
let lastAnnounced = 0;
let order = null;
let socket = null;
let retries = 0;
let pollTimer = null;
let accessCode = null;    // the code typed for an invite-only line, until it is redeemed
let captchaToken = null;  // a CAPTCHA token for the next join (each is spent once)

const plainErrors = {
  sold_out: "Sorry, it's sold out.",
  cap_exceeded: "You have reached the limit per person for this drop.",
  invalid_token: "Your turn has expired. Join the line again to get a new one.",
  wrong_drop: "Your admission is for another drop.",
  wrong_user: "Your admission belongs to another account.",
  paused: "Sales are paused for a moment. Try again shortly.",
  not_open: "The sale has not opened yet.",
  closed: "This drop is closed.",
  invalid_quantity: "Please choose a quantity within the limit per person.",
  rate_limited: "Too many tries at once. Wait a second and try again.",
  unavailable: "We could not reach the shop just now. Try again in a moment.",
  not_pending: "This order can no longer be changed.",
  order_expired: "The time to pay for this order is over.",
  payment_in_progress: "A payment is already in progress.",
  hold_lapsed: "Your hold ran out and the seats went back on sale. Choose your seats again.",
  hold_not_live: "These seats are no longer held for you.",
  invalid_seats: "Those seats cannot be chosen here. Choose other seats.",
  seated_sale: "This sale is seated: choose your seats on the map.",
  revoked: "Your access to this sale has been withdrawn by its organiser.",
  access_required: "This line is invite-only: you need an invitation or an access code.",
  invalid_access_code: "That access code is not valid for this sale.",
  access_code_used_up: "That access code has already been used.",
  captcha_required: "Please confirm you are a person to join the line.",
  captcha_failed: "That check did not pass. Please try again.",
  captcha_reused: "That check has expired. Please confirm again.",
  captcha_malformed: "That check did not pass. Please try again.",
  captcha_unavailable: "We could not run the check just now. Please try again in a moment.",
};

function say(code, fallback) {
  return plainErrors[code] || fallback || "Something went wrong. Please try again.";
}

function show(...visible) {
  for (const id of sections) $(id).hidden = !visible.includes(id);
  // The seat map takes the width a desktop offers.
  document.querySelector("main").classList.toggle("wide", visible.includes("seats"));
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

function money(cents, currency) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
}

function clock(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  const mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function minutes(seconds) {
  return Math.max(1, Math.round(seconds / 60));
}

async function api(base, path, options = {}) {
  const response = await fetch(base + path, options);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  return { status: response.status, body };
}

function announce(text) {
  $("announce").textContent = text;
}

function render() {
  if (!status) return;
  const state = status.state;
  if (state !== "admitted" && order) return; // the order section stays
  if (state === "prequeue") {
    show("prequeue");
  } else if (state === "waiting") {
    show("waiting");
    const position = status.position;
    if (firstPosition === null || position > firstPosition) firstPosition = position;
    $("position").textContent = `#${position.toLocaleString()}`;
    $("ahead").textContent = status.ahead === 0 ? "You are next." : `${status.ahead.toLocaleString()} people ahead of you.`;
    $("eta").textContent = waitText(status);
    $("progress").value = firstPosition > 1 ? Math.round(100 * (firstPosition - position) / (firstPosition - 1)) : 100;
    $("rate").textContent = drop && !status.held_up
      ? `Letting in about ${drop.admission_rate_per_sec} people per second.`
      : "";
    const now = Date.now();
    if (now - lastAnnounced > 30000) {
      lastAnnounced = now;
      announce(`You are number ${position} in line.`);
    }
  } else if (state === "paused") {
    show("paused");
  } else if (state === "sold_out" || state === "closed") {
    show("ended");
    $("ended-title").textContent = state === "sold_out" ? "Sold out" : "This drop is closed";
    $("ended-text").textContent = state === "sold_out"
      ? "Everything has been sold. Thank you for waiting."
      : "The sale has ended.";
    announce($("ended-title").textContent);
  } else if (state === "admitted") {
    if (!order && drop && drop.seating) {
      if ($("seats").hidden) announce("It's your turn. Pick your seats on the map.");
      show("seats");
      startSeats();
    } else if (!order) {
      show("admitted");
      announce("It's your turn. You can buy now.");
    }
  }
}

// The wait in plain words. When the line cannot move (everything left is
// reserved, or the shop is full), say so instead of promising minutes.
function waitText(status) {
  const held = status.held_up;
  if (held && held.reason === "all_reserved") {
    const until = held.until
      ? ` Reserved tickets not paid for come back from ${new Date(held.until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.`
      : " Tickets come back when shoppers ahead of you do not buy.";
    return `Everything left is reserved right now; you keep your place.${until}`;
  }
  const eta = status.eta_seconds;
  if (held && held.reason === "shop_full" && !eta) {
    return "The shop is full right now; you move up as shoppers finish.";
  }
  if (!eta) return "";
  return eta.high < 60 ? "Less than a minute to go." : `About ${minutes(eta.low)}–${minutes(eta.high)} minutes.`;
}

function tick() {
  if (status && status.state === "prequeue") {
    const left = (Date.parse(status.opens_at) - Date.now()) / 1000;
    $("countdown").textContent = clock(left);
  }
  if (status && status.state === "admitted" && status.token_expires_at) {
    $("admit-left").textContent = clock((Date.parse(status.token_expires_at) - Date.now()) / 1000);
  }
  if (status && status.state === "admitted" && status.token_expires_at && seat.map) {
    $("seats-admit-left").textContent = clock((Date.parse(status.token_expires_at) - Date.now()) / 1000);
  }
  if (seat.hold) holdTick();
  if (order && order.status === "pending") {
    $("order-expiry").textContent = `Pay within ${clock((Date.parse(order.expires_at) - Date.now()) / 1000)}.`;
  }
}

function offline(text) {
  $("offline").textContent = text;
  $("offline").hidden = !text;
}

function onStatus(next) {
  if (next.type && next.type !== "status") return;
  status = next;
  accessCode = null; // redeemed: later joins need no code
  $("access-join").disabled = false;
  offline("");
  render();
}

// Proof of work before joining: the queue may ask this browser to solve a
// challenge (a few hundred thousand SHA-256 hashes, in a Web Worker so the
// page stays responsive; WebAssembly SIMD where the browser has it; or a
// few dozen Argon2id keys when the drop asks for the memory-hard
// function). A solution joins once, so each join asks anew.
// The browser test reads the timings from here.
const pow = { runs: [] };
window.lineupPow = pow;

async function proofOfWork() {
  const path = `/api/drops/${encodeURIComponent(dropId)}/queue/challenge`;
  const { status: code, body } = await api("", path, { headers: { authorization: `Bearer ${user.token}` } });
  if (code !== 200 || !body || !body.required) return null;
  $("checking").hidden = false;
  const started = performance.now();
  try {
    const hard = Boolean(body.parameters); // the memory-hard function (PoW v2)
    const result = await new Promise((resolve, reject) => {
      const worker = new Worker("/web/pow-worker.js");
      worker.onmessage = (event) => { worker.terminate(); resolve(event.data); };
      worker.onerror = (event) => { worker.terminate(); reject(event); };
      worker.postMessage(hard
        ? { parameters: body.parameters }
        : { salt: body.salt, challenge: body.challenge, maxnumber: body.maxnumber });
    });
    if (hard) {
      if (!result.solution) return null;
      pow.runs.push({ ms: performance.now() - started, keys: result.solution.counter + 1, max: body.parameters.data.max, engine: result.engine });
      return btoa(JSON.stringify({
        challenge: { parameters: body.parameters, signature: body.signature },
        solution: result.solution,
      }));
    }
    if (result.number === null || result.number === undefined) return null;
    pow.runs.push({ ms: performance.now() - started, hashes: result.number + 1, maxnumber: body.maxnumber, engine: result.engine });
    return btoa(JSON.stringify({
      algorithm: body.algorithm, challenge: body.challenge, number: result.number,
      salt: body.salt, signature: body.signature,
    }));
  } finally {
    $("checking").hidden = true;
  }
}

async function connect() {
  // A CAPTCHA first, when this deployment and this drop ask for one: the
  // join waits for the fan to pass it, and takes the token (it is spent
  // once).
  if (settings.captcha && settings.captchaOn && !captchaToken) { askCaptcha(null); return; }
  const captcha = captchaToken;
  captchaToken = null;
  let solution = null;
  try { solution = await proofOfWork(); } catch (_) { /* the join says what is missing */ }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/drops/${encodeURIComponent(dropId)}/queue/ws`);
  socket.onopen = () => {
    const first = { token: user.token };
    if (solution) first.pow = solution;
    if (captcha) first.captcha = captcha;
    if (accessCode) first.code = accessCode;
    socket.send(JSON.stringify(first));
  };
  socket.onmessage = (event) => {
    retries = 0;
    stopPolling();
    try { onStatus(JSON.parse(event.data)); } catch (_) { /* ignore */ }
  };
  socket.onclose = (event) => {
    socket = null;
    if (event.code === 4401) { signOut(); return; }
    // An invite-only line: ask for the code (again, saying what was wrong).
    if (event.code === 4403 && accessRefusals.includes(event.reason)) {
      askForCode(event.reason);
      return;
    }
    if (event.code === 4403 && String(event.reason).startsWith("captcha_")) {
      askCaptcha(event.reason);
      return;
    }
    // Refused a place for good (revoked): say so, do not retry. A refused
    // proof of work is retried below with a fresh challenge.
    if (event.code === 4403 && !String(event.reason).startsWith("pow_")) {
      showError(say(event.reason, "You cannot join this line."));
      return;
    }
    if (event.code === 1000 || (status && status.state === "admitted")) return;
    retries += 1;
    const wait = Math.min(30, 2 ** Math.min(retries, 5));
    offline(`Connection lost. Reconnecting in ${wait} s… You keep your place.`);
    if (retries >= 2) startPolling();
    setTimeout(connect, wait * 1000);
  };
}

// ---- an invite-only line: the access code ----

const accessRefusals = ["access_required", "invalid_access_code", "access_code_used_up"];

// Shows the code form. `reason` is why the join was refused: no code yet
// (just the question), or a code that was wrong or used up (said next to
// the field, which is marked invalid and focused so a screen reader reads
// the message with it).
function askForCode(reason) {
  stopPolling();
  offline("");
  show("access");
  const input = $("access-code");
  const tried = reason !== "access_required" || accessCode !== null;
  const text = tried ? say(reason) : "";
  $("access-error").textContent = text;
  $("access-error").hidden = !text;
  input.setAttribute("aria-invalid", text ? "true" : "false");
  $("access-join").disabled = false;
  // The focus says it: the field reads its label and, described by it,
  // the message; without a message the heading.
  if (text) {
    input.focus();
    input.select();
  } else {
    $("access-title").focus();
  }
}

function submitCode(event) {
  event.preventDefault();
  const code = $("access-code").value.trim();
  if (!code) {
    $("access-error").textContent = "Enter the access code from your invitation.";
    $("access-error").hidden = false;
    $("access-code").setAttribute("aria-invalid", "true");
    $("access-code").focus();
    return;
  }
  accessCode = code;
  $("access-error").hidden = true;
  $("access-join").disabled = true;
  if (socket) socket.close(1000);
  connect();
}

// ---- the CAPTCHA (when the deployment and the drop ask for one) ----
//
// In dev mode's sandbox a labelled checkbox stands in for the widget and
// makes a token the sandbox verifier passes; otherwise the provider's
// widget (Turnstile or hCaptcha, whose script the settings name) renders
// into the slot and hands over its token.

const captchaWidget = { rendered: false, id: null };

function askCaptcha(reason) {
  // Refused for want of one: the operator turned the drop's CAPTCHA on
  // after this page loaded; later joins ask first.
  settings.captchaOn = true;
  stopPolling();
  offline("");
  show("captcha");
  const text = reason && reason !== "captcha_required" ? say(reason) : "";
  $("captcha-error").textContent = text;
  $("captcha-error").hidden = !text;
  // The sandbox's checkbox takes the focus (read with its description);
  // a provider's widget is a frame of its own, so the page says it.
  if (!settings.captcha.sandbox) announce(text || "Please confirm you are a person to join the line.");
  renderCaptcha();
}

function captchaPassed(token) {
  captchaToken = token;
  $("captcha-error").hidden = true;
  if (socket) socket.close(1000);
  connect();
}

function renderCaptcha() {
  const slot = $("captcha-slot");
  if (settings.captcha.sandbox) {
    if (!captchaWidget.rendered) {
      slot.innerHTML = `<p class="check"><input type="checkbox" id="captcha-sandbox" aria-describedby="captcha-help captcha-error">
        <label for="captcha-sandbox">I am human (sandbox check)</label></p>`;
      $("captcha-sandbox").addEventListener("change", (event) => {
        if (event.target.checked) captchaPassed(`sandbox-pass-${crypto.randomUUID()}`);
      });
      captchaWidget.rendered = true;
    }
    $("captcha-sandbox").checked = false;
    $("captcha-sandbox").focus();
    return;
  }
  const provider = () => window.turnstile || window.hcaptcha;
  const draw = () => {
    const widget = provider();
    if (!widget) return;
    if (captchaWidget.rendered) { widget.reset(captchaWidget.id); return; }
    captchaWidget.id = widget.render(slot, { sitekey: settings.captcha.siteKey, callback: captchaPassed });
    captchaWidget.rendered = true;
  };
  if (provider() || !settings.captcha.script) { draw(); return; }
  const script = document.createElement("script");
  script.src = settings.captcha.script;
  script.async = true;
  script.onload = draw;
  script.onerror = () => {
    $("captcha-error").textContent = say("captcha_unavailable");
    $("captcha-error").hidden = false;
  };
  document.head.append(script);
}

function startPolling() {
  if (pollTimer) return;
  const path = `/api/drops/${encodeURIComponent(dropId)}/queue`;
  const auth = { authorization: `Bearer ${user.token}` };
  pollTimer = setInterval(async () => {
    try {
      let { status: code, body } = await api("", path, { headers: auth });
      if (code === 404) {
        const solution = await proofOfWork();
        const headers = solution ? { ...auth, "x-pow": solution } : { ...auth };
        if (accessCode) headers["x-access-code"] = accessCode;
        if (captchaToken) headers["x-captcha"] = captchaToken;
        captchaToken = null;
        ({ status: code, body } = await api("", path, { method: "POST", headers }));
      }
      if (code === 200) onStatus(body);
      else if (body && accessRefusals.includes(body.error)) askForCode(body.error);
      else if (body && String(body.error).startsWith("captcha_")) askCaptcha(body.error);
    } catch (_) { /* still offline */ }
  }, 3000);
}

function stopPolling() {
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
}

function signOut() {
  localStorage.removeItem("lineup.user");
  user = null;
  show("signin");
}

async function loadDrop() {
  const { status: code, body } = await api(settings.saleUrl, `/api/drops/${encodeURIComponent(dropId)}`);
  if (code !== 200) {
    $("drop-name").textContent = "This drop does not exist.";
    return false;
  }
  drop = body;
  $("drop-name").textContent = drop.name;
  const price = drop.seating
    ? `Seated · from ${money(Math.min(...Object.values(drop.seating.prices)), drop.currency)}`
    : money(drop.price_cents, drop.currency);
  $("drop-line").textContent = `${price} · up to ${drop.per_user_cap} per person · opens ${new Date(drop.opens_at).toLocaleString()}`;
  if (drop.seating && drop.event_id) loadEvent(drop.event_id);
  const select = $("quantity");
  select.innerHTML = "";
  for (let n = 1; n <= drop.per_user_cap; n += 1) {
    const option = document.createElement("option");
    option.value = String(n);
    option.textContent = String(n);
    select.append(option);
  }
  $("draw-link").innerHTML = `The draw is public: <a href="/api/drops/${encodeURIComponent(dropId)}/draw">check it</a> after opening.`;
  return true;
}

async function loadOrders() {
  if (!user) return;
  const { status: code, body } = await api(settings.saleUrl, "/api/me/orders", {
    headers: { authorization: `Bearer ${user.token}` },
  });
  if (code !== 200) return;
  const rows = body.map((o) =>
    `<tr><td>${escapeHtml(o.drop_id)}</td><td>${o.quantity}</td><td>${money(o.total_cents, o.currency)}</td><td>${escapeHtml(o.status)}</td></tr>`);
  $("orders").innerHTML = rows.join("") || '<tr><td colspan="4" class="muted">No orders yet.</td></tr>';
  // Back on the page with an order of this drop still to pay: show it.
  const open = body.find((o) => o.drop_id === dropId && o.status === "pending");
  if (!order && open && drop) {
    order = open;
    closeStream();
    renderOrder();
  }
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function renderOrder() {
  show("order");
  const what = drop && drop.seating
    ? `${order.quantity} seat${order.quantity === 1 ? "" : "s"} for ${drop.name}`
    : `${order.quantity} × ${drop ? drop.name : order.drop_id}`;
  $("order-summary").textContent = `${what} — ${money(order.total_cents, order.currency)}. Status: ${order.status}.`;
  const seatsList = $("order-seats");
  seatsList.textContent = "";
  for (const label of order.seatLabels || []) {
    const li = document.createElement("li");
    li.textContent = label;
    seatsList.append(li);
  }
  seatsList.hidden = !(order.seatLabels && order.seatLabels.length);
  const pending = order.status === "pending";
  $("pay-form").hidden = !pending;
  $("order-expiry").hidden = !pending;
  const payment = order.payment;
  let text = "";
  if (order.status === "paid") text = "Paid. Thank you! Your order is confirmed.";
  else if (order.status === "expired") text = "The time to pay ran out; the order has expired.";
  else if (order.status === "refunded") text = "Your payment came after the order expired, so it has been refunded.";
  else if (order.status === "cancelled") text = "The order was cancelled.";
  else if (payment && payment.status === "processing") text = "Payment in progress…";
  else if (payment && payment.status === "declined") text = "The payment was declined. You can try another card.";
  $("order-status").textContent = text;
  $("order-status").className = order.status === "paid" ? "status-ok" : (payment && payment.status === "declined" ? "status-bad" : "");
}

async function buy(event) {
  event.preventDefault();
  showError("");
  $("buy").disabled = true;
  const quantity = Number($("quantity").value);
  const { status: code, body } = await api(settings.saleUrl, `/api/drops/${encodeURIComponent(dropId)}/orders`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${status.admission_token}`,
      "x-user-token": user.token,
      "idempotency-key": crypto.randomUUID(),
      "content-type": "application/json",
    },
    body: JSON.stringify({ quantity }),
  }).catch(() => ({ status: 0, body: { error: "unavailable" } }));
  $("buy").disabled = false;
  if (code === 201 || code === 200) {
    order = body;
    renderOrder();
    loadOrders();
  } else {
    showError(say(body && body.error, body && body.message));
  }
}

async function refreshOrder() {
  const { status: code, body } = await api(settings.saleUrl, `/api/orders/${order.id}`, {
    headers: { authorization: `Bearer ${user.token}` },
  });
  if (code === 200) {
    order = Object.assign(body, { seatLabels: order.seatLabels });
    renderOrder();
  }
  return order;
}

async function pay(event) {
  event.preventDefault();
  showError("");
  $("pay").disabled = true;
  const { status: code, body } = await api(settings.saleUrl, `/api/orders/${order.id}/pay`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
    body: JSON.stringify({ method: $("method").value }),
  }).catch(() => ({ status: 0, body: { error: "unavailable" } }));
  if (code !== 202) {
    $("pay").disabled = false;
    showError(say(body && body.error, body && body.message));
    return;
  }
  for (let i = 0; i < 120; i += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    const current = await refreshOrder();
    if (current.status !== "pending" || (current.payment && current.payment.status !== "processing")) break;
  }
  $("pay").disabled = false;
  loadOrders();
}

async function signIn(event) {
  event.preventDefault();
  const name = $("signin-name").value.trim();
  const { status: code, body } = await api("", "/api/dev/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: name }),
  });
  if (code !== 200) { showError(say(body && body.error, body && body.message)); return; }
  user = { name: body.user, token: body.token };
  localStorage.setItem("lineup.user", JSON.stringify(user));
  start();
}

function start() {
  $("who").textContent = user ? `Signed in as ${user.name}` : "";
  if (!user) {
    show(settings.dev ? "signin" : "ended");
    if (!settings.dev) {
      $("ended-title").textContent = "Please sign in";
      $("ended-text").textContent = "Sign in on the shop's site to join the line.";
    }
    return;
  }
  connect();
  loadOrders();
}

// ---- a seated sale: the seat map, holds, checkout ----
//
// The map document is immutable per version (cached by the browser for
// good), the snapshot says every seat's state at a version, and the stream
// brings each change after it. A fan holds up to the cap at a time: while a
// hold is live the map shows it as "held for you" and the side panel its
// countdown, Checkout and Release.

const seat = {
  started: false,
  map: null,            // the SeatMap component
  doc: null,            // the venue map document
  snapshot: null,       // the last snapshot (prices, cap, hold time)
  version: 0,           // the last seat version applied
  stream: null,         // EventSource
  streamRetries: 0,
  hold: null,           // the live hold {id, seats, total_cents, expires_at}
  holdEnd: 0,           // when it lapses, by this page's clock
  inFlight: 0,          // hold requests not answered yet
  busy: false,          // checkout or release under way
  timing: {},           // for the browser test: when each step happened
};
// The browser test reads the component and its timings from here.
window.lineupSeats = seat;

async function loadEvent(eventId) {
  const { status: code, body } = await api(settings.saleUrl, `/api/events/${encodeURIComponent(eventId)}`)
    .catch(() => ({ status: 0, body: null }));
  if (code !== 200) return;
  const when = new Date(body.starts_at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  const who = body.performers && body.performers.length ? `${body.performers.join(", ")} · ` : "";
  $("drop-line").textContent = `${who}${body.venue.name}, ${body.venue.city} · ${when} · ${$("drop-line").textContent}`;
}

function seatsError(text) {
  $("seats-error").textContent = text || "";
  $("seats-error").hidden = !text;
}

async function fetchSnapshot(fresh) {
  const response = await fetch(`${settings.saleUrl}/api/drops/${encodeURIComponent(dropId)}/seats`,
    fresh ? { cache: "no-store" } : {});
  if (!response.ok) throw new Error(`the seats answered ${response.status}`);
  return response.json();
}

async function startSeats() {
  if (seat.started) return;
  seat.started = true;
  seat.timing.admittedAt = performance.now();
  try {
    const snapshot = await retry(() => fetchSnapshot(false));
    seat.timing.snapshotAt = performance.now();
    const mapUrl = `${settings.saleUrl}/api/venues/${encodeURIComponent(snapshot.venue_id)}/map?version=${snapshot.map_version}`;
    const doc = await retry(async () => {
      const response = await fetch(mapUrl);
      if (!response.ok) throw new Error(`the map answered ${response.status}`);
      return response.json();
    });
    seat.timing.mapAt = performance.now();
    seat.doc = doc;
    seat.snapshot = snapshot;
    seat.version = snapshot.version;
    $("seatmap").textContent = "";
    seat.map = SeatMap.create($("seatmap"), {
      map: doc,
      states: snapshot.states,
      prices: snapshot.prices,
      currency: snapshot.currency,
      selectable: true,
      onToggle,
      onConflict: () => renderSelection(),
    });
    seat.timing.createdAt = performance.now();
    fillBestAvailable();
    renderSelection();
    if (order) return; // an order to pay was found meanwhile: no seats to follow
    openStream();
    await restoreHold();
  } catch (error) {
    seat.started = false;
    seatsError("We could not load the seat map. Reload the page to try again.");
  }
}

// Three tries, a second apart: a blip does not cost the fan their turn.
async function retry(work) {
  for (let attempt = 1; ; attempt += 1) {
    try { return await work(); } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function closeStream() {
  if (seat.stream) seat.stream.close();
  seat.stream = null;
}

// Every change after our version; `reset` when the server cannot replay
// from it. A stream that failed for good is opened again with backoff.
function openStream() {
  closeStream();
  const url = `${settings.saleUrl}/api/drops/${encodeURIComponent(dropId)}/seats/stream?after=${seat.version}`;
  const stream = new EventSource(url);
  seat.stream = stream;
  stream.addEventListener("seats", (event) => {
    const data = JSON.parse(event.data);
    if (data.version <= seat.version) return;
    seat.version = data.version;
    seat.map.applyChanges(data.changes);
  });
  stream.addEventListener("reset", () => refreshStates());
  stream.onopen = () => {
    seat.streamRetries = 0;
    $("seats-live").textContent = "";
  };
  stream.onerror = () => {
    if (seat.stream !== stream) return;
    $("seats-live").textContent = "Live seat updates interrupted; reconnecting…";
    if (stream.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    seat.streamRetries += 1;
    const wait = Math.min(30, 2 ** Math.min(seat.streamRetries, 5));
    setTimeout(() => { if (seat.stream === stream) { refreshStates(); openStream(); } }, wait * 1000);
  };
}

async function refreshStates() {
  try {
    const snapshot = await fetchSnapshot(true);
    if (snapshot.version <= seat.version) return; // nothing newer than what we show
    seat.version = snapshot.version;
    seat.snapshot = snapshot;
    seat.map.setStates(snapshot.states);
    renderSelection();
  } catch (_) { /* the stream brings the changes anyway */ }
}

function cap() {
  return seat.snapshot ? seat.snapshot.per_user_cap : drop.per_user_cap;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function onToggle(index, selected, info) {
  if (info.mine) {
    seat.map.announce("This seat is held for you. Check out, or release your seats to choose others.");
    return false;
  }
  if (seat.hold || seat.inFlight) {
    seat.map.announce("You are holding seats already. Check out, or release them to choose others.");
    return false;
  }
  if (selected && seat.map.getSelected().length >= cap()) {
    seat.map.announce(`You can choose up to ${plural(cap(), "seat")}.`);
    return false;
  }
  queueMicrotask(renderSelection);
  return true;
}

// Prices in the seat panel as the map says them ("€89", "€89.50").
function seatMoney(cents) {
  const currency = seat.snapshot.currency;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, trailingZeroDisplay: "stripIfInteger" }).format(cents / 100);
  } catch (_) {
    return money(cents, currency);
  }
}

function seatLine(info) {
  return `${info.label} — ${info.price === null ? "" : seatMoney(info.price)}`;
}

function renderSelection() {
  if (!seat.map) return;
  const picked = seat.map.getSelected().map((i) => seat.map.seat(i));
  const list = $("picked");
  list.textContent = "";
  let total = 0;
  for (const info of picked) {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = seatLine(info);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${info.label}`);
    remove.addEventListener("click", () => {
      seat.map.setSelected(seat.map.getSelected().filter((i) => i !== info.index));
      renderSelection();
      focusAfterChange();
    });
    li.append(text, remove);
    list.append(li);
    total += info.price || 0;
  }
  $("picked-empty").hidden = picked.length > 0;
  $("seats-cap").textContent = String(cap());
  $("picked-total").textContent = picked.length ? seatMoney(total) : "–";
  $("bar-count").textContent = picked.length === 1 ? "1 seat" : picked.length ? `${picked.length} seats` : "No seats yet";
  $("bar-total").textContent = $("picked-total").textContent;
  renderButtons();
}

// The Hold button the fan sees: the panel's, or on a phone the bar's.
const phoneWidth = window.matchMedia("(max-width: 52rem)");
function holdButton() {
  return phoneWidth.matches ? $("bar-hold") : $("hold");
}

// Focus goes where the fan can carry on: the Hold button, or the map when
// there is nothing to hold.
function focusAfterChange() {
  if (!holdButton().disabled) holdButton().focus();
  else $("seatmap").querySelector("[role=listbox]").focus();
}

function renderButtons() {
  const picked = seat.map ? seat.map.getSelected().length : 0;
  for (const button of [$("hold"), $("bar-hold")]) {
    button.disabled = picked === 0 || seat.inFlight > 0 || Boolean(seat.hold);
    button.textContent = seat.inFlight ? "Holding your seats…" : "Hold these seats";
  }
  // The phone's bar shows while there is something to hold or holding.
  $("seat-bar").classList.toggle("idle", Boolean(seat.hold) || (picked === 0 && !seat.inFlight));
  $("best").disabled = seat.inFlight > 0 || Boolean(seat.hold);
  // Checkout waits for every hold request still in flight.
  $("checkout").disabled = !seat.hold || seat.inFlight > 0 || seat.busy;
  $("release").disabled = !seat.hold || seat.busy;
}

function fillBestAvailable() {
  const quantity = $("best-quantity");
  quantity.textContent = "";
  for (let n = 1; n <= Math.min(cap(), 10); n += 1) quantity.add(new Option(String(n), String(n), n === 2, n === 2));
  const category = $("best-category");
  category.textContent = "";
  for (const c of seat.doc.categories) {
    if (!(c.id in seat.snapshot.prices)) continue;
    category.add(new Option(`${c.name} (${seatMoney(seat.snapshot.prices[c.id])})`, c.id));
  }
}

function categoryName(id) {
  const found = seat.doc.categories.find((c) => c.id === id);
  return found ? found.name : id;
}

// POST /holds with a fresh Idempotency-Key, sent again with the same key
// once if the network failed (the first may have been decided).
async function postHold(body) {
  const key = crypto.randomUUID();
  const send = () => api(settings.saleUrl, `/api/drops/${encodeURIComponent(dropId)}/holds`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${status.admission_token}`,
      "x-user-token": user.token,
      "idempotency-key": key,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
  try { return await send(); } catch (_) {
    try { return await send(); } catch (__) { return { status: 0, body: { error: "unavailable" } }; }
  }
}

async function holdSeats(body, picked) {
  seatsError("");
  seat.inFlight += 1;
  renderButtons();
  // Our own seats turning "held" on the stream before the answer are not
  // someone else taking them: they are ours while the request is out.
  if (picked.length) seat.map.setMine(picked);
  const sentAt = Date.now();
  const { status: code, body: answer } = await postHold(body);
  seat.inFlight -= 1;
  if (code === 201 || code === 200) {
    setHold(answer, sentAt);
    return;
  }
  seat.map.setMine([]);
  const error = answer && answer.error;
  if (error === "seats_taken") {
    const taken = (answer.taken || []).map((id) => seat.map.indexOf(id)).filter((i) => i >= 0);
    seat.map.setSelected(picked.filter((i) => !taken.includes(i)));
    const names = taken.map((i) => seat.map.seat(i).label);
    const text = names.length
      ? `${names.join("; ")} ${names.length === 1 ? "was" : "were"} just taken by someone else. Choose other seats.`
      : "Some of these seats were just taken by someone else. Choose other seats.";
    seatsError(text);
    seat.map.announce(""); // the alert says it; the old "Selected: …" goes
    await refreshStates();
    // The server said so: drawn taken now, even if this process's copy of
    // the seats has not caught up yet (the stream confirms it).
    const behind = taken.filter((i) => seat.map.seat(i).state === "f");
    if (behind.length) seat.map.applyChanges(behind.map((i) => [i, "h"]));
  } else if (error === "no_adjacent_seats") {
    const wanted = body.best_available;
    seatsError(`There are no ${wanted.quantity} seats together in ${categoryName(wanted.category)} right now. Try fewer seats or another category.`);
  } else {
    if (picked.length) seat.map.setSelected(picked);
    seatsError(say(error, answer && answer.message));
  }
  renderSelection();
}

function holdPicked() {
  const picked = seat.map.getSelected();
  if (!picked.length || seat.inFlight || seat.hold) return;
  holdSeats({ seats: picked.map((i) => seat.map.seat(i).id) }, picked);
}

function holdBest(event) {
  event.preventDefault();
  if (seat.inFlight || seat.hold) return;
  seat.map.setSelected([]);
  holdSeats({ best_available: { quantity: Number($("best-quantity").value), category: $("best-category").value } }, []);
}

// The countdown runs from when the hold was made: the hold time the server
// gave it, counted from when this page asked (never later than that), so a
// clock that differs from the server's does not stretch it. A reloaded page
// finds that end again in sessionStorage, or uses the hold's expires_at.
function setHold(hold, sentAt) {
  seat.hold = hold;
  const key = `lineup.hold.${hold.id}`;
  const saved = Number(sessionStorage.getItem(key));
  if (sentAt) {
    seat.holdEnd = sentAt + (Date.parse(hold.expires_at) - Date.parse(hold.created_at));
    sessionStorage.setItem(key, String(seat.holdEnd));
  } else {
    seat.holdEnd = saved || Date.parse(hold.expires_at);
  }
  const indices = hold.seats.map((id) => seat.map.indexOf(id)).filter((i) => i >= 0);
  seat.map.setMine(indices);
  seat.map.setSelected([]);
  const list = $("held");
  list.textContent = "";
  for (const i of indices) {
    const li = document.createElement("li");
    li.textContent = seatLine(seat.map.seat(i));
    list.append(li);
  }
  $("held-total").textContent = seatMoney(hold.total_cents);
  $("pick-box").hidden = true;
  $("hold-box").hidden = false;
  holdTick();
  const minutesLeft = Math.max(1, Math.round((seat.holdEnd - Date.now()) / 60000));
  const said = `${plural(indices.length, "seat")} held for you for ${plural(minutesLeft, "minute")}. Check out to buy them.`;
  seat.map.announce(said);
  renderSelection();
  $("hold-title").focus();
}

function clearHold(message) {
  if (seat.hold) sessionStorage.removeItem(`lineup.hold.${seat.hold.id}`);
  seat.hold = null;
  seat.holdEnd = 0;
  seat.map.setMine([]);
  $("pick-box").hidden = false;
  $("hold-box").hidden = true;
  seatsError(message || "");
  renderSelection();
}

function holdTick() {
  const left = (seat.holdEnd - Date.now()) / 1000;
  $("hold-left").textContent = clock(left);
  if (left <= 0 && !seat.busy) {
    clearHold(say("hold_lapsed"));
    refreshStates();
  }
}

async function restoreHold() {
  const { status: code, body } = await api(settings.saleUrl, `/api/drops/${encodeURIComponent(dropId)}/holds/mine`, {
    headers: { authorization: `Bearer ${user.token}` },
  }).catch(() => ({ status: 0, body: null }));
  if (code !== 200 || !Array.isArray(body) || !body.length || seat.hold) return;
  const newest = body.reduce((a, b) => (Date.parse(b.created_at) > Date.parse(a.created_at) ? b : a));
  setHold(newest, 0);
}

async function checkout() {
  if (!seat.hold || seat.inFlight || seat.busy) return;
  seatsError("");
  seat.busy = true;
  renderButtons();
  const hold = seat.hold;
  const labels = hold.seats.map((id) => seat.map.seat(seat.map.indexOf(id)).label);
  const { status: code, body } = await api(settings.saleUrl, `/api/drops/${encodeURIComponent(dropId)}/orders`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${status.admission_token}`,
      "x-user-token": user.token,
      // One order per hold: a retry or a double click gets the same order.
      "idempotency-key": `hold-${hold.id}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ hold_id: hold.id }),
  }).catch(() => ({ status: 0, body: { error: "unavailable" } }));
  seat.busy = false;
  if (code === 201 || code === 200) {
    sessionStorage.removeItem(`lineup.hold.${hold.id}`);
    seat.hold = null;
    closeStream();
    order = Object.assign(body, { seatLabels: labels });
    renderOrder();
    announce("Your seats are reserved. Pay to confirm them.");
    $("order-title").focus();
    loadOrders();
    return;
  }
  const error = body && body.error;
  if (error === "hold_lapsed" || error === "unknown_hold") {
    clearHold(say("hold_lapsed"));
    refreshStates();
  } else {
    seatsError(say(error, body && body.message));
    renderButtons();
  }
}

async function release() {
  if (!seat.hold || seat.busy) return;
  seatsError("");
  seat.busy = true;
  renderButtons();
  const { status: code, body } = await api(settings.saleUrl, `/api/holds/${encodeURIComponent(seat.hold.id)}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${user.token}` },
  }).catch(() => ({ status: 0, body: { error: "unavailable" } }));
  seat.busy = false;
  if (code === 200 || (body && body.error === "hold_not_live")) {
    clearHold("");
    announce("Your seats were released. You can choose again.");
    seat.map.announce("Your seats were released. You can choose again.");
    focusAfterChange();
  } else {
    seatsError(say(body && body.error, body && body.message));
    renderButtons();
  }
}

$("signin-form").addEventListener("submit", signIn);
$("buy-form").addEventListener("submit", buy);
$("access-form").addEventListener("submit", submitCode);
$("pay-form").addEventListener("submit", pay);
$("hold").addEventListener("click", holdPicked);
$("bar-hold").addEventListener("click", holdPicked);
$("best-form").addEventListener("submit", holdBest);
$("checkout").addEventListener("click", checkout);
$("release").addEventListener("click", release);
setInterval(tick, 250);
loadDrop().then((found) => { if (found) start(); });
