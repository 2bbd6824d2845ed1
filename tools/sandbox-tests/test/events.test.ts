// Events and the lifecycle hooks with real components (contract 0.1.2): a
// plugin publishes on the topics it was granted and is refused the others,
// receives what it subscribes to through its on-event hook, in order; a slow
// subscriber loses its oldest events without slowing the publisher; a cycle
// between two plugins is cut; `init` runs in every new instance and can refuse
// a start; `shutdown` runs before an instance is retired, within a deadline.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHost, type Host, type LogEntry, type PublishedEvent } from '@airlock/host';
import { capabilityVariant, pluginVariant, rejection } from '@airlock/test-utils';

const fixture = new URL('../fixtures/misbehaving', import.meta.url).pathname;

let base: string;
const hosts: Host[] = [];
const logs: LogEntry[] = [];

async function open(options: Omit<Parameters<typeof createHost>[0], 'home'> = {}): Promise<Host> {
  const host = await createHost({ logger: (e) => void logs.push(e), failures: false, ...options, home: join(base, `home-${hosts.length}`) });
  hosts.push(host);
  return host;
}

/** The fixture as plugin `id`, asking for `capabilities`. */
const variant = (id: string, capabilities: Record<string, unknown>) => capabilityVariant(fixture, base, id, capabilities);

/** What the plugin's hooks saw in its current instance. */
const life = (host: Host, id: string) => host.callTool(`${id}.lifecycle`, {}) as Promise<{ inited: boolean; config: Record<string, unknown>; received: { topic: string; payload: unknown }[] }>;

/** Wait until the events for `id` have all been handled or dropped. */
const drained = (host: Host, id: string, expected: number) =>
  vi.waitFor(
    async () => {
      const m = (await host.metrics()).find((p) => p.id === id)!;
      expect(m.events.queued).toBe(0);
      expect(m.events.delivered + m.events.dropped).toBe(expected);
    },
    { timeout: 30_000, interval: 10 },
  );

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-events-'));
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  await rm(base, { recursive: true, force: true });
});

describe('events', () => {
  it('go from a plugin to the host and to plugins subscribed, never back to the publisher; an ungranted topic is refused with what to grant', async () => {
    const host = await open();
    await host.load(await variant('writer', { events: { publish: ['notes.*'] } }), { grant: 'manifest' });
    await host.load(await variant('reader', { events: { subscribe: ['notes.saved'] } }), { grant: 'manifest' });
    const heard: PublishedEvent[] = [];
    host.subscribe('notes.*', (e) => heard.push(e));

    expect(await host.callTool('writer.emit', { topic: 'notes.saved', payload: { id: 1 } })).toEqual({ published: true });
    expect(await host.callTool('writer.emit', { topic: 'notes.deleted', payload: { id: 2 } })).toEqual({ published: true });
    expect(heard).toEqual([
      { topic: 'notes.saved', payload: { id: 1 }, from: 'writer' },
      { topic: 'notes.deleted', payload: { id: 2 }, from: 'writer' },
    ]);
    const refused = (await host.callTool('writer.emit', { topic: 'files.changed', payload: {} })) as { error: { tag: string; val: string } };
    expect(refused.error).toEqual({
      tag: 'denied',
      val: 'plugin `writer` holds no events grant to publish on `files.changed`: list "files.changed" in "capabilities.events.publish" of its manifest, and have the user grant it',
    });
    // The reader subscribes to one of the two topics, and nothing else reaches it.
    const notGranted = (await host.callTool('reader.emit', { topic: 'notes.saved', payload: {} })) as { error: { tag: string } };
    expect(notGranted.error.tag).toBe('denied');
    await drained(host, 'reader', 1);
    expect((await life(host, 'reader')).received).toEqual([{ topic: 'notes.saved', payload: { id: 1 } }]);
    expect((await life(host, 'writer')).received).toEqual([]);

    const [writer] = (await host.metrics()).filter((m) => m.id === 'writer');
    expect(writer!.events).toEqual({ published: 2, delivered: 0, dropped: 0, queued: 0 });
    const audited = host.audit({ plugin: 'writer' }).filter((r) => r.capability === 'events');
    expect(audited.map((r) => [r.action, r.target, r.outcome])).toEqual([
      ['publish', 'notes.saved', 'allowed'],
      ['publish', 'notes.deleted', 'allowed'],
      ['publish', 'files.changed', 'refused'],
    ]);
  });

  it('reach a plugin only with a subscribe grant: a manifest asking for one is refused without it, naming it', async () => {
    const host = await open();
    const err = await rejection(host.load(await variant('eavesdropper', { events: { subscribe: ['secrets.*'] } }), { grant: {} }));
    expect(err.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(err.message).toContain('events subscribe:secrets.*');
  });

  it('reach a slow subscriber in order, and past its bound it loses the oldest while the publisher never waits', async () => {
    const host = await open({ events: { maxQueued: 16 } });
    await host.load(await variant('busy', { events: { subscribe: ['tick'] } }), { grant: 'manifest' });
    for (let i = 0; i < 100; i++) host.publish('tick', { i });
    await drained(host, 'busy', 100);
    const { received } = await life(host, 'busy');
    const order = received.map((e) => (e.payload as { i: number }).i);
    // The first was on its way when the rest were published; of those, the newest 16 waited.
    expect(order).toEqual([0, ...Array.from({ length: 16 }, (_, k) => 84 + k)]);
    expect((await host.metrics()).find((m) => m.id === 'busy')!.events).toEqual({ published: 0, delivered: 17, dropped: 83, queued: 0 });
    expect(logs.some((e) => e.plugin === 'busy' && e.message.includes('arrive faster than it handles them'))).toBe(true);
  });

  it('cut a cycle between two plugins that publish on each other\'s topic', async () => {
    const host = await open();
    const ping = await pluginVariant(fixture, join(base, 'ping'), (pkg) => {
      pkg.name = 'ping';
      pkg.airlock.capabilities = { events: { subscribe: ['ball.ping'], publish: ['ball.pong'] } };
    });
    const pong = await pluginVariant(fixture, join(base, 'pong'), (pkg) => {
      pkg.name = 'pong';
      pkg.airlock.capabilities = { events: { subscribe: ['ball.pong'], publish: ['ball.ping'] } };
    });
    await host.load(ping, { grant: 'manifest', config: { bounceTo: 'ball.pong' } });
    await host.load(pong, { grant: 'manifest', config: { bounceTo: 'ball.ping' } });
    host.publish('ball.ping', { bounce: true });
    // Hops 0, 2, 4, 6, 8 reach ping; 1, 3, 5, 7 reach pong; ping's publish at hop 8 is refused.
    await drained(host, 'ping', 5);
    await drained(host, 'pong', 4);
    const pings = (await life(host, 'ping')).received;
    expect(pings.filter((e) => e.topic === 'ball.ping')).toHaveLength(5);
    expect(pings.at(-1)).toEqual({ topic: '(refused)', payload: { tag: 'invalid', val: expect.stringContaining('a cycle between subscribers?') } });
    expect((await life(host, 'pong')).received).toHaveLength(4);
  });
});

describe('lifecycle hooks', () => {
  it('run init with the configuration in every new instance, before its first call', async () => {
    const host = await open();
    await host.load(await variant('configured', {}), { config: { note: 'hello' } });
    expect(await life(host, 'configured')).toMatchObject({ inited: true, config: { note: 'hello' } });
    // A trap discards the instance; the next one runs init again before serving.
    expect((await rejection(host.callTool('configured.trap', {}))).code).toBe('PLUGIN_TRAPPED');
    expect(await life(host, 'configured')).toMatchObject({ inited: true, config: { note: 'hello' }, received: [] });
  });

  it('fail the load when init refuses, with its message', async () => {
    const host = await open();
    const err = await rejection(host.load(await variant('refuser', {}), { config: { initFail: 'no region configured' } }));
    expect(err.code).toBe('PLUGIN_INIT_FAILED');
    expect(err.message).toBe('plugin `refuser` did not start: its init said: no region configured');
    expect(host.plugins()).toEqual([]);
  });

  it('run shutdown before an instance is retired, and stop one that overruns its deadline', async () => {
    // A deadline no busy machine reaches for the hook that finishes; a short one for the hook that never does.
    const host = await open({ limits: { shutdownMs: 60_000 } });
    const dir = await variant('tidy', { storage: true, events: { subscribe: ['tick'] } });
    await host.load(dir, { grant: 'manifest' });
    host.publish('tick', {});
    await drained(host, 'tidy', 1);
    await host.unload('tidy');
    // What shutdown stored is there for the next start.
    await host.load(dir, { grant: 'manifest' });
    expect(await host.callTool('tidy.storage', { op: 'get', key: 'shutdown' })).toEqual({ value: 'clean after 1 events'.length });

    const impatient = await open({ limits: { shutdownMs: 200 } });
    await impatient.load(await variant('stuck', {}), { config: { shutdownSpin: true } });
    await impatient.callTool('stuck.echo', {});
    await impatient.unload('stuck');
    expect(logs.some((e) => e.plugin === 'stuck' && e.message === 'its shutdown hook did not finish within 200 ms; it was stopped')).toBe(true);
    expect(impatient.plugins()).toEqual([]);
    expect(host.plugins().map((p) => p.id)).toEqual(['tidy']);
  });
});
