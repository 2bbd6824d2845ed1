/**
 * Call latency in a fresh process, run by bench.mjs:
 *   node src/calls-once.mjs <home> <pluginDir> <grantJson> <tool> <argsJson> <warmup> <calls> [traced]
 * Prints one JSON line with the measurement. With `traced`, an OpenTelemetry
 * tracer provider is registered first, recording every span (and dropping it
 * at export): the cost of tracing when an integrator turns it on.
 */
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createHost } from '@airlock/host';
import { measureCalls } from './stats.mjs';

const [home, pluginDir, grantJson, tool, argsJson, warmup, calls, traced] = process.argv.slice(2);
if (!calls) {
  console.error('usage: node src/calls-once.mjs <home> <pluginDir> <grantJson> <tool> <argsJson> <warmup> <calls> [traced]');
  process.exit(2);
}
if (traced === 'traced') {
  const discard = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(discard)] }));
}
const host = await createHost({ home, logger: () => {} });
try {
  await host.load(pluginDir, { grant: JSON.parse(grantJson) });
  const measurement = await measureCalls(host, tool, JSON.parse(argsJson), Number(warmup), Number(calls));
  process.stdout.write(JSON.stringify({ ok: true, measurement }) + '\n');
} finally {
  await host.close();
}
