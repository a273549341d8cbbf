// The event search (/events), the fan side's home: a search box with
// suggestions as you type (a combobox: arrows, Enter, Escape), filters, the
// results with dates in each venue's own time zone, "Load more" with the
// API's cursor, and plain words when nothing matches or the search fails.
// The query lives in the URL, so a search can be shared and Back works.

import { localTime } from "/web/when.js";

const $ = (id) => document.getElementById(id);
const form = $("search");
const input = $("q");
const list = $("suggestions");
const results = $("results");
const statusLine = $("status");
const more = $("more");
const errorBox = $("error");
const FIELDS = ["q", "city", "genre", "from", "to", "sort", "on_sale"];

let cursor = null;
let shown = 0;
let lastQuery = "";
let controller = null;

const STATES = {
  on_sale: "On sale now",
  not_yet_open: "Sale opens soon",
  sold_out: "Sold out",
  none: "No tickets yet",
};

function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

function params() {
  const p = new URLSearchParams();
  for (const name of FIELDS) {
    const el = $(name);
    if (el.type === "checkbox") {
      if (el.checked) p.set(name, "true");
    } else if (el.value.trim()) {
      p.set(name, el.value.trim());
    }
  }
  return p;
}

function fill(p) {
  for (const name of FIELDS) {
    const el = $(name);
    if (el.type === "checkbox") el.checked = p.get(name) === "true";
    else el.value = p.get(name) || "";
  }
  if (["city", "genre", "from", "to", "sort", "on_sale"].some((n) => p.get(n))) $("filters").open = true;
}

function say(text) {
  statusLine.textContent = text;
}

function showError(text) {
  $("error-text").textContent = text;
  errorBox.hidden = false;
}

function card(hit) {
  const li = document.createElement("li");
  li.className = "result";
  const h = document.createElement("h2");
  const a = document.createElement("a");
  a.href = `/events/${encodeURIComponent(hit.id)}`;
  a.textContent = hit.name;
  h.append(a);
  const who = document.createElement("p");
  who.textContent = hit.performers.join(", ");
  const where = document.createElement("p");
  const distance = hit.distance_km != null ? ` · ${hit.distance_km.toFixed(1)} km away` : "";
  where.textContent = `${hit.venue.name}, ${hit.venue.city}${distance}`;
  const when = document.createElement("p");
  when.className = "num";
  when.textContent = localTime(hit.starts_at, hit.venue.timezone);
  const sale = document.createElement("p");
  const badge = document.createElement("span");
  badge.className = `badge ${hit.sale.state}`;
  badge.textContent = STATES[hit.sale.state] || hit.sale.state;
  sale.append(badge);
  if (hit.price) {
    const price = hit.price.min_cents === hit.price.max_cents
      ? money(hit.price.min_cents, hit.price.currency)
      : `${money(hit.price.min_cents, hit.price.currency)} – ${money(hit.price.max_cents, hit.price.currency)}`;
    sale.append(` ${price}`);
  }
  if (hit.status === "postponed" || hit.status === "cancelled") sale.append(` · ${hit.status}`);
  li.append(h, who, where, when, sale);
  return li;
}

function facets(f) {
  const box = $("facets");
  box.replaceChildren();
  if (!f || $("city").value.trim()) return;
  for (const c of f.city.slice(0, 6)) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = `${c.value} (${c.count}${f.complete ? "" : "+"})`;
    b.setAttribute("aria-label", `Only ${c.value}: ${c.count}${f.complete ? "" : " or more"} events`);
    b.addEventListener("click", () => {
      $("city").value = c.value;
      run(true);
    });
    box.append(b);
  }
}

async function fetchPage(query) {
  if (controller) controller.abort();
  controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 8000);
  try {
    const response = await fetch(`/api/events?${query}`, { signal: controller.signal, headers: { accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.message || `The search failed (${response.status}).`);
      error.plain = response.status === 400;
      throw error;
    }
    return body;
  } finally {
    clearTimeout(timer);
  }
}

async function run(fresh) {
  closeList();
  errorBox.hidden = true;
  const p = params();
  if (fresh) {
    cursor = null;
    shown = 0;
    lastQuery = p.toString();
    const url = lastQuery ? `/events?${lastQuery}` : "/events";
    if (location.pathname + location.search !== url) history.pushState(null, "", url);
  }
  const query = new URLSearchParams(lastQuery);
  if (cursor) query.set("cursor", cursor);
  results.setAttribute("aria-busy", "true");
  more.disabled = true;
  say(fresh ? "Searching…" : "Loading more…");
  try {
    const body = await fetchPage(query.toString());
    if (fresh) results.replaceChildren();
    for (const hit of body.events) results.append(card(hit));
    shown += body.events.length;
    cursor = body.next_cursor;
    more.hidden = !cursor;
    if (body.facets) facets(body.facets);
    const corrected = body.corrected ? ` Showing results for “${body.corrected}”.` : "";
    if (shown === 0) {
      say(`No events match.${corrected} Try fewer words, another spelling, or remove a filter.`);
    } else {
      say(`${shown}${cursor ? "+" : ""} ${shown === 1 ? "event" : "events"}.${corrected}`);
    }
  } catch (error) {
    if (error.name === "AbortError" && controller && !controller.signal.aborted) return;
    say("");
    showError(error.plain ? error.message : "Search is not available right now. Please try again in a moment.");
  } finally {
    results.setAttribute("aria-busy", "false");
    more.disabled = false;
  }
}

// Suggestions: a listbox under the box, asked at most every 150 ms.
let suggestTimer = null;
let active = -1;

function closeList() {
  list.hidden = true;
  list.replaceChildren();
  input.setAttribute("aria-expanded", "false");
  input.removeAttribute("aria-activedescendant");
  active = -1;
}

function highlight(i) {
  const items = [...list.children];
  items.forEach((li, k) => li.setAttribute("aria-selected", String(k === i)));
  active = i;
  if (items[i]) input.setAttribute("aria-activedescendant", items[i].id);
  else input.removeAttribute("aria-activedescendant");
}

function choose(li) {
  if (li.dataset.kind === "city") {
    $("city").value = li.dataset.label;
    input.value = "";
  } else {
    input.value = li.dataset.label;
  }
  run(true);
}

async function suggest() {
  const text = input.value.trim();
  if (text.length < 2) return closeList();
  try {
    const response = await fetch(`/api/events/suggest?${new URLSearchParams({ q: text })}`);
    if (!response.ok || input.value.trim() !== text) return;
    const body = await response.json();
    list.replaceChildren();
    body.suggestions.forEach((s, i) => {
      const li = document.createElement("li");
      li.id = `suggestion-${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.kind = s.kind;
      li.dataset.label = s.label;
      const label = document.createElement("span");
      label.textContent = s.label;
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = s.kind;
      li.append(label, kind);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(li); });
      list.append(li);
    });
    const open = body.suggestions.length > 0;
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    active = -1;
  } catch {
    closeList();
  }
}

input.addEventListener("input", () => {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(suggest, 150);
});
input.addEventListener("keydown", (e) => {
  const n = list.children.length;
  if (e.key === "ArrowDown" && n) { e.preventDefault(); highlight((active + 1) % n); }
  else if (e.key === "ArrowUp" && n) { e.preventDefault(); highlight((active - 1 + n) % n); }
  else if (e.key === "Escape") closeList();
  else if (e.key === "Enter" && active >= 0 && !list.hidden) { e.preventDefault(); choose(list.children[active]); }
});
input.addEventListener("blur", () => setTimeout(closeList, 100));
form.addEventListener("submit", (e) => { e.preventDefault(); run(true); });
more.addEventListener("click", () => run(false));
$("retry").addEventListener("click", () => run(!cursor));
window.addEventListener("popstate", () => { fill(new URLSearchParams(location.search)); run(false); });

fill(new URLSearchParams(location.search));
lastQuery = params().toString();
run(true);
