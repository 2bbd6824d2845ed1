/**
 * One "load to first call" sample, run in a fresh process by bench.mjs:
 *   node src/load-once.mjs <home> <pluginDir> [tool] [argsJson]
 * Prints one JSON line with the timings in milliseconds.
 */
const [home, pluginDir, tool = 'echo', argsJson = '{"value":1}'] = process.argv.slice(2);
if (!home || !pluginDir) {
  console.error('usage: node src/load-once.mjs <home> <pluginDir> [tool] [argsJson]');
  process.exit(2);
}

const tImport = performance.now();
const { createHost } = await import('@airlock/host');
const t0 = performance.now();
const host = await createHost({ home, logger: () => {} });
const t1 = performance.now();
await host.load(pluginDir, { grant: 'manifest' });
const t2 = performance.now();
const result = await host.callTool(tool, JSON.parse(argsJson));
const t3 = performance.now();
await host.close();

process.stdout.write(
  JSON.stringify({
    ok: true,
    result,
    importHostMs: t0 - tImport,
    createHostMs: t1 - t0,
    loadMs: t2 - t1,
    firstCallMs: t3 - t2,
    totalMs: t3 - t0,
    // performance.now() counts from process start, so this includes Node startup and imports.
    sinceProcessStartMs: t3,
  }) + '\n',
);
