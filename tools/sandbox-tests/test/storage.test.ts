// A plugin calling the host's storage and credentials interfaces with
// whatever it likes: refusals come back as WIT errors it can catch, limits
// hold, and no plugin reaches another's data.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '@airlock/host';
import { CONTRACT_VERSION } from '@airlock/wit';
import { capabilityVariant } from '@airlock/test-utils';

const fixture = new URL('../fixtures/misbehaving', import.meta.url).pathname;

let base: string;
let host: Host;

const variant = (id: string, capabilities: Record<string, unknown>) => capabilityVariant(fixture, base, id, capabilities);

const storage = (plugin: string, args: Record<string, unknown>) => host.callTool(`${plugin}.storage`, args);

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-storage-'));
  host = await createHost({ home: join(base, 'home'), logger: () => {} });
  await host.load(await variant('keeper', { storage: { quotaBytes: 4096 } }), { grant: 'manifest' });
  await host.load(await variant('snoop', { storage: true }), { grant: 'manifest' });
  await host.load(await variant('nostore', {}));
});

afterAll(async () => {
  await host.close();
  await rm(base, { recursive: true, force: true });
});

describe('storage and credentials from a hostile plugin', () => {
  it('refuses storage to a plugin without the grant, as an error it can catch', async () => {
    expect(await storage('nostore', { op: 'set', key: 'k', size: 1 })).toMatchObject({ error: { tag: 'denied' } });
    await expect(host.callTool('nostore.echo', { still: 'alive' })).resolves.toEqual({ still: 'alive' });
  });

  it('keeps each plugin in its own namespace', async () => {
    expect(await storage('keeper', { op: 'set', key: 'secret', size: 10 })).toEqual({ ok: true });
    expect(await storage('snoop', { op: 'list', key: '' })).toEqual({ keys: [] });
    expect(await storage('snoop', { op: 'get', key: 'secret' })).toEqual({ value: null });
    expect(await storage('keeper', { op: 'get', key: 'secret' })).toEqual({ value: 10 });
  });

  it('enforces the quota without storing anything past it', async () => {
    expect(await storage('keeper', { op: 'set', key: 'big', size: 5000 })).toMatchObject({ error: { tag: 'quota-exceeded' } });
    expect(await storage('keeper', { op: 'get', key: 'big' })).toEqual({ value: null });
    expect(await storage('keeper', { op: 'get', key: 'secret' })).toEqual({ value: 10 });
  });

  it('answers huge or invalid arguments with errors, not crashes', async () => {
    expect(await storage('snoop', { op: 'set', key: 'k'.repeat(100_000), size: 1 })).toMatchObject({ error: { tag: 'invalid-key' } });
    expect(await storage('snoop', { op: 'set', key: '', size: 1 })).toMatchObject({ error: { tag: 'invalid-key' } });
    expect(await storage('snoop', { op: 'set', key: 'v', size: 2 * 1024 * 1024 })).toMatchObject({ error: { tag: 'value-too-large' } });
    await expect(storage('snoop', { op: 'list', key: '' })).resolves.toEqual({ keys: [] });
  });

  it('refuses a token from an auth plugin the grant does not name', async () => {
    expect(await host.callTool('snoop.token', { from: 'keeper' })).toMatchObject({ error: { tag: 'denied' } });
    // And the audit log says so.
    expect(host.audit({ plugin: 'snoop', capability: 'credentials' })).toEqual([
      expect.objectContaining({ call: 'tool token', action: 'get-token', target: 'keeper', outcome: 'refused', detail: expect.stringContaining('holds no credentials grant for `keeper`') }),
    ]);
  });

  it('tries a package without keeping it: host.trial starts it beside the loaded copy and returns what it read', async () => {
    const before = host.plugins();
    const dir = await variant('keeper', { storage: { quotaBytes: 4096 } });
    const trial = await host.trial(dir, { grant: 'manifest' });
    expect(trial).toMatchObject({ manifest: { id: 'keeper', kind: 'tool' }, sha256: before.find((p) => p.id === 'keeper')!.sha256, capabilities: { storage: { quotaBytes: 4096 } } });
    expect(trial.contract).toBe(CONTRACT_VERSION);
    expect(host.plugins()).toEqual(before);
    // The trial wrote nothing to the loaded copy's data, and the loaded copy still serves.
    expect(await storage('keeper', { op: 'get', key: 'secret' })).toEqual({ value: 10 });
    const refused = await host.trial(dir, { grant: {} }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'CAPABILITY_NOT_GRANTED', message: expect.stringContaining('asks for storage') });
  });
});
