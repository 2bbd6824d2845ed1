import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pluginVariant, rejection } from '@airlock/test-utils';
import { createHost, type Host, type LogEntry, type ToolProgress } from '@airlock/host';

const fixture = new URL('../fixtures/misbehaving', import.meta.url).pathname;
const notes = new URL('../../../plugins/notes', import.meta.url).pathname;

let home: string;
let host: Host;
const logs: LogEntry[] = [];


beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-sandbox-'));
  // These tests make one plugin trap and time out again and again, each time on purpose: it is never held in `failed` (lifecycle.test.ts tests that).
  host = await createHost({ home, logger: (e) => logs.push(e), failures: false });
  await host.load(fixture);
  await host.load(notes, { grant: 'manifest' });
  await host.callTool('add_note', { title: 'bystander', body: 'kept' });
});

// After every hostile attempt: a well-behaved plugin still answers, its stored data and the loaded plugins are intact.
afterEach(async () => {
  await expect(host.callTool('get_note', { id: 1 })).resolves.toMatchObject({ title: 'bystander', body: 'kept' });
  expect(host.plugins().map((p) => p.id)).toEqual(['misbehaving', 'notes']);
});

afterAll(async () => {
  await host.close();
  await rm(home, { recursive: true, force: true });
});

describe('a plugin that misbehaves', () => {
  it('is stopped at its deadline, while other plugins keep serving, and restarts on the next call', async () => {
    const spinning = host.callTool('spin', {});
    // Another plugin answers while this one is stuck in its loop.
    await expect(host.callTool('count_words', { text: 'still serving' })).resolves.toMatchObject({ words: 2 });
    const err = await rejection(spinning);
    expect(err.code).toBe('PLUGIN_TIMEOUT');
    expect(err.plugin).toBe('misbehaving');
    expect(err.message).toContain('tool.callTool');
    expect(err.message).toContain('1500 ms');
    await expect(host.callTool('echo', { after: 'timeout' })).resolves.toEqual({ after: 'timeout' });
  });

  it('checks arguments against its own schema in its own thread: a catastrophic pattern cannot stall the host', async () => {
    const stuck = host.callTool('redos', { s: `${'a'.repeat(40)}!` });
    await expect(host.callTool('count_words', { text: 'host still answers' })).resolves.toMatchObject({ words: 3 });
    const err = await rejection(stuck);
    expect(err.code).toBe('PLUGIN_TIMEOUT');
    await expect(host.callTool('redos', { s: 'aaa' })).resolves.toEqual({});
  });

  it('traps: the call fails with what the plugin printed to stderr, and a fresh instance serves the next call', async () => {
    const err = await rejection(host.callTool('trap', {}));
    expect(err.code).toBe('PLUGIN_TRAPPED');
    expect(err.message).toContain('wasm trap');
    // componentize-js prints nothing for an Error thrown out of an export; the plugin's own stderr explains it,
    // with its stack in the plugin's sources (the component carries the bundle's source map).
    expect(err.message).toContain('about to fail on purpose');
    expect(err.message).toMatch(/callTool@src\/index\.ts:\d+:\d+/);
    expect(err.message).not.toMatch(/@plugin\.js:/);
    await expect(host.callTool('echo', { after: 'trap' })).resolves.toEqual({ after: 'trap' });
  });

  it('cannot reach the network: fetch rejects inside the plugin and the host logs the denial', async () => {
    const result = (await host.callTool('fetch', { url: 'https://example.com/secret' })) as { rejected?: boolean };
    expect(result.rejected).toBe(true);
    expect(logs).toContainEqual(expect.objectContaining({ plugin: 'misbehaving', level: 'warn', message: expect.stringContaining('denied GET https://example.com') }));
  });

  it('can wait on timers in an async tool', async () => {
    const result = (await host.callTool('sleep', { ms: 30 })) as { waitedMs: number };
    expect(result.waitedMs).toBeGreaterThanOrEqual(25);
  });

  it('has its stdout and stderr turned into log lines tagged with its id', async () => {
    await host.callTool('print', {});
    expect(logs).toContainEqual({ level: 'info', message: 'to stdout', plugin: 'misbehaving' });
    expect(logs).toContainEqual({ level: 'warn', message: 'to stderr', plugin: 'misbehaving' });
  });

  it('cannot flood the host with log lines: at most 1,000 per call reach the logger, and the rest are counted', async () => {
    const from = logs.length;
    await expect(host.callTool('flood', { lines: 5_000, size: 10 })).resolves.toEqual({ wrote: 5_000 });
    const flood = logs.slice(from).filter((l) => l.plugin === 'misbehaving');
    expect(flood.filter((l) => /^\d+ f{10}$/.test(l.message))).toHaveLength(1_000);
    expect(flood.at(-1)).toEqual({ level: 'warn', message: '4000 more log lines from this call were dropped (at most 1000 per call)', plugin: 'misbehaving' });
    // The budget is per call: the next call logs again.
    const next = logs.length;
    await host.callTool('print', {});
    expect(logs.slice(next)).toContainEqual({ level: 'info', message: 'to stdout', plugin: 'misbehaving' });
  });

  it('is held to its memory cap: the call fails with a memory-limit error and a fresh instance serves the next', async () => {
    // A generous deadline: on a busy machine, filling 64 MiB can take longer than the fixture's 1.5 s.
    const err = await rejection(host.callTool('hog', {}, { timeoutMs: 120_000 }));
    expect(err.code).toBe('PLUGIN_MEMORY_LIMIT');
    expect(err.message).toContain('64 MiB');
    await expect(host.callTool('echo', { after: 'hog' })).resolves.toEqual({ after: 'hog' });
  });

  it('does not start when its memory cap is below what the component needs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-tiny-'));
    try {
      await pluginVariant(fixture, dir, (pkg) => {
        pkg.name = 'tiny';
        pkg.airlock.limits = { memoryMb: 2 };
      });
      const err = await rejection(host.load(dir));
      expect(err.code).toBe('PLUGIN_MEMORY_LIMIT');
      expect(err.message).toMatch(/needs at least \d+ MiB of memory, more than the cap of 2 MiB/);
      expect(host.plugins().map((p) => p.id)).not.toContain('tiny');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('returns text that is not JSON: a typed error, not a crash', async () => {
    const err = await rejection(host.callTool('bad_json', {}));
    expect(err.code).toBe('TOOL_RESULT_INVALID');
    await expect(host.callTool('echo', { after: 'bad json' })).resolves.toEqual({ after: 'bad json' });
  });

  it('leaves the other plugin\'s stored data intact', async () => {
    await host.callTool('add_note', { title: 'survivor', body: 'kept' });
    await rejection(host.callTool('trap', {}));
    await expect(host.callTool('list_notes', {})).resolves.toEqual([
      { id: 1, title: 'bystander', tags: [] },
      { id: 2, title: 'survivor', tags: [] },
    ]);
    await host.callTool('delete_note', { id: 2 });
  });
});

describe('cancelling a call with an AbortSignal', () => {
  const instance = async () => ((await host.callTool('sleep', { ms: 0 })) as { instance: string }).instance;

  it('stops a running call in the plugin: it rejects with the signal’s reason, and a fresh instance serves the next call', async () => {
    const before = await instance();
    const controller = new AbortController();
    const spinning = host.callTool('spin', {}, { signal: controller.signal });
    // With the worker up and nothing queued, the call reaches the plugin within the promise jobs that follow.
    await new Promise((resolve) => setImmediate(resolve));
    const reason = new Error('the user cancelled');
    controller.abort(reason);
    await expect(spinning).rejects.toBe(reason);
    // The spinning worker was stopped, not left to its deadline: the next call reaches a new instance.
    expect(await instance()).not.toBe(before);
    await expect(host.callTool('echo', { after: 'abort' })).resolves.toEqual({ after: 'abort' });
  });

  it('drops a queued call without disturbing the one running', async () => {
    const before = await instance();
    const running = host.callTool('sleep', { ms: 200 });
    const controller = new AbortController();
    const queued = host.callTool('echo', { never: 'runs' }, { signal: controller.signal });
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    await expect(running).resolves.toMatchObject({ instance: before });
    expect(await instance()).toBe(before);
  });

  it('refuses a call whose signal has already aborted, without running it', async () => {
    const before = await instance();
    await expect(host.callTool('spin', {}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(await instance()).toBe(before);
  });
});

describe('host limits on a plugin\'s calls', () => {
  async function withHost(options: Parameters<typeof createHost>[0]['limits'], poolSize: number | undefined, body: (h: Host) => Promise<void>) {
    const h = await createHost({ home: join(home, `limits-${Math.random().toString(16).slice(2)}`), logger: () => {}, limits: options });
    try {
      await h.load(fixture, poolSize === undefined ? {} : { poolSize });
      await body(h);
    } finally {
      await h.close();
    }
  }

  it('drops a result over the size limit in the plugin\'s thread and says so', async () => {
    await withHost({ maxMessageBytes: 256 * 1024 }, undefined, async (h) => {
      const err = await rejection(h.callTool('big', { mb: 0.5 }));
      expect(err.code).toBe('RESULT_TOO_LARGE');
      expect(err.message).toContain('over the limit of 262144 bytes');
      await expect(h.callTool('big', { mb: 0.125 })).resolves.toHaveLength(128 * 1024);
    });
  });

  it('a 100 MB string fails inside the engine as an error the plugin can catch (see wat.test.ts for one that is returned)', async () => {
    // SpiderMonkey refuses to build it ("out of memory", a catchable error) well before the 64 MiB cap or the result limit.
    expect(await host.callTool('big', { mb: 100 })).toEqual({ failed: 'out of memory' });
    await expect(host.callTool('echo', { after: 'big' })).resolves.toEqual({ after: 'big' });
  });

  it('refuses calls beyond the queue bound instead of queueing without limit', async () => {
    await withHost({ maxQueuedCalls: 4 }, undefined, async (h) => {
      const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => h.callTool('sleep', { ms: 40 })));
      const refused = outcomes.filter((o) => o.status === 'rejected');
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5); // one running, four waiting
      expect(refused).toHaveLength(7);
      for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'PLUGIN_BUSY' });
      await expect(h.callTool('echo', { after: 'flood' })).resolves.toEqual({ after: 'flood' });
    });
  });

  it('serves calls on several instances with a pool', async () => {
    await withHost(undefined, 3, async (h) => {
      const results = (await Promise.all([1, 2, 3].map(() => h.callTool('sleep', { ms: 200 })))) as { instance: string }[];
      expect(new Set(results.map((r) => r.instance)).size).toBe(3);
    });
  });

  it('runs calls one at a time on a single instance by default', async () => {
    await withHost(undefined, undefined, async (h) => {
      const results = (await Promise.all([1, 2, 3].map(() => h.callTool('sleep', { ms: 10 })))) as { instance: string }[];
      expect(new Set(results.map((r) => r.instance)).size).toBe(1);
    });
  });
});

describe('progress a tool reports', () => {
  // The fixture's own deadline (1.5 s) is for its hostile tools; these calls sleep and loop on purpose, on a machine that may be busy.
  const timeoutMs = 60_000;

  /** Call `progress` with `args`: the reports that had arrived when the call settled. */
  async function reported(args: Record<string, unknown>): Promise<{ reports: ToolProgress[] }> {
    const reports: ToolProgress[] = [];
    await host.callTool('progress', args, { timeoutMs, onProgress: (p) => reports.push(p) });
    return { reports: [...reports] };
  }

  it('reaches the caller, every report before the result', async () => {
    // 150 ms apart: further than the host's 100 ms between forwarded reports, however busy the machine.
    // The last report is made just before the plugin returns: it is there when the call settles.
    const { reports } = await reported({ fractions: [0, 0.25, 0.5, 1], message: 'working', gapMs: 150 });
    expect(reports).toEqual([0, 0.25, 0.5, 1].map((fraction) => ({ fraction, message: 'working' })));
  });

  it('only moves forward: reports that go back or stand still are dropped, NaN ignored, the rest clamped to [0, 1]', async () => {
    const { reports } = await reported({ fractions: [0.5, 0.2, 0.5, 'NaN', '-Infinity', 7], gapMs: 150 });
    expect(reports).toEqual([{ fraction: 0.5 }, { fraction: 1 }]);
  });

  it('has its message cut to 200 characters', async () => {
    const { reports } = await reported({ fractions: [0.5], message: 'm'.repeat(5000) });
    expect(reports).toEqual([{ fraction: 0.5, message: `${'m'.repeat(199)}…` }]);
  });

  it('cannot flood the host: of 50,000 reports in a tight loop a few arrive, the first and the last among them', async () => {
    const { reports } = await reported({ flood: 50_000 });
    expect(reports[0]).toEqual({ fraction: 1 / 50_000 });
    expect(reports.at(-1)).toEqual({ fraction: 1 });
    expect(reports.length).toBeLessThan(2_000);
    for (let i = 1; i < reports.length; i++) expect(reports[i]!.fraction).toBeGreaterThan(reports[i - 1]!.fraction);
  });

  it('is dropped when the caller does not ask for it, and a throwing callback costs the caller nothing', async () => {
    await expect(host.callTool('progress', { fractions: [0.5, 1] }, { timeoutMs })).resolves.toEqual({ reported: 2 });
    const before = logs.length;
    await expect(host.callTool('progress', { fractions: [1] }, { timeoutMs, onProgress: () => { throw new Error('a bug in the integrator'); } })).resolves.toEqual({ reported: 1 });
    expect(logs.slice(before)).toContainEqual(expect.objectContaining({ level: 'warn', plugin: 'misbehaving', message: expect.stringContaining('a bug in the integrator') }));
  });

  it('is not delivered to a later call: a report belongs to the call that made it', async () => {
    const first: ToolProgress[] = [];
    const second: ToolProgress[] = [];
    await Promise.all([
      host.callTool('progress', { fractions: [0.5, 1], gapMs: 150 }, { timeoutMs, onProgress: (p) => first.push(p) }),
      host.callTool('progress', { fractions: [0.1] }, { timeoutMs, onProgress: (p) => second.push(p) }),
    ]);
    expect(first).toEqual([{ fraction: 0.5 }, { fraction: 1 }]);
    expect(second).toEqual([{ fraction: 0.1 }]);
  });
});
