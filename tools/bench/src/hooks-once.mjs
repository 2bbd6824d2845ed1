/**
 * What a hook plugin adds to a tool call, in a fresh process, run by bench.mjs:
 *   node src/hooks-once.mjs <home> <echoDir> <allowHookDir> <redactHookDir> <warmup> <calls>
 * Times the echo tool with no hook plugin loaded (the host's fast path), then
 * with the trivial allow-hook fixture loaded (its before-tool-call and
 * after-tool-call hooks allow at once: the mechanism's own cost), then with
 * the redact-hook sample instead (the same two points, each scanning the call
 * for e-mail addresses in the guest: what a real hook costs). Interleaved
 * rounds, so drift lands on every variant alike. Prints one JSON line with the
 * measurements and the median added per hook call.
 */
import { createHost } from '@airlock/host';
import { measureCalls, round } from './stats.mjs';

const [home, echoDir, allowDir, redactDir, warmup, calls] = process.argv.slice(2);
if (!calls) {
  console.error('usage: node src/hooks-once.mjs <home> <echoDir> <allowHookDir> <redactHookDir> <warmup> <calls>');
  process.exit(2);
}
const ROUNDS = 3;
const host = await createHost({ home, logger: () => {}, audit: false });
try {
  await host.load(echoDir, { grant: {} });
  const perRound = Math.ceil(Number(calls) / ROUNDS);
  const runs = { without: [], allow: [], redact: [] };
  const measure = () => measureCalls(host, 'echo', { value: 1 }, Number(warmup), perRound);
  for (let round = 0; round < ROUNDS; round++) {
    runs.without.push(await measure());
    await host.load(allowDir, { grant: 'manifest' });
    runs.allow.push(await measure());
    await host.unload('bench-allow-hook');
    await host.load(redactDir, { grant: 'manifest' });
    runs.redact.push(await measure());
    await host.unload('redact-hook');
  }
  const medianOf = (list) => list.map((m) => m.medianUs).sort((a, b) => a - b)[list.length >> 1];
  const summary = (list) => ({ medianUs: medianOf(list), p99Us: list.map((m) => m.p99Us).sort((a, b) => a - b)[list.length >> 1], rounds: list.length, callsPerRound: perRound });
  const without = summary(runs.without);
  const allow = summary(runs.allow);
  const redact = summary(runs.redact);
  // Both plugins hook before- and after-tool-call: two hook calls per tool call.
  const hookCalls = 2;
  process.stdout.write(
    JSON.stringify({
      ok: true,
      measurement: {
        without,
        allow,
        redact,
        hookCallsPerToolCall: hookCalls,
        addedPerHookCallUs: round((allow.medianUs - without.medianUs) / hookCalls, 3),
        addedPerRedactHookCallUs: round((redact.medianUs - without.medianUs) / hookCalls, 3),
      },
    }) + '\n',
  );
} finally {
  await host.close();
}
