// Hashes per second of the fan page's proof-of-work worker in headless
// Chromium (playwright-core), each engine it has: WebAssembly SIMD and
// plain JavaScript. Serves the worker itself (no services needed), under
// the fan page's script policy ('self' 'wasm-unsafe-eval').
//
//   node web/tests/pow-bench.mjs [worker.js] [hashes]
//
// worker.js: another version of the worker to measure (default
// web/pow-worker.js; an older one from git, say); hashes: the number the
// challenge is solved at (default 2,000,000). Prints JSON.
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";

const workerFile = process.argv[2] || new URL("../pow-worker.js", import.meta.url).pathname;
const number = Number(process.argv[3] || 2000000);
const worker = readFileSync(workerFile, "utf8");
const policy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'";
const server = createServer((request, response) => {
  const js = request.url === "/pow-worker.js";
  response.writeHead(200, {
    "content-type": js ? "text/javascript" : "text/html",
    "content-security-policy": policy,
  });
  response.end(js ? worker : "<!doctype html><title>pow bench</title>");
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const page = await browser.newPage();
await page.goto(`${base}/`);
const salt = "0123456789abcdef01234567?drop=browser-a-mil2abcd&user=0123456789abcdef01234567&expires=1764745120&max=3000000";
const challenge = createHash("sha256").update(`${salt}${number}`).digest("hex");
const runs = [];
for (const plain of [false, true, false, true]) {
  const run = await page.evaluate(({ salt, challenge, maxnumber, plain }) => new Promise((resolve) => {
    const w = new Worker("/pow-worker.js");
    const started = performance.now();
    w.onmessage = (event) => { w.terminate(); resolve({ ...event.data, wall: performance.now() - started }); };
    w.postMessage({ salt, challenge, maxnumber, plain });
  }), { salt, challenge, maxnumber: number + 1000, plain });
  if (run.number !== number) throw new Error(`solved at ${run.number}, not ${number}`);
  runs.push({ engine: run.engine || "js", ms: Math.round(run.wall), mhs: Number(((number + 1) / run.wall / 1000).toFixed(2)) });
}
console.log(JSON.stringify({
  worker: workerFile, chromium: browser.version(), hashes: number + 1,
  load: loadavg().map((l) => Number(l.toFixed(2))), runs,
}));
await browser.close();
server.close();
