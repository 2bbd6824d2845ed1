/**
 * Call latency in a fresh process, run by bench.mjs:
 *   node src/calls-once.mjs <home> <pluginDir> <grantJson> <tool> <argsJson> <warmup> <calls>
 * Prints one JSON line with the measurement.
 */
import { createHost } from '@airlock/host';
import { measureCalls } from './stats.mjs';

const [home, pluginDir, grantJson, tool, argsJson, warmup, calls] = process.argv.slice(2);
if (!calls) {
  console.error('usage: node src/calls-once.mjs <home> <pluginDir> <grantJson> <tool> <argsJson> <warmup> <calls>');
  process.exit(2);
}
const host = await createHost({ home, logger: () => {} });
try {
  await host.load(pluginDir, { grant: JSON.parse(grantJson) });
  const measurement = await measureCalls(host, tool, JSON.parse(argsJson), Number(warmup), Number(calls));
  process.stdout.write(JSON.stringify({ ok: true, measurement }) + '\n');
} finally {
  await host.close();
}
