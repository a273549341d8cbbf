// Browser tests of the Lineup pages: Debian's Chromium (headless) driven by
// playwright-core, each page checked with axe-core, screenshots of every
// page at phone and desktop width written to web/tests/artifacts/.
//
// Expects running services (scripts/browser-test starts them):
//   QUEUE_URL, SALE_URL, OPERATOR_API_KEY, ADMISSION_MINT (a command that
//   prints an admission token for "<user> <drop>"), CHROMIUM (optional).
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { strict as assert } from "node:assert";

const QUEUE = process.env.QUEUE_URL;
const SALE = process.env.SALE_URL;
const KEY = process.env.OPERATOR_API_KEY;
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
const AXE = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1280, height: 900 };
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let failures = 0;

async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failures += 1;
    console.log(`FAIL ${name}: ${error.stack || error}`);
  }
}

async function shoot(page, name) {
  for (const [label, size] of [["phone", PHONE], ["desktop", DESKTOP]]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${ARTIFACTS}${name}-${label}.png`, fullPage: true });
  }
  await page.setViewportSize(PHONE);
}

async function accessible(page, name) {
  // Evaluated through the DevTools protocol: the pages' Content-Security-
  // Policy (which forbids inline scripts) stays on while axe runs.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`), [], `${name}: accessibility`);
}

function isoIn(seconds) {
  return new Date(Date.now() + seconds * 1000).toISOString();
}

async function sale(path, options = {}) {
  const response = await fetch(SALE + path, {
    ...options,
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...(options.headers || {}) },
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

// Content-Security-Policy violations seen by any page: the pages must work
// under their own policy, so each one fails the run.
const cspViolations = [];

function watchErrors(page, name) {
  page.on("pageerror", (error) => console.log(`  [${name}] page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    console.log(`  [${name}] console: ${message.text()}`);
    if (message.text().includes("Content Security Policy")) cspViolations.push(`${name}: ${message.text()}`);
  });
}

async function operatorPage() {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  watchErrors(page, "ops");
  await page.goto(`${SALE}/ops`);
  await page.getByLabel("Operator key").fill(KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Drops" }).waitFor();
  return page;
}

async function fanPage(name, drop) {
  const context = await browser.newContext({ viewport: PHONE });
  const page = await context.newPage();
  watchErrors(page, name);
  page.setDefaultTimeout(30000);
  await page.goto(`${QUEUE}/drops/${drop}`);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Join the line" }).click();
  return page;
}

const stamp = Date.now().toString(36);
const dropA = `browser-a-${stamp}`;
const dropB = `browser-b-${stamp}`;
let ops;

await step("the operator signs in and creates a drop in the validating form", async () => {
  ops = await operatorPage();
  await accessible(ops, "ops sign-in");
  await ops.locator("summary", { hasText: "Create a drop" }).click();
  // An invalid form is refused with a clear message and creates nothing.
  await ops.getByLabel("Id (letters, digits, dashes)", { exact: true }).fill("Bad Id!");
  await ops.getByRole("button", { name: "Create" }).click();
  await ops.getByRole("alert").filter({ hasText: "Id" }).waitFor();
  await ops.getByLabel("Id (letters, digits, dashes)", { exact: true }).fill(dropA);
  await ops.getByLabel("Name", { exact: true }).fill("Browser sneakers");
  await ops.getByLabel("Stock", { exact: true }).fill("10");
  const opens = new Date(Date.now() + 15000);
  const local = new Date(opens.getTime() - opens.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  await ops.getByLabel("Opens at", { exact: true }).fill(local);
  await ops.getByLabel("Admission rate (fans per second)", { exact: true }).fill("5");
  await ops.getByRole("button", { name: "Create" }).click();
  await ops.getByText(`Drop ${dropA} created.`).waitFor();
  await ops.getByRole("heading", { name: `Dashboard: ${dropA}` }).waitFor();
  await shoot(ops, "ops-dashboard");
  await accessible(ops, "ops dashboard");
});

await step("a fan joins before opening, is admitted, buys 2, pays, and is refused a third", async () => {
  const fan = await fanPage("alice", dropA);
  await fan.getByRole("heading", { name: "The line opens in" }).waitFor();
  await fan.getByText("Places are drawn at random").waitFor();
  await fan.waitForFunction(() => /^\d\d:\d\d$/.test(document.getElementById("countdown").textContent));
  await shoot(fan, "fan-prequeue");
  await accessible(fan, "fan pre-queue");
  await fan.getByRole("heading", { name: "It's your turn!" }).waitFor({ timeout: 90000 });
  await shoot(fan, "fan-admitted");
  await accessible(fan, "fan admitted");
  await fan.getByLabel("How many?").selectOption("2");
  await fan.getByRole("button", { name: "Buy" }).click();
  await fan.getByText("Status: pending").waitFor();
  await fan.getByText(/Pay within \d/).waitFor();
  await shoot(fan, "fan-order");
  await fan.getByLabel("Payment method (sandbox)").selectOption("card_ok");
  await fan.getByRole("button", { name: "Pay" }).click();
  await fan.getByText("Paid. Thank you!").waitFor();
  await shoot(fan, "fan-paid");
  await fan.getByRole("cell", { name: "paid" }).waitFor();
  // Back to the shop: a third unit is over the cap, said in plain words.
  await fan.reload();
  await fan.getByRole("heading", { name: "It's your turn!" }).waitFor();
  await fan.getByLabel("How many?").selectOption("1");
  await fan.getByRole("button", { name: "Buy" }).click();
  await fan.getByRole("alert").filter({ hasText: "You have reached the limit per person" }).waitFor();
  await fan.context().close();
});

await step("a second fan waits while the operator pauses and resumes admission", async () => {
  const created = await sale("/api/drops", {
    method: "POST",
    body: JSON.stringify({ id: dropB, name: "Paused drop", stock: 5, price_cents: 1000, currency: "EUR",
      opens_at: isoIn(4), admission_rate_per_sec: 5, max_active: 10 }),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await sale(`/api/drops/${dropB}`, { method: "PATCH", body: JSON.stringify({ state: "paused" }) })).status, 200);
  const fan = await fanPage("bob", dropB);
  await fan.getByRole("heading", { name: "Admission is paused" }).waitFor({ timeout: 30000 });
  await shoot(fan, "fan-paused");
  await accessible(fan, "fan paused");
  // The operator resumes from the console.
  await ops.goto(`${SALE}/ops`);
  await ops.getByRole("button", { name: "Dashboard" }).first().waitFor();
  await ops.locator(`button[data-drop="${dropB}"]`).click();
  await ops.getByRole("heading", { name: `Dashboard: ${dropB}` }).waitFor();
  await ops.getByRole("button", { name: "Resume" }).click();
  await ops.getByText("Admission resumed.").waitFor();
  await fan.getByRole("heading", { name: "It's your turn!" }).waitFor({ timeout: 30000 });
  await fan.context().close();
});

await step("the operator watches the dashboard move while a small load runs", async () => {
  await ops.locator(`button[data-drop="${dropA}"]`).click();
  await ops.getByRole("heading", { name: `Dashboard: ${dropA}` }).waitFor();
  const pending = ops.locator(".stat", { hasText: "Pending" }).locator(".value");
  const before = Number(await pending.textContent());
  for (let n = 0; n < 4; n += 1) {
    const token = execFileSync("sh", ["-c", `${process.env.ADMISSION_MINT} load-${n} ${dropA}`]).toString().trim();
    const response = await fetch(`${SALE}/api/drops/${dropA}/orders`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "idempotency-key": `load-${n}`, "content-type": "application/json" },
      body: JSON.stringify({ quantity: 1 }),
    });
    assert.equal(response.status, 201);
  }
  await ops.waitForFunction((b) => Number(document.querySelector("#d-stats .stat:nth-child(5) .value").textContent) >= b + 4, before, { timeout: 10000 });
  await ops.getByRole("button", { name: "Pause" }).click();
  await ops.getByText("State: paused").waitFor();
  await ops.getByRole("button", { name: "Resume" }).click();
  await ops.getByText("State: open").waitFor();
  await ops.getByLabel("Add stock", { exact: true }).fill("5");
  await ops.getByRole("button", { name: "Add" }).click();
  await ops.getByText("Stock added.").waitFor();
  await shoot(ops, "ops-dashboard-load");
});

await step("a fan is told plainly when everything left is reserved", async () => {
  const drop = `browser-r-${stamp}`;
  const created = await sale("/api/drops", {
    method: "POST",
    body: JSON.stringify({ id: drop, name: "Reserved out", stock: 1, price_cents: 1000, currency: "EUR",
      opens_at: isoIn(-60), admission_rate_per_sec: 5 }),
  });
  assert.equal(created.status, 201);
  const token = execFileSync("sh", ["-c", `${process.env.ADMISSION_MINT} early-bird ${drop}`]).toString().trim();
  const ordered = await fetch(`${SALE}/api/drops/${drop}/orders`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "idempotency-key": "early", "content-type": "application/json" },
    body: JSON.stringify({ quantity: 1 }),
  });
  assert.equal(ordered.status, 201);
  const fan = await fanPage("dora", drop);
  await fan.getByText("Everything left is reserved right now; you keep your place.").waitFor();
  await fan.getByText(/Reserved tickets not paid for come back from/).waitFor();
  await accessible(fan, "fan all reserved");
  await shoot(fan, "fan-all-reserved");
  await fan.context().close();
});

await step("no page broke its Content-Security-Policy", async () => {
  assert.deepEqual(cspViolations, []);
});

await browser.close();
if (failures > 0) {
  console.log(`${failures} browser test(s) failed; screenshots in ${ARTIFACTS}`);
  process.exit(1);
}
console.log(`browser tests passed; screenshots in ${ARTIFACTS}`);
