/**
 * What the machine itself costs, under every figure that crosses a thread or
 * touches new memory, run in a fresh process by bench.mjs:
 *   node src/machine-once.mjs <roundTrips>
 * No Airlock code runs here. Prints one JSON line:
 * - `pollingUs`: a round trip to another thread that is polling a shared word
 *   (Atomics.load in a loop), the way a plugin's thread waits between
 *   back-to-back calls;
 * - `asleepUs`: the same round trip to a thread blocked in Atomics.wait, after
 *   the process has been idle for 2 ms, the way a call finds a plugin's thread
 *   after a pause (between an MCP client's requests, or a fetch's request and
 *   its response). On a VM an idle virtual CPU is halted, and waking it is
 *   most of this figure;
 * - `firstTouchMsPerMB`: writing memory the process has just allocated, which
 *   faults every page in (compiling a 13 MB core module copies it into new
 *   memory; a new worker's heap and a plugin's linear memory start this way).
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { median, pct, round, sortNum } from './stats.mjs';

const roundTrips = Number(process.argv[2] ?? 2000);
if (!Number.isInteger(roundTrips) || roundTrips <= 0) {
  console.error('usage: node src/machine-once.mjs <roundTrips>');
  process.exit(2);
}

// The other thread answers each ping: it polls (mode 1) or sleeps in Atomics.wait (mode 2).
const PEER = `
  const { workerData } = require('node:worker_threads');
  const word = new Int32Array(workerData);
  for (;;) {
    const mode = Atomics.load(word, 1);
    if (mode === 3) break;
    if (Atomics.load(word, 0) === 1) {
      Atomics.store(word, 0, 2);
      Atomics.notify(word, 0);
    } else if (mode === 2) Atomics.wait(word, 0, 0);
  }
`;

const word = new Int32Array(new SharedArrayBuffer(8));
const peer = new Worker(PEER, { eval: true, workerData: word.buffer });
const idle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One round trip: ring, then poll for the answer (this thread never sleeps while timing). */
function roundTrip() {
  const t = performance.now();
  Atomics.store(word, 0, 1);
  Atomics.notify(word, 0);
  while (Atomics.load(word, 0) !== 2);
  const us = (performance.now() - t) * 1000;
  Atomics.store(word, 0, 0);
  return us;
}

async function measure(mode, gapMs, count) {
  Atomics.store(word, 1, mode);
  Atomics.notify(word, 0);
  const samples = [];
  for (let i = 0; i < count; i++) {
    if (gapMs > 0) await idle(gapMs);
    samples.push(roundTrip());
  }
  const sorted = sortNum(samples);
  return { medianUs: round(median(sorted), 1), p99Us: round(pct(sorted, 99), 1), roundTrips: count };
}

/** Milliseconds per MB to write 64 MB of newly allocated memory, best of 3 (each a new allocation). */
function firstTouch() {
  const MB = 64;
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const bytes = new Uint8Array(new ArrayBuffer(MB * 1024 * 1024));
    const t = performance.now();
    bytes.fill(1);
    best = Math.min(best, (performance.now() - t) / MB);
  }
  return round(best, 3);
}

try {
  await once(peer, 'online');
  const polling = await measure(1, 0, roundTrips);
  // Each after 2 ms of idling: a fifth as many, to keep the run short.
  const asleep = await measure(2, 2, Math.ceil(roundTrips / 5));
  process.stdout.write(JSON.stringify({ ok: true, measurement: { polling, asleep, firstTouchMsPerMB: firstTouch() } }) + '\n');
} finally {
  Atomics.store(word, 1, 3);
  Atomics.notify(word, 0);
  await peer.terminate();
}
