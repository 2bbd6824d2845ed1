// Plugins written by hand in WAT, wrapped into components with wasm-tools:
// the contract and the sandbox do not depend on the guest being JavaScript.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '@airlock/host';
import { capabilityVariant, rejection } from '@airlock/test-utils';
import { CONTRACT_VERSION } from '@airlock/wit';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

let home: string;
let host: Host;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-wat-'));
  host = await createHost({ home, logger: () => {} });
  await host.load(fixture('spin-wat'));
  await host.load(fixture('grow-wat'));
  await host.load(fixture('big-wat'));
  await host.load(fixture('misbehaving'));
});

afterAll(async () => {
  await host.close();
  await rm(home, { recursive: true, force: true });
});

describe('hand-written WAT plugins', () => {
  it('are loaded and list their tools like any other', () => {
    const wat = host.tools().filter((t) => t.plugin.endsWith('-wat'));
    expect(wat.map((t) => [t.qualifiedName, t.risk, t.parameters])).toEqual([
      ['spin-wat.spin', 'read-only', { type: 'object' }],
      ['grow-wat.grow', 'read-only', { type: 'object' }],
      ['big-wat.big', 'read-only', { type: 'object' }],
    ]);
  });

  it('built against contract 0.1.0, are served by a host of a later 0.1 contract beside plugins built against it', () => {
    expect(CONTRACT_VERSION).not.toBe('0.1.0');
    const contracts = Object.fromEntries(host.plugins().map((p) => [p.id, p.contract]));
    expect(contracts).toEqual({ 'spin-wat': '0.1.0', 'grow-wat': '0.1.0', 'big-wat': '0.1.0', misbehaving: CONTRACT_VERSION });
  });

  it('are stopped at the deadline while other plugins keep serving', async () => {
    const spinning = host.callTool('spin-wat.spin', {});
    await expect(host.callTool('echo', { during: 'spin' })).resolves.toEqual({ during: 'spin' });
    const err = await rejection(spinning);
    expect(err.code).toBe('PLUGIN_TIMEOUT');
    expect(err.plugin).toBe('spin-wat');
  });

  it('are held to their memory cap, and a fresh instance serves the next call', async () => {
    const err = await rejection(host.callTool('grow', {}));
    expect(err.code).toBe('PLUGIN_MEMORY_LIMIT');
    expect(err.message).toContain('16 MiB');
    const again = await rejection(host.callTool('grow', {}));
    expect(again.code).toBe('PLUGIN_MEMORY_LIMIT');
    await expect(host.callTool('echo', { after: 'grow' })).resolves.toEqual({ after: 'grow' });
  });

  it('return a 100 MiB string: refused as too large in the plugin\'s thread, never reaching the host\'s heap', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const err = await rejection(host.callTool('big-wat.big', {}));
    expect(err.code).toBe('RESULT_TOO_LARGE');
    expect(Number(/returned (\d+) bytes/.exec(err.message)?.[1])).toBeGreaterThanOrEqual(100 * 1024 * 1024);
    expect(err.message).toContain('over the limit of 16777216 bytes');
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(50 * 1024 * 1024);
    await expect(host.callTool('echo', { after: 'big' })).resolves.toEqual({ after: 'big' });
    // The plugin's data was dropped with the result; the next call gets a fresh answer the same way.
    expect((await rejection(host.callTool('big-wat.big', {}))).code).toBe('RESULT_TOO_LARGE');
  });
});

describe('a hand-written WAT plugin using the host interfaces', () => {
  const lines: { level: string; message: string; plugin?: string }[] = [];
  let own: Host;
  let ownHome: string;

  beforeAll(async () => {
    ownHome = await mkdtemp(join(tmpdir(), 'airlock-wat-kv-'));
    own = await createHost({ home: ownHome, logger: (e) => void lines.push(e) });
    // The same component twice: with a storage grant and a configuration, and with neither.
    await own.load(await capabilityVariant(fixture('kv-wat'), ownHome, 'kv-granted', { storage: true }), { grant: 'manifest', config: { greeting: 'hi there' } });
    await own.load(await capabilityVariant(fixture('kv-wat'), ownHome, 'kv-bare', {}), { grant: {} });
  });

  afterAll(async () => {
    await own.close();
    await rm(ownHome, { recursive: true, force: true });
  });

  it('stores with a storage grant, and without one gets the host\'s typed refusal saying what to grant', async () => {
    expect(await own.callTool('kv-granted.put', { note: 'from wat' })).toBe('stored');
    expect(new TextDecoder().decode(await own.storageOf('kv-granted').get('k'))).toBe('{"note":"from wat"}');
    const refused = await rejection(own.callTool('kv-bare.put', { note: 'x' }));
    expect(refused).toMatchObject({ code: 'TOOL_FAILED', plugin: 'kv-bare', pluginCode: 'denied' });
    expect(refused.message).toBe('plugin `kv-bare` failed: plugin `kv-bare` holds no storage grant; add "storage": true to its manifest capabilities');
    expect(await own.storageOf('kv-bare').keys('')).toEqual([]);
  });

  it('reads its own configuration, and logs through the host under its id', async () => {
    expect(await own.callTool('kv-granted.greeting', {})).toBe('hi there');
    expect(await own.callTool('kv-bare.greeting', {})).toBeNull();
    expect(await own.callTool('kv-bare.hello', {})).toEqual({});
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', message: 'hello from wat', plugin: 'kv-bare' }));
  });

  it('is refused a token without a credentials grant, with the case the contract names', async () => {
    const refused = await rejection(own.callTool('kv-granted.token', {}));
    expect(refused).toMatchObject({ code: 'TOOL_FAILED', pluginCode: 'denied' });
    expect(refused.message).toContain('holds no credentials grant for `auth`: list "auth" in "capabilities.credentials" of its manifest');
  });

  it('is a plugin of contract 0.1.0, served as it was built', () => {
    expect(own.plugins().map((p) => [p.id, p.contract])).toEqual([
      ['kv-granted', '0.1.0'],
      ['kv-bare', '0.1.0'],
    ]);
  });
});

describe("a plugin importing an interface the integrator adds to the host", () => {
  let kbHome: string;
  const opened: Host[] = [];
  const open = async (options: Omit<Parameters<typeof createHost>[0], 'home'> = {}) => {
    const h = await createHost({ home: join(kbHome, `home-${opened.length}`), logger: () => {}, ...options });
    opened.push(h);
    return h;
  };
  const asked: [string, string][] = [];
  const interfaces = {
    'acme:kb/search': {
      query: (text: string, { plugin }: { plugin: string }) => {
        asked.push([plugin, text]);
        return JSON.stringify({ answer: `about ${JSON.parse(text).q}` });
      },
    },
  };

  beforeAll(async () => {
    kbHome = await mkdtemp(join(tmpdir(), 'airlock-wat-kb-'));
  });

  afterAll(async () => {
    await Promise.all(opened.map((h) => h.close()));
    await rm(kbHome, { recursive: true, force: true });
  });

  it('calls the integrator\'s functions with the WIT arguments and the plugin\'s id, when granted', async () => {
    const host = await open({ interfaces });
    await host.load(fixture('kb-wat'), { grant: 'manifest' });
    expect(await host.callTool('kb-wat.ask', { q: 'wasm' })).toEqual({ answer: 'about wasm' });
    expect(asked).toEqual([['kb-wat', '{"q":"wasm"}']]);
    expect(host.audit({ plugin: 'kb-wat' }).map((r) => [r.capability, r.action, r.target, r.outcome])).toEqual([['interfaces', 'query', 'acme:kb/search', 'allowed']]);
  });

  it('is refused at load by a host that does not offer the interface, naming it', async () => {
    const host = await open();
    const err = await rejection(host.load(fixture('kb-wat'), { grant: 'manifest' }));
    expect(err.code).toBe('COMPONENT_INVALID');
    expect(err.message).toBe('plugin `kb-wat` imports acme:kb/search@1.0.0, which this host does not provide');
  });

  it('is refused without the grant, and when its manifest does not name the interface it imports', async () => {
    const host = await open({ interfaces });
    const ungranted = await rejection(host.load(fixture('kb-wat'), { grant: {} }));
    expect(ungranted.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(ungranted.message).toContain('interfaces acme:kb/search');
    const unnamed = await rejection(host.load(await capabilityVariant(fixture('kb-wat'), kbHome, 'kb-silent', {}), { grant: 'manifest' }));
    expect(unnamed.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(unnamed.message).toBe('plugin `kb-silent` imports acme:kb/search, which its capabilities do not name');
    expect(host.plugins()).toEqual([]);
  });

  it('refuses interfaces the host cannot offer', async () => {
    for (const bad of [{ 'not an id': { f: () => 1 } }, { 'wasi:cli/environment': { f: () => 1 } }, { 'acme:kb/search': { query: 'no' } }]) {
      const err = await rejection(open({ interfaces: bad as never }));
      expect(err.code).toBe('HOST_OPTIONS_INVALID');
    }
  });
});
