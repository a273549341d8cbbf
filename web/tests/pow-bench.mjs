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
//
//   node web/tests/pow-bench.mjs --argon2 [memoryKiB,...] [keys]
//
// The memory-hard function instead: Argon2id keys per second (t = 1,
// p = 1, hash-wasm's WebAssembly as the fan page loads it), `keys` keys
// (default 20) at each memory size (default 4096,8192,16384 KiB).
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";

const argon2 = process.argv[2] === "--argon2";
const workerFile = (!argon2 && process.argv[2]) || new URL("../pow-worker.js", import.meta.url).pathname;
const number = Number((!argon2 && process.argv[3]) || 2000000);
const worker = readFileSync(workerFile, "utf8");
const argon2Js = readFileSync(new URL("../vendor/hash-wasm/argon2.umd.min.js", import.meta.url), "utf8");
const policy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'";
const server = createServer((request, response) => {
  const js = request.url === "/pow-worker.js" || request.url === "/hash-wasm-argon2.js";
  response.writeHead(200, {
    "content-type": js ? "text/javascript" : "text/html",
    "content-security-policy": policy,
  });
  const body = { "/pow-worker.js": worker, "/hash-wasm-argon2.js": argon2Js }[request.url];
  response.end(body || "<!doctype html><title>pow bench</title>");
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const page = await browser.newPage();
await page.goto(`${base}/`);
if (argon2) {
  // A prefix no key has: the worker derives keys for counters 0..max and
  // gives up; the time is theirs.
  const sizes = (process.argv[3] || "4096,8192,16384").split(",").map(Number);
  const keys = Number(process.argv[4] || 20);
  const runs = [];
  for (const memoryCost of sizes) {
    for (let round = 0; round < 2; round += 1) {
      const parameters = {
        algorithm: "ARGON2ID", cost: 1, data: { drop: "bench", max: keys - 1, user: "u" }, expiresAt: 0,
        keyLength: 32, keyPrefix: "zz", keySignature: "", memoryCost,
        nonce: "00112233445566778899aabbccddeeff", parallelism: 1, salt: "ffeeddccbbaa99887766554433221100",
      };
      const run = await page.evaluate((parameters) => new Promise((resolve) => {
        const w = new Worker("/pow-worker.js");
        const started = performance.now();
        w.onmessage = (event) => { w.terminate(); resolve({ ...event.data, wall: performance.now() - started }); };
        w.postMessage({ parameters });
      }), parameters);
      if (run.solution !== null || run.error) throw new Error(JSON.stringify(run));
      runs.push({ engine: run.engine, memoryKiB: memoryCost, keys, ms: Math.round(run.wall),
        msPerKey: Number((run.wall / keys).toFixed(2)), keysPerSec: Number((keys * 1000 / run.wall).toFixed(1)) });
    }
  }
  console.log(JSON.stringify({ chromium: browser.version(), load: loadavg().map((l) => Number(l.toFixed(2))), runs }));
  await browser.close();
  server.close();
  process.exit(0);
}
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
