// A TypeScript plugin built with airlock-plugin against an interface the
// integrator adds to the host (fixtures/kb-tool: `import { query } from
// 'acme:kb/search'`, the integrator's WIT in its wit/ folder).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host, type HostInterface } from '@airlock/host';
import { capabilityVariant, rejection } from '@airlock/test-utils';

const kbTool = new URL('../fixtures/kb-tool', import.meta.url).pathname;

describe('a TypeScript plugin importing an interface the integrator adds', () => {
  let home: string;
  const opened: Host[] = [];
  const open = async (interfaces?: Record<string, HostInterface>) => {
    const h = await createHost({ home: join(home, `home-${opened.length}`), logger: () => {}, ...(interfaces ? { interfaces } : {}) });
    opened.push(h);
    return h;
  };

  /** The integrator's knowledge base: three passages, and a query it cannot answer. */
  const asked: [string, string, number][] = [];
  const kb: HostInterface = {
    query: (text: string, limit: number, { plugin }: { plugin: string }) => {
      asked.push([plugin, text, limit]);
      // The WIT error case of `result<list<hit>, string>`: thrown as the value itself.
      if (text === 'forbidden') throw `the knowledge base does not answer "${text}"`;
      return [
        { title: `${text}: basics`, score: 0.9 },
        { title: `${text}: details`, score: 0.5 },
        { title: `${text}: history`, score: 0.1 },
      ].slice(0, limit);
    },
  };

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'airlock-interfaces-'));
  });

  afterAll(async () => {
    await Promise.all(opened.map((h) => h.close()));
    await rm(home, { recursive: true, force: true });
  });

  it("reaches the integrator's function with the WIT arguments and the plugin's id, and returns its answer, when granted", async () => {
    const host = await open({ 'acme:kb/search': kb });
    await host.load(kbTool, { grant: 'manifest' });
    expect(await host.callTool('kb-tool.ask', { q: 'wasm', limit: 2 })).toEqual({ answered: true, titles: ['wasm: basics', 'wasm: details'], best: 0.9 });
    expect(asked).toEqual([['kb-tool', 'wasm', 2]]);
    expect(host.audit({ plugin: 'kb-tool' }).map((r) => [r.capability, r.action, r.target, r.outcome])).toEqual([['interfaces', 'query', 'acme:kb/search', 'allowed']]);
  });

  it("hands the plugin the integrator's error case as an error value it can handle", async () => {
    const host = await open({ 'acme:kb/search': kb });
    await host.load(kbTool, { grant: 'manifest' });
    expect(await host.callTool('kb-tool.ask', { q: 'forbidden' })).toEqual({ answered: false, reason: 'the knowledge base does not answer "forbidden"' });
    // The plugin's instance is unharmed: the next call is answered.
    expect(await host.callTool('kb-tool.ask', { q: 'wit', limit: 1 })).toEqual({ answered: true, titles: ['wit: basics'], best: 0.9 });
  });

  it('is refused at load with CAPABILITY_NOT_GRANTED when its manifest does not name the interface, or the user did not grant it', async () => {
    const host = await open({ 'acme:kb/search': kb });
    const unnamed = await rejection(host.load(await capabilityVariant(kbTool, home, 'kb-unnamed', {}), { grant: 'manifest' }));
    expect(unnamed.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(unnamed.message).toBe('plugin `kb-unnamed` imports acme:kb/search, which its capabilities do not name');
    const ungranted = await rejection(host.load(kbTool, { grant: {} }));
    expect(ungranted.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(ungranted.message).toContain('interfaces acme:kb/search');
    expect(host.plugins()).toEqual([]);
  });

  it('is refused at load by a host that does not offer the interface, naming it', async () => {
    const host = await open();
    const err = await rejection(host.load(kbTool, { grant: 'manifest' }));
    expect(err.code).toBe('COMPONENT_INVALID');
    expect(err.message).toBe('plugin `kb-tool` imports acme:kb/search@1.0.0, which this host does not provide');
  });
});
