// The audit log, from a plugin using its capabilities: a call that reads a
// file and fetches an origin leaves exactly those records, refusals included,
// with no secret in them; the log outlives the host and stays bounded.
import { once } from 'node:events';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type AuditRecord, type Host } from '@airlock/host';
import { capabilityVariant } from '@airlock/test-utils';

const fixture = new URL('../fixtures/misbehaving', import.meta.url).pathname;
const SECRET = 'sk-audit-0123456789abcdef';

let base: string;
let shared: string;
let host: Host;
let server: Server;
let origin: string;

beforeAll(async () => {
  base = realpathSync(await mkdtemp(join(tmpdir(), 'airlock-audit-')));
  shared = join(base, 'shared');
  mkdirSync(shared);
  writeFileSync(join(shared, 'notes.txt'), 'kept');
  server = createServer((req, res) => req.resume().on('end', () => res.end('ok')));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  host = await createHost({ home: join(base, 'home'), logger: () => {}, env: { AUDIT_API_KEY: SECRET, AUDIT_REGION: 'eu', UNRELATED: 'x' } });
  await host.load(await capabilityVariant(fixture, base, 'auditor', { filesystem: [{ path: shared, access: 'read-only' }], http: [origin], env: ['AUDIT_*'] }), { grant: 'manifest' });
});

afterAll(async () => {
  await host.close();
  server.close();
  await rm(base, { recursive: true, force: true });
});

/** The records of `plugin` without their time and sequence number. */
const records = (h: Host, plugin: string) => h.audit({ plugin }).map(({ seq: _seq, at: _at, ...r }) => r);

describe('the audit log', () => {
  it('records exactly what each call did with its capabilities, allowed and refused, without a secret', async () => {
    expect(records(host, 'auditor')).toEqual([
      { plugin: 'auditor', call: 'start', capability: 'env', action: 'expose', target: 'AUDIT_API_KEY', outcome: 'allowed', detail: undefined },
      { plugin: 'auditor', call: 'start', capability: 'env', action: 'expose', target: 'AUDIT_REGION', outcome: 'allowed', detail: undefined },
    ]);
    const before = host.audit({ plugin: 'auditor' }).length;

    expect(await host.callTool('auditor.fs', { op: 'read', path: 'notes.txt' })).toEqual({ text: 'kept' });
    expect(await host.callTool('auditor.fs', { op: 'write', path: 'notes.txt', text: 'changed' })).toMatchObject({ error: expect.anything() });
    expect(await host.callTool('auditor.fs', { op: 'read', path: '../home/state.db' })).toMatchObject({ error: expect.anything() });
    expect(await host.callTool('auditor.fetch', { url: `${origin}/items?key=${SECRET}` })).toMatchObject({ status: 200 });
    expect(await host.callTool('auditor.fetch', { url: 'https://elsewhere.example.com/x' })).toMatchObject({ rejected: true });

    const after = records(host, 'auditor').slice(before);
    expect(after).toEqual([
      { plugin: 'auditor', call: 'tool fs', capability: 'filesystem', action: 'read', target: join(shared, 'notes.txt'), outcome: 'allowed', detail: undefined },
      { plugin: 'auditor', call: 'tool fs', capability: 'filesystem', action: 'write', target: join(shared, 'notes.txt'), outcome: 'refused', detail: 'read-only' },
      { plugin: 'auditor', call: 'tool fs', capability: 'filesystem', action: 'read', target: join(base, 'home', 'state.db'), outcome: 'refused', detail: 'not-permitted' },
      { plugin: 'auditor', call: 'tool fetch', capability: 'http', action: 'GET', target: `${origin}/items`, outcome: 'allowed', detail: undefined },
      {
        plugin: 'auditor',
        call: 'tool fetch',
        capability: 'http',
        action: 'GET',
        target: 'https://elsewhere.example.com/x',
        outcome: 'refused',
        detail: 'GET https://elsewhere.example.com: plugin `auditor` holds no http grant for this origin',
      },
    ]);
    expect(JSON.stringify(host.audit())).not.toContain(SECRET);
  });

  it('is queryable by capability, outcome and time, and read by another host on the same home', async () => {
    const refused = host.audit({ plugin: 'auditor', outcome: 'refused' });
    expect(refused.map((r) => r.capability)).toEqual(['filesystem', 'filesystem', 'http']);
    expect(host.audit({ capability: 'env' }).map((r) => r.target)).toEqual(['AUDIT_API_KEY', 'AUDIT_REGION']);
    const last = refused.at(-1)!;
    expect(host.audit({ since: last.at + 60_000 })).toEqual([]);
    expect(host.audit({ plugin: 'auditor', limit: 2 }).map((r) => r.seq)).toEqual(host.audit({ plugin: 'auditor' }).slice(-2).map((r) => r.seq));

    // A second process on the home (the CLI, say) reads the same log.
    const reader = await createHost({ home: join(base, 'home'), logger: () => {} });
    try {
      expect(reader.audit({ plugin: 'auditor' })).toEqual(host.audit({ plugin: 'auditor' }));
    } finally {
      await reader.close();
    }
  });

  it('stays bounded: past maxRecords, the oldest records go', async () => {
    const small = await createHost({ home: join(base, 'home-small'), logger: () => {}, audit: { maxRecords: 5 } });
    try {
      await small.load(await capabilityVariant(fixture, base, 'reader-small', { filesystem: [{ path: shared, access: 'read-only' }] }), { grant: 'manifest' });
      for (let i = 0; i < 12; i++) await small.callTool('reader-small.fs', { op: 'read', path: 'notes.txt' });
      const kept: AuditRecord[] = small.audit();
      expect(kept).toHaveLength(5);
      expect(kept.every((r) => r.action === 'read')).toBe(true);
      expect(kept.map((r) => r.seq)).toEqual([8, 9, 10, 11, 12]);
    } finally {
      await small.close();
    }
  });
});

// A window no test run crosses: counts never reset under a test's feet.
const YEAR_MS = 365 * 86_400_000;

describe('quotas', () => {
  it('refuse what goes past a quota as the capability refuses anything, record it, and keep serving', async () => {
    const limited = await createHost({
      home: join(base, 'home-quotas'),
      logger: () => {},
      quotas: { windowMs: YEAR_MS, httpRequests: 100, plugins: { metered: { windowMs: YEAR_MS, httpRequests: 2, httpBytesOut: 8, fileOperations: 3, storageWrites: 1 } } },
    });
    try {
      await limited.load(await capabilityVariant(fixture, base, 'metered', { filesystem: [{ path: shared, access: 'read-only' }], http: [origin], storage: true }), { grant: 'manifest' });
      // HTTP: two requests, the second over the bytes quota; the third over the request quota.
      expect(await limited.callTool('metered.fetch', { url: `${origin}/a`, method: 'POST', body: 'hello' })).toMatchObject({ status: 200 });
      expect(await limited.callTool('metered.fetch', { url: `${origin}/b`, method: 'POST', body: 'hello' })).toMatchObject({ rejected: true });
      expect(await limited.callTool('metered.fetch', { url: `${origin}/c` })).toMatchObject({ status: 200 });
      expect(await limited.callTool('metered.fetch', { url: `${origin}/d` })).toMatchObject({ rejected: true });
      // Files: three operations, then `quota`.
      for (let i = 0; i < 3; i++) expect(await limited.callTool('metered.fs', { op: 'read', path: 'notes.txt' })).toEqual({ text: 'kept' });
      expect(await limited.callTool('metered.fs', { op: 'read', path: 'notes.txt' })).toMatchObject({ error: 'quota' });
      // Storage: one write, then quota-exceeded; reads are not writes.
      expect(await limited.callTool('metered.storage', { op: 'set', key: 'k', size: 1 })).toEqual({ ok: true });
      expect(await limited.callTool('metered.storage', { op: 'set', key: 'k2', size: 1 })).toMatchObject({ error: { tag: 'quota-exceeded', val: 'quota reached: at most 1 storage writes per 31536000 s' } });
      expect(await limited.callTool('metered.storage', { op: 'get', key: 'k' })).toEqual({ value: 1 });

      const refused = limited.audit({ plugin: 'metered', outcome: 'refused' }).map((r) => [r.capability, r.action, r.detail]);
      expect(refused).toEqual([
        ['http', 'POST', 'quota reached: at most 8 bytes of HTTP request bodies per 31536000 s'],
        ['http', 'GET', 'quota reached: at most 2 HTTP requests per 31536000 s'],
        ['filesystem', 'read', 'quota reached: at most 3 file operations per 31536000 s'],
        ['storage', 'set', 'quota reached: at most 1 storage writes per 31536000 s'],
      ]);
      // Refused, never failed: the plugin still answers.
      expect(await limited.callTool('metered.echo', { still: 'here' })).toEqual({ still: 'here' });
    } finally {
      await limited.close();
    }
  });

  it('refuses malformed quotas when the host is created', async () => {
    const err = await createHost({ home: join(base, 'home-bad-quotas'), quotas: { httpRequests: -1 } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'HOST_OPTIONS_INVALID', message: 'quotas.httpRequests must be a whole number, got -1' });
  });
});
