/**
 * Resident memory per loaded plugin, run in a fresh process by bench.mjs:
 *   node --expose-gc src/rss-once.mjs <home> <pluginDir>...
 * Loads every plugin directory given, calls `echo` once on each, and prints one
 * JSON line with process RSS (bytes) before, after the first plugin, and after all.
 */
const [home, ...dirs] = process.argv.slice(2);
if (!home || dirs.length === 0) {
  console.error('usage: node --expose-gc src/rss-once.mjs <home> <pluginDir>...');
  process.exit(2);
}

const gc = globalThis.gc ?? (() => {});
const settle = async () => {
  gc();
  await new Promise((r) => setTimeout(r, 100));
  gc();
};

const { createHost } = await import('@airlock/host');
const host = await createHost({ home, logger: () => {} });
await settle();
const before = process.memoryUsage();

const ids = [];
const loadAndCall = async (dir) => {
  const info = await host.load(dir, { grant: 'manifest' });
  ids.push(info.id);
  await host.callTool(`${info.id}.echo`, { value: 1 });
};
// The first plugin also pays for what copies of one component share (compiled core modules).
await loadAndCall(dirs[0]);
await settle();
const afterFirst = process.memoryUsage();
for (const dir of dirs.slice(1)) await loadAndCall(dir);
await settle();
const after = process.memoryUsage();
await host.close();

process.stdout.write(
  JSON.stringify({
    ok: true,
    plugins: ids.length,
    rssBeforeBytes: before.rss,
    rssAfterFirstBytes: afterFirst.rss,
    rssAfterBytes: after.rss,
    heapUsedBeforeBytes: before.heapUsed,
    heapUsedAfterBytes: after.heapUsed,
    externalBeforeBytes: before.external,
    externalAfterBytes: after.external,
  }) + '\n',
);
