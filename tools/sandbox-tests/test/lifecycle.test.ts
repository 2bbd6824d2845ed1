// A plugin's life as the host reports it: its state, every failure and
// restart as an event, a plugin that keeps failing held in `failed` with a
// backoff instead of restarting forever, and metrics that add up exactly.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host, type HostEvents, type PluginStateChange } from '@airlock/host';
import { capabilityVariant, pluginVariant, rejection } from '@airlock/test-utils';

const fixture = new URL('../fixtures/misbehaving', import.meta.url).pathname;
// Long enough that no busy machine stalls past it between a failure and the next call; the tests wait on events, not on it.
const BACKOFF_MS = 2000;
const SECRET = 'sk-lifecycle-0123456789abcdef';

let base: string;
let host: Host;
let server: Server;
let origin: string;

/** Every event of `names` the host emits from now on, in order. */
function record<K extends keyof HostEvents>(...names: K[]): { name: K; args: HostEvents[K] }[] {
  const seen: { name: K; args: HostEvents[K] }[] = [];
  for (const name of names) host.on(name as 'plugin-state', (...args: unknown[]) => void seen.push({ name, args: args as HostEvents[K] }));
  return seen;
}

/** Resolves at the next state change of `id` to `to`. */
function nextState(id: string, to: PluginStateChange['to']): Promise<PluginStateChange> {
  return new Promise((resolve) => {
    const listener = (change: PluginStateChange) => {
      if (change.id !== id || change.to !== to) return;
      host.off('plugin-state', listener);
      resolve(change);
    };
    host.on('plugin-state', listener);
  });
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-lifecycle-'));
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('twelve bytes'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  host = await createHost({ home: join(base, 'home'), logger: () => {}, env: { LIFECYCLE_API_KEY: SECRET }, failures: { maxFailures: 3, windowMs: 600_000, backoffMs: BACKOFF_MS, maxBackoffMs: 10 * BACKOFF_MS } });
});

afterAll(async () => {
  await host.close();
  server.close();
  await rm(base, { recursive: true, force: true });
});

describe('plugin lifecycle', () => {
  it('reports starting → active on load, and every failure and restart as an event', async () => {
    const events = record('plugin-state', 'plugin-failure', 'plugin-restarted');
    await host.load(await capabilityVariant(fixture, base, 'flaky', {}));
    expect(events).toEqual([{ name: 'plugin-state', args: [expect.objectContaining({ id: 'flaky', from: 'starting', to: 'active' })] }]);
    expect(host.plugins().find((p) => p.id === 'flaky')).toMatchObject({ state: 'active', restarts: 0 });
    events.length = 0;

    expect((await rejection(host.callTool('flaky.trap'))).code).toBe('PLUGIN_TRAPPED');
    expect(await host.callTool('flaky.echo', { n: 1 })).toEqual({ n: 1 });
    expect(events.map((e) => e.name)).toEqual(['plugin-failure', 'plugin-restarted']);
    expect(events[0]!.args[0]).toMatchObject({ id: 'flaky', code: 'PLUGIN_TRAPPED', fn: 'tool.callTool', failures: 1 });
    expect(events[1]!.args[0]).toEqual({ id: 'flaky', restarts: 1 });
    expect(host.plugins().find((p) => p.id === 'flaky')).toMatchObject({ state: 'active', restarts: 1, lastError: { code: 'PLUGIN_TRAPPED' } });
  });

  it('holds a plugin that keeps failing in `failed`, refusing its calls without running it, until the backoff ends', async () => {
    const events = record('plugin-state', 'plugin-failure');
    for (let i = 0; i < 2; i++) expect((await rejection(host.callTool('flaky.trap'))).code).toBe('PLUGIN_TRAPPED');
    // The trap above, and two more: three within the window.
    expect(events.filter((e) => e.name === 'plugin-failure').map((e) => (e.args[0] as { failures: number }).failures)).toEqual([2, 3]);
    const failed = events.find((e) => e.name === 'plugin-state')!.args[0] as PluginStateChange;
    expect(failed).toMatchObject({ id: 'flaky', from: 'active', to: 'failed', error: { code: 'PLUGIN_TRAPPED' } });
    const status = host.plugins().find((p) => p.id === 'flaky')!;
    expect(status).toMatchObject({ state: 'failed', restarts: 2 });
    expect(status.retryAt! - status.lastError!.at).toBe(BACKOFF_MS);

    const active = nextState('flaky', 'active');
    const refused = await rejection(host.callTool('flaky.echo', {}));
    expect(refused.code).toBe('PLUGIN_FAILED');
    expect(refused.message).toContain('failed 3 times');
    expect(refused.hint).toContain('reload');
    // Refused before it ran: no restart was counted, nothing failed.
    expect(host.plugins().find((p) => p.id === 'flaky')!.restarts).toBe(2);

    await active;
    expect(await host.callTool('flaky.echo', { back: true })).toEqual({ back: true });
    expect(host.plugins().find((p) => p.id === 'flaky')).toMatchObject({ state: 'active' });
  });

  it('sends a plugin that fails right after its backoff straight back, for twice as long; a reload starts it afresh', async () => {
    const active = nextState('flaky', 'active');
    for (let i = 0; i < 3; i++) await rejection(host.callTool('flaky.trap'));
    expect(host.plugins().find((p) => p.id === 'flaky')!.state).toBe('failed');
    await active;
    // On probation: one failure is enough.
    expect((await rejection(host.callTool('flaky.trap'))).code).toBe('PLUGIN_TRAPPED');
    const status = host.plugins().find((p) => p.id === 'flaky')!;
    expect(status.state).toBe('failed');
    expect(status.retryAt! - status.lastError!.at).toBe(2 * BACKOFF_MS);

    const events = record('plugin-state');
    await host.reload('flaky');
    expect(events).toEqual([{ name: 'plugin-state', args: [expect.objectContaining({ id: 'flaky', from: 'failed', to: 'active' })] }]);
    expect(await host.callTool('flaky.echo', { reloaded: true })).toEqual({ reloaded: true });
    // Failures before the reload no longer count: one trap does not send it back.
    await rejection(host.callTool('flaky.trap'));
    expect(host.plugins().find((p) => p.id === 'flaky')!.state).toBe('active');
  });

  it('reports a timeout as a failure and the unload as `stopping`', async () => {
    await host.load(await capabilityVariant(fixture, base, 'slow', {}));
    const events = record('plugin-state', 'plugin-failure', 'plugin-unloaded');
    expect((await rejection(host.callTool('slow.spin', {}, { timeoutMs: 200 }))).code).toBe('PLUGIN_TIMEOUT');
    await host.unload('slow');
    expect(events.map((e) => e.name)).toEqual(['plugin-failure', 'plugin-state', 'plugin-unloaded']);
    expect(events[0]!.args[0]).toMatchObject({ id: 'slow', code: 'PLUGIN_TIMEOUT', failures: 1 });
    expect(events[1]!.args[0]).toMatchObject({ id: 'slow', from: 'active', to: 'stopping' });
    expect(host.status().find((p) => p.id === 'slow')).toBeUndefined();
  });

  it('masks known secrets in what a failure reports: the event, lastError, the log and the error', async () => {
    const lines: string[] = [];
    host.on('log', (entry) => lines.push(entry.message));
    await host.load(await capabilityVariant(fixture, base, 'leaky', { env: ['LIFECYCLE_API_KEY'] }), { grant: 'manifest' });
    const events = record('plugin-failure');
    const thrown = await rejection(host.callTool('leaky.trap', { say: `the key is ${SECRET}` }));
    expect(thrown.message).toContain('the key is');
    const reported = [thrown.message, (events[0]!.args[0] as { message: string }).message, host.plugins().find((p) => p.id === 'leaky')!.lastError!.message, ...lines];
    expect(reported.join('\n')).toContain('the key is');
    expect(reported.join('\n')).not.toContain(SECRET);
    await host.unload('leaky');
  });

  it('reports a load that fails', async () => {
    const events = record('plugin-load-failed');
    const dir = await capabilityVariant(fixture, base, 'greedy', { http: ['https://api.example.com'] });
    expect((await rejection(host.load(dir))).code).toBe('CAPABILITY_NOT_GRANTED');
    expect(events).toEqual([{ name: 'plugin-load-failed', args: [expect.objectContaining({ id: 'greedy', dir, error: expect.objectContaining({ code: 'CAPABILITY_NOT_GRANTED' }) })] }]);
    expect(host.plugins().some((p) => p.id === 'greedy')).toBe(false);
  });
});

describe("the host's policy", () => {
  it('refuses at load what no user should grant, whatever the consent, saying which entry and why', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['every-com', { http: ['https://*.com'] }, 'http entry `https://*.com` reaches every site under `.com`, a public suffix'],
      ['every-address', { http: ['0.0.0.0/0'] }, 'http entry `0.0.0.0/0` is every address'],
      ['whole-disk', { filesystem: [{ path: '/', access: 'read-only' }] }, "filesystem entry `/` is protected by the host's policy (`/`)"],
      ['host-home', { filesystem: [{ path: join(base, 'home'), access: 'read-only' }] }, "(the host's own home)"],
    ];
    for (const [id, capabilities, why] of cases) {
      const dir = await capabilityVariant(fixture, base, id, capabilities);
      const refused = await rejection(host.load(dir, { grant: 'manifest' }));
      expect(refused.code, id).toBe('POLICY_REFUSED');
      expect(refused.message, id).toContain(why);
      expect(refused.hint, id).toContain('createHost({ policy })');
      // Trials (installs) are refused the same way.
      expect((await rejection(host.trial(dir, { grant: 'manifest' }))).code, id).toBe('POLICY_REFUSED');
    }
    const greedy = await pluginVariant(fixture, join(base, 'greedy-memory'), (pkg) => {
      pkg.name = 'greedy-memory';
      pkg.airlock.limits = { memoryMb: 4096 };
    });
    expect((await rejection(host.load(greedy))).message).toContain('asks for 4096 MiB of memory (limits.memoryMb), and this host allows at most 2048 MiB');
  });

  it('is the integrator\'s to change', async () => {
    const lenient = await createHost({ home: join(base, 'home-lenient'), logger: () => {}, policy: { refuseBroadHttp: false, protectedPaths: [] } });
    try {
      await lenient.load(await capabilityVariant(fixture, base, 'every-com', { http: ['https://*.com'] }), { grant: 'manifest' });
      await lenient.load(await capabilityVariant(fixture, base, 'whole-disk', { filesystem: [{ path: '/', access: 'read-only' }] }), { grant: 'manifest' });
      expect(lenient.plugins().map((p) => p.id).sort()).toEqual(['every-com', 'whole-disk']);
    } finally {
      await lenient.close();
    }
  });
});

describe('plugin metrics', () => {
  it('count a known sequence of calls exactly: calls, errors by code, latency, HTTP by origin, storage, memory', async () => {
    await host.load(await capabilityVariant(fixture, base, 'counted', { storage: true, http: [origin] }), { grant: 'manifest' });
    for (let i = 0; i < 3; i++) await host.callTool('counted.echo', { i });
    await rejection(host.callTool('counted.trap'));
    await rejection(host.callTool('counted.spin', {}, { timeoutMs: 200 }));
    expect(await host.callTool('counted.storage', { op: 'set', key: 'k1', size: 10 })).toEqual({ ok: true });
    expect(await host.callTool('counted.storage', { op: 'set', key: 'k2', size: 20 })).toEqual({ ok: true });
    expect(await host.callTool('counted.fetch', { url: `${origin}/a`, method: 'POST', body: 'hello' })).toMatchObject({ status: 200, text: 'twelve bytes' });
    expect(await host.callTool('counted.fetch', { url: `${origin}/b` })).toMatchObject({ status: 200 });
    expect(await host.callTool('counted.fetch', { url: 'https://elsewhere.example.com/' })).toMatchObject({ rejected: true });

    const metrics = (await host.metrics()).find((m) => m.id === 'counted')!;
    // Ten tool calls, and the host's own list-tools when it loaded the plugin.
    expect(metrics).toMatchObject({
      state: 'active',
      calls: 11,
      errors: { PLUGIN_TRAPPED: 1, PLUGIN_TIMEOUT: 1 },
      inFlight: 0,
      queued: 0,
      restarts: 2,
      http: {
        [origin]: { requests: 2, refused: 0, bytesOut: 5, bytesIn: 24 },
        'https://elsewhere.example.com': { requests: 0, refused: 1, bytesOut: 0, bytesIn: 0 },
      },
      storage: { keys: 2 },
    });
    expect(Object.keys(metrics.errors)).toHaveLength(2);
    expect(metrics.storage!.bytes).toBe(2 + 10 + 2 + 20);
    expect(metrics.latency.count).toBe(11);
    expect(metrics.latency.buckets.at(-1)).toBe(11);
    // The spin ran until its 200 ms deadline.
    expect(metrics.latency.maxMs).toBeGreaterThanOrEqual(200);
    expect(metrics.latency.p50Ms).toBeLessThanOrEqual(metrics.latency.p90Ms);
    expect(metrics.latency.p90Ms).toBeLessThanOrEqual(metrics.latency.p99Ms);
    expect(metrics.latency.p99Ms).toBeLessThanOrEqual(metrics.latency.maxMs);
    expect(metrics.memoryHighWaterBytes).toBeGreaterThan(1024 * 1024);
  });

  it('count errors a plugin returns by their code, in a bounded set', async () => {
    const before = (await host.metrics()).find((m) => m.id === 'counted')!;
    expect((await rejection(host.callTool('counted.fail', { code: 'not-found' }))).code).toBe('TOOL_FAILED');
    let after = (await host.metrics()).find((m) => m.id === 'counted')!;
    expect(after.calls).toBe(before.calls + 1);
    expect(after.errors).toEqual({ ...before.errors, 'returned:not-found': 1 });
    // A plugin choosing a new code for every error does not grow the host: past 64 codes, the rest count as `other`.
    for (let i = 0; i < 100; i++) await rejection(host.callTool('counted.fail', { code: `code-${i}-${'x'.repeat(100)}` }));
    after = (await host.metrics()).find((m) => m.id === 'counted')!;
    expect(Object.keys(after.errors)).toHaveLength(65);
    expect(Object.values(after.errors).reduce((a, b) => a + b, 0)).toBe(2 + 1 + 100);
    expect(after.errors.other).toBe(2 + 1 + 100 - 64);
    expect(Object.keys(after.errors).every((code) => code.length <= 'returned:'.length + 64)).toBe(true);
  });
});
