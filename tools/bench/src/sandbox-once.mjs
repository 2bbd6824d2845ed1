/**
 * Sandbox costs in a fresh process, run by bench.mjs:
 *   node src/sandbox-once.mjs <home> <fixtureDir> <workDir> <fetches>
 * - a granted fetch to a loopback server through the plugin and the host's gate,
 *   against the same request made by Node directly;
 * - the time from a call's timeout to the next call answered (worker restart).
 * Prints one JSON line.
 */
import { createServer, request } from 'node:http';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHost } from '@airlock/host';
import { median, pct, round, sortNum } from './stats.mjs';

const [home, fixture, work, fetches] = process.argv.slice(2);
const N = Number(fetches);

const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('pong'));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

function direct() {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}/ping`, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

async function sample(f, n) {
  for (let i = 0; i < Math.min(200, n); i++) await f();
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    xs.push((performance.now() - t) * 1000);
  }
  const s = sortNum(xs);
  return { medianUs: round(median(s), 1), p90Us: round(pct(s, 90), 1), calls: n };
}

// The fixture, granted this server's origin.
const dir = join(work, 'fetcher');
await mkdir(join(dir, 'dist'), { recursive: true });
const pkg = JSON.parse(await readFile(join(fixture, 'package.json'), 'utf8'));
pkg.airlock.capabilities = { http: [origin] };
await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
await copyFile(join(fixture, 'dist/plugin.wasm'), join(dir, 'dist/plugin.wasm'));

const host = await createHost({ home, logger: () => {} });
try {
  await host.load(dir, { grant: 'manifest' });
  const directFetch = await sample(direct, N);
  const gatedFetch = await sample(async () => {
    const r = await host.callTool('fetch', { url: `${origin}/ping` });
    if (r.text !== 'pong') throw new Error(`unexpected fetch result ${JSON.stringify(r)}`);
  }, N);

  // Timeout recovery: the fixture's `spin` loops until its 1.5 s deadline.
  const recoveries = [];
  for (let i = 0; i < 3; i++) {
    let timedOutAt = 0;
    await host.callTool('spin', {}).catch((e) => {
      if (e.code !== 'PLUGIN_TIMEOUT') throw e;
      timedOutAt = performance.now();
    });
    await host.callTool('echo', { i });
    recoveries.push(performance.now() - timedOutAt);
  }
  process.stdout.write(JSON.stringify({ ok: true, directFetch, gatedFetch, timeoutRecoveryMs: round(median(recoveries), 1), timeoutRecoveriesMs: recoveries.map((x) => round(x, 1)) }) + '\n');
} finally {
  await host.close();
  server.close();
}
