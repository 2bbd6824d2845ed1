/**
 * The floor under a call, in a fresh process, run by bench.mjs:
 *   node src/floor-once.mjs <home> <echoDir> <warmup> <calls>
 * Loads the echo plugin and times, in interleaved rounds in this one process,
 * `host.ping` (a round trip through the same channel to the plugin's thread
 * that runs no plugin code: the queue, the channel, handing the turn over and
 * back) and the echo tool's call (the same, plus the host's call path and the
 * call into the component). Prints one JSON line: both, and how far above the
 * floor a call is.
 */
import { createHost } from '@airlock/host';
import { measureCalls, measureLatency, round } from './stats.mjs';

const [home, echoDir, warmup, calls] = process.argv.slice(2);
if (!calls) {
  console.error('usage: node src/floor-once.mjs <home> <echoDir> <warmup> <calls>');
  process.exit(2);
}
const ROUNDS = 4;
const host = await createHost({ home, logger: () => {}, audit: false });
try {
  const { id } = await host.load(echoDir, { grant: {} });
  const perRound = Math.ceil(Number(calls) / ROUNDS);
  const runs = { floor: [], echo: [] };
  for (let r = 0; r < ROUNDS; r++) {
    runs.floor.push(await measureLatency(() => host.ping(id), Number(warmup), perRound));
    runs.echo.push(await measureCalls(host, 'echo', { value: 1 }, Number(warmup), perRound));
  }
  // Each figure: the middle of the rounds' figures, so one noisy round does not decide it.
  const middle = (list, key) => list.map((m) => m[key]).sort((a, b) => a - b)[list.length >> 1];
  const summary = (list) => ({ medianUs: middle(list, 'medianUs'), p99Us: middle(list, 'p99Us'), p999Us: middle(list, 'p999Us'), maxUs: Math.max(...list.map((m) => m.maxUs)), rounds: list.length, callsPerRound: perRound });
  const floor = summary(runs.floor);
  const echo = summary(runs.echo);
  process.stdout.write(JSON.stringify({ ok: true, measurement: { floor, echo, aboveFloorUs: round(echo.medianUs - floor.medianUs, 3) } }) + '\n');
} finally {
  await host.close();
}
