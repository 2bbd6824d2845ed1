/**
 * What a plugin's worker holds, through `host.memoryUsage()`: a discarded
 * instance does not outlive a collection, and an instance that outgrew its
 * first call is replaced between calls (`limits.instanceGrowthMb`), or kept
 * when that is turned off. And `host.ping`, the round trip to the worker that
 * runs no plugin code.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pluginVariant, rejection } from '@airlock/test-utils';
import { createHost, type Host, type HostLimits, type WorkerMemory } from '@airlock/host';

const fixture = new URL('../fixtures/misbehaving', import.meta.url).pathname;
const MiB = 1024 * 1024;

const open: { host: Host; home: string }[] = [];

async function hostWith(limits: HostLimits = {}): Promise<Host> {
  const home = await mkdtemp(join(tmpdir(), 'airlock-memory-'));
  // Plugins hit their memory limit here again and again on purpose: never held in `failed`.
  const host = await createHost({ home, logger: () => {}, limits, failures: false });
  open.push({ host, home });
  await host.load(fixture);
  return host;
}

async function parked(host: Host): Promise<number> {
  const [plugin] = await host.memoryUsage();
  return plugin!.parked;
}

async function worker(host: Host): Promise<WorkerMemory> {
  const [plugin] = await host.memoryUsage({ collect: true });
  expect(plugin?.id).toBe('misbehaving');
  expect(plugin?.workers).toHaveLength(1);
  return plugin!.workers[0]!;
}

afterEach(async () => {
  for (const { host, home } of open.splice(0)) {
    await host.close();
    await rm(home, { recursive: true, force: true });
  }
});

describe('a plugin worker’s memory', () => {
  it('is reported per instance: linear memory, heap, and the wasm memories alive after a collection', async () => {
    const host = await hostWith();
    await host.callTool('echo', {});
    const w = await worker(host);
    expect(w.linearBytes).toBeGreaterThan(MiB);
    expect(w.instanceMemories).toBeGreaterThanOrEqual(1);
    expect(w.wasmMemories).toBe(w.instanceMemories);
    expect(w.heapUsedBytes).toBeGreaterThan(0);
    expect(w.resources).toBe(0);
    // Without `collect`, nothing is collected and nothing is counted.
    const [quick] = await host.memoryUsage();
    expect(quick!.workers[0]!.wasmMemories).toBeUndefined();
  });

  it('does not keep a trapped instance alive: after five traps, only the current instance’s memories remain', async () => {
    const host = await hostWith();
    await host.callTool('echo', {});
    for (let i = 0; i < 5; i++) expect((await rejection(host.callTool('trap', {}))).code).toBe('PLUGIN_TRAPPED');
    await expect(host.callTool('echo', { after: 'traps' })).resolves.toEqual({ after: 'traps' });
    const w = await worker(host);
    expect(w.wasmMemories).toBe(w.instanceMemories);
  });

  it('replaces an instance that outgrew its first call by more than instanceGrowthMb, between calls', async () => {
    const host = await hostWith({ instanceGrowthMb: 2 });
    await host.callTool('echo', {});
    const before = await worker(host);
    // A 4 MiB string (and its JSON) grows the guest's memory well past 2 MiB; the call still answers.
    // The fixture's 1.5 s deadline is for its misbehaving tools; a 4 MiB answer on a busy machine may take longer.
    const big = (await host.callTool('big', { mb: 4 }, { timeoutMs: 120_000 })) as string;
    expect(big).toHaveLength(4 * MiB);
    const after = await worker(host);
    expect(after.linearBytes).toBe(before.linearBytes);
    expect(after.wasmMemories).toBe(after.instanceMemories);
    await expect(host.callTool('echo', { after: 'recycle' })).resolves.toEqual({ after: 'recycle' });
  });

  it('keeps a grown instance when instanceGrowthMb is 0', async () => {
    const host = await hostWith({ instanceGrowthMb: 0 });
    await host.callTool('echo', {});
    const before = await worker(host);
    await host.callTool('big', { mb: 4 }, { timeoutMs: 120_000 });
    const after = await worker(host);
    expect(after.linearBytes).toBeGreaterThan(before.linearBytes + 2 * MiB);
  });

  it('hands a reloaded plugin’s thread to its next instance: reloads alternate between two threads, and nothing of the old one stays', async () => {
    const home = await mkdtemp(join(tmpdir(), 'airlock-memory-'));
    const host = await createHost({ home, logger: () => {}, env: { AIRLOCK_PROBE: 'granted' } });
    open.push({ host, home });
    const version = (v: string, env: string[]) =>
      pluginVariant(fixture, join(home, 'src', v), (pkg) => {
        (pkg as { version?: string }).version = v;
        pkg.airlock.capabilities = { env };
      });
    const environment = () => host.callTool('env', {});
    await host.registry.install(await version('1.0.0', []), { grant: 'manifest' });
    await host.loadInstalled();
    expect(await environment()).toEqual({});
    const first = (await worker(host)).threadId;
    expect(await parked(host)).toBe(0);

    // The new version starts while the old one may still have calls to finish, so on a thread of its own.
    await (await host.registry.update('misbehaving', await version('2.0.0', ['AIRLOCK_PROBE']))).apply({ grant: 'manifest' });
    expect(await environment()).toEqual({ AIRLOCK_PROBE: 'granted' });
    expect((await worker(host)).threadId).not.toBe(first);
    // Once its calls are done, the old version's thread waits for the next reload.
    await vi.waitFor(async () => expect(await parked(host)).toBe(1), { timeout: 30_000, interval: 20 });

    // The next version takes that thread over, with its own grant: the thread ran 1.0.0, which saw no environment.
    await (await host.registry.update('misbehaving', await version('3.0.0', ['AIRLOCK_PROBE']))).apply({ grant: 'manifest' });
    expect(host.plugins().map((p) => p.version)).toEqual(['3.0.0']);
    expect(await environment()).toEqual({ AIRLOCK_PROBE: 'granted' });
    const reused = await worker(host);
    expect(reused.threadId).toBe(first);
    // Only the new instance's memories are alive in the reused thread.
    expect(reused.wasmMemories).toBe(reused.instanceMemories);
    await vi.waitFor(async () => expect(await parked(host)).toBe(1), { timeout: 30_000, interval: 20 });

    // It serves like a new thread: a trap replaces the instance, the next call answers.
    expect((await rejection(host.callTool('trap', {}))).code).toBe('PLUGIN_TRAPPED');
    await expect(host.callTool('echo', { after: 'trap' })).resolves.toEqual({ after: 'trap' });
    expect((await worker(host)).threadId).toBe(first);
  });

  it('does not park the thread of a plugin that is unloaded', async () => {
    const host = await hostWith();
    await host.callTool('echo', {});
    await host.unload('misbehaving');
    expect(await host.memoryUsage()).toEqual([]);
    await host.load(fixture);
    expect((await host.memoryUsage())[0]!.parked).toBe(0);
  });
});

describe('host.ping', () => {
  it('reaches the plugin’s thread behind the calls already queued, is not counted as a call, and names a plugin that is not loaded', async () => {
    const host = await hostWith();
    const order: string[] = [];
    const slow = host.callTool('sleep', { ms: 50 }).then(() => order.push('call'));
    const ping = host.ping('misbehaving').then(() => order.push('ping'));
    await Promise.all([slow, ping]);
    expect(order).toEqual(['call', 'ping']);
    // It is not one of the plugin's calls: its metrics do not count it.
    const calls = (await host.metrics())[0]!.calls;
    await host.ping('misbehaving');
    expect((await host.metrics())[0]!.calls).toBe(calls);
    await host.callTool('echo', { text: 'hi' });
    expect((await host.metrics())[0]!.calls).toBe(calls + 1);
    const err = await rejection(host.ping('nobody'));
    expect(err).toMatchObject({ code: 'PLUGIN_NOT_FOUND', message: 'no plugin `nobody` is loaded' });
  });
});
