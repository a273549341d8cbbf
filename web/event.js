// An event's page (/events/{id}): the venue, performers, the date in the
// venue's time zone, each sale with its state, and the way into the line
// (the fan page of the sale, FAN_PAGE_URL).

import { localTime } from "/web/when.js";

const $ = (id) => document.getElementById(id);
const settings = JSON.parse($("settings").textContent || "{}");
const id = decodeURIComponent(location.pathname.split("/").pop() || "");

const SALE_STATES = {
  open: "On sale now: join the line",
  scheduled: "The line opens",
  paused: "Paused for a moment",
  sold_out: "Sold out",
  closed: "Closed",
};

function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

function prices(sale) {
  const all = sale.seating ? Object.values(sale.seating.prices) : [sale.price_cents];
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  return lo === hi ? money(lo, sale.currency) : `${money(lo, sale.currency)} – ${money(hi, sale.currency)}`;
}

function saleItem(sale, timeZone) {
  const li = document.createElement("li");
  const text = document.createElement("div");
  const name = document.createElement("strong");
  name.textContent = sale.name;
  const state = document.createElement("p");
  state.className = "num";
  state.textContent = sale.state === "scheduled"
    ? `${SALE_STATES.scheduled} ${localTime(sale.opens_at, timeZone)}`
    : SALE_STATES[sale.state] || sale.state;
  const price = document.createElement("p");
  price.textContent = prices(sale);
  text.append(name, state, price);
  li.append(text);
  if (sale.state === "open" || sale.state === "scheduled" || sale.state === "paused") {
    const a = document.createElement("a");
    a.className = "button";
    a.href = (settings.fan_page_url || "/drops/{drop}").replace("{drop}", encodeURIComponent(sale.id));
    a.textContent = sale.state === "open" ? "Join the line" : "Wait in the pre-queue";
    a.setAttribute("aria-label", `${a.textContent} for ${sale.name}`);
    li.append(a);
  }
  return li;
}

async function load() {
  try {
    const response = await fetch(`/api/events/${encodeURIComponent(id)}`);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(response.status === 404 ? "There is no such event." : (body.message || "The event could not be loaded."));
    document.title = `Lineup — ${body.name}`;
    $("name").textContent = body.name;
    $("performers").textContent = body.performers.join(", ");
    $("when").textContent = localTime(body.starts_at, body.venue.timezone);
    const address = body.venue.address ? `, ${body.venue.address}` : "";
    $("where").textContent = `${body.venue.name}${address}, ${body.venue.city} (${body.venue.country})`;
    $("genre").textContent = body.genre || "—";
    $("status").textContent = body.status.replace("_", " ");
    $("description").textContent = body.description;
    $("event").hidden = false;
    const sales = body.sales.filter((s) => s.state !== "closed");
    $("sales").replaceChildren(...sales.map((s) => saleItem(s, body.venue.timezone)));
    $("no-sales").hidden = sales.length > 0;
    $("sales-card").hidden = false;
  } catch (error) {
    $("name").textContent = "Event not available";
    $("error").textContent = error.message && !/fetch/i.test(error.message) ? error.message : "The event could not be loaded. Please try again in a moment.";
    $("error").hidden = false;
  }
}

load();
