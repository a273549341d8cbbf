// The fan's page: wait in line over a WebSocket (polling when it cannot),
// then buy and pay in the sale service. Plain JavaScript, no build step.
"use strict";

const settings = JSON.parse(document.getElementById("settings").textContent);
const dropId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const $ = (id) => document.getElementById(id);
const sections = ["signin", "prequeue", "waiting", "paused", "ended", "admitted", "order"];

let user = JSON.parse(localStorage.getItem("lineup.user") || "null");
let drop = null;          // the sale service's view of the drop
let status = null;        // the last status from the queue
let firstPosition = null; // for the progress bar
let lastAnnounced = 0;
let order = null;
let socket = null;
let retries = 0;
let pollTimer = null;

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
};

function say(code, fallback) {
  return plainErrors[code] || fallback || "Something went wrong. Please try again.";
}

function show(...visible) {
  for (const id of sections) $(id).hidden = !visible.includes(id);
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
    if (!order) {
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
  offline("");
  render();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/drops/${encodeURIComponent(dropId)}/queue/ws`);
  socket.onopen = () => socket.send(JSON.stringify({ token: user.token }));
  socket.onmessage = (event) => {
    retries = 0;
    stopPolling();
    try { onStatus(JSON.parse(event.data)); } catch (_) { /* ignore */ }
  };
  socket.onclose = (event) => {
    socket = null;
    if (event.code === 4401) { signOut(); return; }
    if (event.code === 1000 || (status && status.state === "admitted")) return;
    retries += 1;
    const wait = Math.min(30, 2 ** Math.min(retries, 5));
    offline(`Connection lost. Reconnecting in ${wait} s… You keep your place.`);
    if (retries >= 2) startPolling();
    setTimeout(connect, wait * 1000);
  };
}

function startPolling() {
  if (pollTimer) return;
  const path = `/api/drops/${encodeURIComponent(dropId)}/queue`;
  const auth = { authorization: `Bearer ${user.token}` };
  pollTimer = setInterval(async () => {
    try {
      let { status: code, body } = await api("", path, { headers: auth });
      if (code === 404) ({ status: code, body } = await api("", path, { method: "POST", headers: auth }));
      if (code === 200) onStatus(body);
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
  $("drop-line").textContent = `${money(drop.price_cents, drop.currency)} · up to ${drop.per_user_cap} per person · opens ${new Date(drop.opens_at).toLocaleString()}`;
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
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function renderOrder() {
  show("order");
  $("order-summary").textContent = `${order.quantity} × ${drop ? drop.name : order.drop_id} — ${money(order.total_cents, order.currency)}. Status: ${order.status}.`;
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
    order = body;
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

$("signin-form").addEventListener("submit", signIn);
$("buy-form").addEventListener("submit", buy);
$("pay-form").addEventListener("submit", pay);
setInterval(tick, 250);
loadDrop().then((found) => { if (found) start(); });
