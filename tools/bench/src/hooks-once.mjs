/**
 * What a hook plugin adds to a tool call, in a fresh process, run by bench.mjs:
 *   node src/hooks-once.mjs <home> <echoDir> <hookDir> <warmup> <calls>
 * Times the echo tool with no hook plugin loaded (the host's fast path), then
 * with the redact-hook sample loaded, whose before-tool-call and
 * after-tool-call hooks both allow `{"value":1}`: two hook calls per tool
 * call. Prints one JSON line with both measurements and the median added per
 * hook call.
 */
import { createHost } from '@airlock/host';
import { measureCalls, round } from './stats.mjs';

const [home, echoDir, hookDir, warmup, calls] = process.argv.slice(2);
if (!calls) {
  console.error('usage: node src/hooks-once.mjs <home> <echoDir> <hookDir> <warmup> <calls>');
  process.exit(2);
}
const host = await createHost({ home, logger: () => {}, audit: false });
try {
  await host.load(echoDir, { grant: {} });
  const without = await measureCalls(host, 'echo', { value: 1 }, Number(warmup), Number(calls));
  await host.load(hookDir, { grant: 'manifest' });
  const hookCalls = host.hooks().flatMap((h) => h.points).filter((p) => p.endsWith('tool-call')).length;
  const withHook = await measureCalls(host, 'echo', { value: 1 }, Number(warmup), Number(calls));
  const strip = ({ samplesUs, ...m }) => m;
  process.stdout.write(
    JSON.stringify({
      ok: true,
      measurement: { without: strip(without), with: strip(withHook), hookCallsPerToolCall: hookCalls, addedPerHookCallUs: round((withHook.medianUs - without.medianUs) / hookCalls, 3) },
    }) + '\n',
  );
} finally {
  await host.close();
}
