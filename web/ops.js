// The operator console: sign in with the operator key, list, create and
// control drops, and watch one drop's live numbers. Plain JavaScript.
"use strict";

const $ = (id) => document.getElementById(id);
let key = sessionStorage.getItem("lineup.operator") || "";
let current = null;   // the drop on the dashboard
let history = [];     // [{t, sold, pending, admitted}]
let timer = null;

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
  $("c-opens").value = new Date(opens.getTime() - opens.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  loadDrops();
}

async function loadDrops() {
  const { status, body } = await api("/api/drops");
  if (status !== 200) { showError("Could not list the drops."); return; }
  $("drops").innerHTML = body.map((d) => `<tr>
      <td>${escapeHtml(d.name)} <span class="muted">(${escapeHtml(d.id)})</span></td>
      <td>${escapeHtml(d.state)}</td><td>${d.stock}</td><td>${d.remaining}</td>
      <td>${new Date(d.opens_at).toLocaleString()}</td>
      <td><button type="button" class="secondary" data-drop="${escapeHtml(d.id)}">Dashboard</button></td></tr>`).join("")
    || '<tr><td colspan="6" class="muted">No drops yet.</td></tr>';
  for (const button of $("drops").querySelectorAll("button[data-drop]")) {
    button.addEventListener("click", () => openDashboard(button.dataset.drop));
  }
}

function fieldError(form) {
  for (const input of form.querySelectorAll("input")) {
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

$("signin-form").addEventListener("submit", signIn);
$("create-form").addEventListener("submit", create);
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
$("signout").addEventListener("click", () => { sessionStorage.removeItem("lineup.operator"); location.reload(); });
if (key) signIn();
