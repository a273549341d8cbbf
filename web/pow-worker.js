// Proof of work for joining a line, off the page's thread: finds the
// number n for which SHA-256(salt + n) is the challenge (ALTCHA's SHA-256
// scheme). Message in: {salt, challenge, maxnumber}; out: {number, engine,
// ms} (number null when none up to maxnumber matched; engine "wasm-simd"
// or "js"). A drop may ask for the memory-hard function instead (ALTCHA
// PoW v2's Argon2id, at the end of this file): in {parameters}; out
// {solution, engine: "argon2id-wasm", ms}.
//
// Tuned as a native solver would be, so a fan pays no more than a bot per
// hash than the language forces: the salt's whole 64-byte blocks are
// hashed once (the midstate), each try hashes only the last block or two;
// the number's digits are counted up in place (no string per try); the
// words of the last block that hold only salt are read once; a try is
// dropped at the first word that differs. Plain JavaScript; the figures
// are in README ("Bot defence").
"use strict";

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const W = new Int32Array(64);
const H = new Int32Array(8);

// One SHA-256 compression of the 16 words W[0..16) into the state `state`
// (8 words), written to `out`.
function compress(state, out) {
  for (let i = 16; i < 64; i += 1) {
    const a = W[i - 15], b = W[i - 2];
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i += 1) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  out[0] = (state[0] + a) | 0; out[1] = (state[1] + b) | 0;
  out[2] = (state[2] + c) | 0; out[3] = (state[3] + d) | 0;
  out[4] = (state[4] + e) | 0; out[5] = (state[5] + f) | 0;
  out[6] = (state[6] + g) | 0; out[7] = (state[7] + h) | 0;
}

// Loads the 64-byte block at bytes[off..] into W[0..16).
function load(bytes, off) {
  for (let i = 0; i < 16; i += 1) {
    const j = off + i * 4;
    W[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
  }
}

// SHA-256 of bytes[0..length) into H (bytes has room for the padding):
// the plain function, for the tests.
function sha256(bytes, length) {
  const total = ((length + 9 + 63) >> 6) << 6;
  bytes.fill(0, length, total);
  bytes[length] = 0x80;
  const bits = length * 8;
  bytes[total - 4] = bits >>> 24; bytes[total - 3] = bits >>> 16;
  bytes[total - 2] = bits >>> 8; bytes[total - 1] = bits;
  H.set(IV);
  for (let off = 0; off < total; off += 64) {
    load(bytes, off);
    compress(H, H);
  }
}

// What both engines start from: the target digest as words, the salt's
// bytes, how many whole 64-byte blocks it has, and the midstate (those
// blocks hashed once).
function start(salt, challenge) {
  const target = new Int32Array(8);
  for (let i = 0; i < 8; i += 1) target[i] = parseInt(challenge.slice(i * 8, i * 8 + 8), 16) | 0;
  const prefix = new TextEncoder().encode(salt);
  const whole = prefix.length >> 6;
  const mid = new Int32Array(IV);
  for (let blk = 0; blk < whole; blk += 1) {
    load(prefix, blk * 64);
    compress(mid, mid);
  }
  return { target, prefix, whole, mid };
}

function solve(salt, challenge, maxnumber) {
  const { target, prefix, whole, mid } = start(salt, challenge);
  // The tail: the rest of the salt, then the digits, then the padding.
  const tail = new Uint8Array(128);
  const rest = prefix.length - whole * 64;
  tail.set(prefix.subarray(whole * 64));
  const digits = new Uint8Array(20);
  let width = 1;
  digits[0] = 48; // "0"
  const state = new Int32Array(8);
  const fixed = rest >> 2; // words of the tail's first block that hold salt only
  const saltWords = new Int32Array(16);
  for (let i = 0; i < fixed; i += 1) {
    const j = i * 4;
    saltWords[i] = (tail[j] << 24) | (tail[j + 1] << 16) | (tail[j + 2] << 8) | tail[j + 3];
  }
  let lastWidth = -1, total = 0;
  for (let n = 0; n <= maxnumber; n += 1) {
    if (width !== lastWidth) {
      // The padding moves only when the number gains a digit.
      lastWidth = width;
      const length = rest + width;
      total = ((length + 9 + 63) >> 6) << 6;
      tail.fill(0, length, total);
      tail[length] = 0x80;
      const bits = (prefix.length + width) * 8;
      tail[total - 4] = bits >>> 24; tail[total - 3] = bits >>> 16;
      tail[total - 2] = bits >>> 8; tail[total - 1] = bits;
    }
    for (let i = 0; i < width; i += 1) tail[rest + i] = digits[i];
    // The first tail block: salt-only words copied, the rest read.
    for (let i = 0; i < fixed; i += 1) W[i] = saltWords[i];
    for (let i = fixed; i < 16; i += 1) {
      const j = i * 4;
      W[i] = (tail[j] << 24) | (tail[j + 1] << 16) | (tail[j + 2] << 8) | tail[j + 3];
    }
    if (total === 64) {
      compress(mid, H);
    } else {
      compress(mid, state);
      load(tail, 64);
      compress(state, H);
    }
    if (H[0] === target[0] && H[1] === target[1] && H[2] === target[2] && H[3] === target[3]
      && H[4] === target[4] && H[5] === target[5] && H[6] === target[6] && H[7] === target[7]) {
      return n;
    }
    // The next number's digits, counted up in place.
    let i = width - 1;
    while (i >= 0 && digits[i] === 57) { digits[i] = 48; i -= 1; }
    if (i >= 0) {
      digits[i] += 1;
    } else {
      digits.copyWithin(1, 0, width);
      digits[0] = 49;
      width += 1;
    }
  }
  return null;
}

// ---- WebAssembly SIMD: four tries at once ----
//
// The module is written here, byte by byte, at start (no build step, no
// binary in the repository): one function, `c`, compresses four 64-byte
// blocks at once, one per 32-bit lane of 128-bit vectors (the same code
// native SIMD solvers run, at the width WebAssembly has). Memory, in
// bytes: the round constants splatted (0..1024), the message schedule
// W[0..64) (1024..2048; word i of lane k at 1024 + 16 i + 4 k), the input
// state (2048..2176) and the output state (2176..2304), 8 vectors each.
// A browser without WebAssembly SIMD (or a page policy without
// 'wasm-unsafe-eval') falls back to the plain solver above.

const OFF_K = 0, OFF_W = 1024, OFF_IN = 2048, OFF_OUT = 2176;

function simdModule() {
  const code = [];
  const op = (...bytes) => { for (const b of bytes) code.push(b); };
  const uleb = (n) => { const out = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return out; };
  const simd = (n) => op(0xfd, ...uleb(n));
  const get = (l) => op(0x20, l);
  const set = (l) => op(0x21, l);
  const i32 = (n) => op(0x41, n); // 0..63 only: one byte
  const load = (offset) => { i32(0); simd(0x00); op(4, ...uleb(offset)); };
  const store = (offset) => { simd(0x0b); op(4, ...uleb(offset)); }; // address pushed first
  const add = () => simd(0xae);
  const xor = () => simd(0x51);
  const or = () => simd(0x50);
  const bitselect = () => simd(0x52);
  const shr = (l, n) => { get(l); i32(n); simd(0xad); };
  const rotr = (l, n) => { shr(l, n); get(l); i32(32 - n); simd(0xab); or(); };
  const sigma = (l, r1, r2, r3, shift) => {
    rotr(l, r1); rotr(l, r2); xor();
    if (shift) shr(l, r3); else rotr(l, r3);
    xor();
  };
  // Locals 0-7 the working variables, 8 t1, 9 and 10 scratch.
  const T1 = 8, X = 9, Y = 10;
  for (let i = 16; i < 64; i += 1) {
    load(OFF_W + (i - 15) * 16); set(X);
    load(OFF_W + (i - 2) * 16); set(Y);
    i32(0);
    load(OFF_W + (i - 16) * 16);
    sigma(X, 7, 18, 3, true); add();
    load(OFF_W + (i - 7) * 16); add();
    sigma(Y, 17, 19, 10, true); add();
    store(OFF_W + i * 16);
  }
  for (let j = 0; j < 8; j += 1) { load(OFF_IN + j * 16); set(j); }
  // Round i: the variables rotate through the locals instead of moving.
  const v = (k, i) => (((k - i) % 8) + 8) % 8;
  for (let i = 0; i < 64; i += 1) {
    const a = v(0, i), b = v(1, i), c = v(2, i), d = v(3, i);
    const e = v(4, i), f = v(5, i), g = v(6, i), h = v(7, i);
    get(h);
    sigma(e, 6, 11, 25, false); add();
    get(f); get(g); get(e); bitselect(); add();           // ch(e, f, g)
    load(OFF_K + i * 16); add();
    load(OFF_W + i * 16); add();
    set(T1);
    get(d); get(T1); add(); set(d);                        // the next e
    get(T1);
    sigma(a, 2, 13, 22, false); add();
    get(a); get(b); get(b); get(c); xor(); bitselect(); add(); // maj(a, b, c)
    set(h);                                                // the next a
  }
  for (let j = 0; j < 8; j += 1) { i32(0); load(OFF_IN + j * 16); get(j); add(); store(OFF_OUT + j * 16); }
  op(0x0b);
  const body = [1, 11, 0x7b, ...code]; // one group of locals: 11 v128
  const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];
  const name = (s) => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 0, 0]),                       // type: () -> ()
    ...section(3, [1, 0]),                                // function 0 of type 0
    ...section(5, [1, 0x00, 1]),                          // memory: 1 page
    ...section(7, [2, ...name("m"), 0x02, 0, ...name("c"), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

let simd = null; // {compress, mem} once made; false when unavailable

function simdSolver() {
  if (simd !== null) return simd;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(simdModule()), {});
    const mem = new Int32Array(instance.exports.m.buffer);
    for (let i = 0; i < 64; i += 1) for (let k = 0; k < 4; k += 1) mem[(OFF_K >> 2) + i * 4 + k] = K[i];
    simd = { compress: instance.exports.c, mem };
  } catch (_) {
    simd = false;
  }
  return simd;
}

// As `solve`, four numbers a call into WebAssembly; undefined when this
// browser cannot (the caller then solves in plain JavaScript).
function solveSimd(salt, challenge, maxnumber) {
  const engine = simdSolver();
  if (!engine) return undefined;
  const { compress: run, mem } = engine;
  const { target, prefix, whole, mid } = start(salt, challenge);
  const rest = prefix.length - whole * 64;
  const tails = [0, 1, 2, 3].map(() => { const t = new Uint8Array(128); t.set(prefix.subarray(whole * 64)); return t; });
  const digits = new Uint8Array(20);
  let width = 1;
  digits[0] = 48;
  const W0 = OFF_W >> 2, IN = OFF_IN >> 2, OUT = OFF_OUT >> 2;
  const next = () => {
    let i = width - 1;
    while (i >= 0 && digits[i] === 57) { digits[i] = 48; i -= 1; }
    if (i >= 0) { digits[i] += 1; return; }
    digits.copyWithin(1, 0, width);
    digits[0] = 49;
    width += 1;
  };
  // Words of the first tail block that hold salt only: written once.
  const fixed = rest >> 2;
  for (let i = 0; i < fixed; i += 1) {
    const j = i * 4;
    const word = (tails[0][j] << 24) | (tails[0][j + 1] << 16) | (tails[0][j + 2] << 8) | tails[0][j + 3];
    for (let k = 0; k < 4; k += 1) mem[W0 + i * 4 + k] = word;
  }
  const midstate = () => { for (let j = 0; j < 8; j += 1) for (let k = 0; k < 4; k += 1) mem[IN + j * 4 + k] = mid[j]; };
  midstate();
  let n = 0, padded = -1, total = 0;
  while (n <= maxnumber) {
    // Four numbers of one width (else one at a time, below).
    const first = width;
    if (width !== padded) {
      // The padding moves only when the numbers gain a digit.
      padded = width;
      const length = rest + width;
      total = ((length + 9 + 63) >> 6) << 6;
      const bits = (prefix.length + width) * 8;
      for (const tail of tails) {
        tail.fill(0, length, total);
        tail[length] = 0x80;
        tail[total - 4] = bits >>> 24; tail[total - 3] = bits >>> 16;
        tail[total - 2] = bits >>> 8; tail[total - 1] = bits;
      }
    }
    let same = true;
    for (let k = 0; k < 4; k += 1) {
      if (width !== first) { same = false; break; }
      const tail = tails[k];
      for (let i = 0; i < width; i += 1) tail[rest + i] = digits[i];
      for (let i = fixed; i < 16; i += 1) {
        const j = i * 4;
        mem[W0 + i * 4 + k] = (tail[j] << 24) | (tail[j + 1] << 16) | (tail[j + 2] << 8) | tail[j + 3];
      }
      next();
    }
    if (!same) {
      // Across a change of width (9 to 10, 99 to 100, ...): these four
      // numbers one at a time, then the counter set from the next.
      const upto = n + 4;
      for (; n < upto && n <= maxnumber; n += 1) {
        const text = String(n);
        const bytes = new Uint8Array(prefix.length + text.length + 72);
        bytes.set(prefix);
        for (let i = 0; i < text.length; i += 1) bytes[prefix.length + i] = text.charCodeAt(i);
        sha256(bytes, prefix.length + text.length);
        if (H.every((word, i) => word === target[i])) return n;
      }
      const text = String(n);
      width = text.length;
      for (let i = 0; i < width; i += 1) digits[i] = text.charCodeAt(i);
      continue;
    }
    run();
    if (total === 128) {
      // A second block: its words (all of them), from the first's state;
      // the first block's salt-only words written back after.
      mem.copyWithin(IN, OUT, OUT + 32);
      for (let k = 0; k < 4; k += 1) {
        const tail = tails[k];
        for (let i = 0; i < 16; i += 1) {
          const j = 64 + i * 4;
          mem[W0 + i * 4 + k] = (tail[j] << 24) | (tail[j + 1] << 16) | (tail[j + 2] << 8) | tail[j + 3];
        }
      }
      run();
      midstate();
      for (let i = 0; i < fixed; i += 1) {
        const j = i * 4;
        const word = (tails[0][j] << 24) | (tails[0][j + 1] << 16) | (tails[0][j + 2] << 8) | tails[0][j + 3];
        for (let k = 0; k < 4; k += 1) mem[W0 + i * 4 + k] = word;
      }
    }
    for (let k = 0; k < 4; k += 1) {
      if (mem[OUT + k] !== target[0]) continue;
      let hit = true;
      for (let j = 1; j < 8; j += 1) if (mem[OUT + j * 4 + k] !== target[j]) { hit = false; break; }
      if (hit && n + k <= maxnumber) return n + k;
    }
    n += 4;
  }
  return null;
}

// The fastest solver this browser has.
function solveBest(salt, challenge, maxnumber) {
  const number = solveSimd(salt, challenge, maxnumber);
  if (number !== undefined) return { number, engine: "wasm-simd" };
  return { number: solve(salt, challenge, maxnumber), engine: "js" };
}

// ---- The memory-hard function: ALTCHA PoW v2's Argon2id ----
//
// For drops whose operator chose it, the challenge is PoW v2's
// {parameters, signature}: derive Argon2id(nonce || counter as 4 bytes
// big-endian, salt, cost, memoryCost KiB, parallelism) for counters 0, 1,
// ... until the key starts with keyPrefix. Argon2id is hash-wasm's
// (vendored in web/vendor/hash-wasm, MIT), WebAssembly loaded on first use.

function hexBytes(hex) {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

async function solveHard(parameters) {
  if (typeof hashwasm === "undefined") importScripts("hash-wasm-argon2.js");
  const nonce = hexBytes(String(parameters.nonce));
  const salt = hexBytes(String(parameters.salt));
  const prefix = String(parameters.keyPrefix);
  const password = new Uint8Array(nonce.length + 4);
  password.set(nonce);
  const top = Number(parameters.data && parameters.data.max);
  for (let counter = 0; counter <= top; counter += 1) {
    new DataView(password.buffer).setUint32(nonce.length, counter, false);
    // eslint-disable-next-line no-await-in-loop
    const key = await hashwasm.argon2id({
      password, salt,
      iterations: Number(parameters.cost),
      memorySize: Number(parameters.memoryCost),
      parallelism: Number(parameters.parallelism),
      hashLength: Number(parameters.keyLength),
      outputType: "hex",
    });
    if (key.startsWith(prefix)) return { counter, derivedKey: key };
  }
  return null;
}

if (typeof self !== "undefined" && typeof self.postMessage === "function" && typeof module === "undefined") {
  self.onmessage = (event) => {
    const started = Date.now();
    if (event.data.parameters) {
      // Memory-hard: out {solution: {counter, derivedKey} | null, engine, ms}
      // (or {error} when this browser cannot run it).
      solveHard(event.data.parameters).then(
        (solution) => self.postMessage({ solution, engine: "argon2id-wasm", ms: Date.now() - started }),
        (error) => self.postMessage({ solution: null, engine: "argon2id-wasm", error: String(error), ms: Date.now() - started }),
      );
      return;
    }
    const { salt, challenge, maxnumber, plain } = event.data;
    // `plain`: the JavaScript solver even where WebAssembly SIMD runs (the
    // browser test measures both).
    const { number, engine } = plain
      ? { number: solve(String(salt), String(challenge), Number(maxnumber)), engine: "js" }
      : solveBest(String(salt), String(challenge), Number(maxnumber));
    self.postMessage({ number, engine, ms: Date.now() - started });
  };
} else {
  module.exports = { solve, solveSimd, solveBest, sha256, H };
}
