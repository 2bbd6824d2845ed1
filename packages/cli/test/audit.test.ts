/**
 * `airlock audit`: the audit log of a home, written by a host that ran a
 * plugin, read back from the shell.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '@airlock/host';
import { parseSince } from '../src/audit.js';
import { airlockAt, fixtures, homeMaker, lines } from './helpers.js';

let base: string;
const newHome = homeMaker(() => base);

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-cli-audit-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('airlock audit', () => {
  it('shows what plugins did with their capabilities, filtered by plugin, outcome and time', async () => {
    const home = await newHome();
    const shared = join(base, 'shared');
    mkdirSync(shared, { recursive: true });
    writeFileSync(join(shared, 'a.txt'), 'a');
    // The misbehaving fixture, asking for a directory and a variable.
    const plugin = join(base, 'reader');
    mkdirSync(join(plugin, 'dist'), { recursive: true });
    const pkg = JSON.parse(readFileSync(`${fixtures}misbehaving/package.json`, 'utf8')) as { airlock: Record<string, unknown> };
    pkg.airlock.capabilities = { filesystem: [{ path: shared, access: 'read-only' }], env: ['MISBEHAVING_TOKEN'] };
    writeFileSync(join(plugin, 'package.json'), JSON.stringify(pkg));
    copyFileSync(`${fixtures}misbehaving/dist/plugin.wasm`, join(plugin, 'dist', 'plugin.wasm'));
    const host = await createHost({ home, logger: () => {}, env: { MISBEHAVING_TOKEN: 't' } });
    try {
      await host.load(plugin, { grant: 'manifest' });
      await host.callTool('misbehaving.fs', { op: 'read', path: 'a.txt' });
      await host.callTool('misbehaving.fs', { op: 'write', path: 'a.txt', text: 'b' });
    } finally {
      await host.close();
    }
    const all = await airlockAt(home, ['audit', '--json']);
    expect(all.code).toBe(0);
    const records = lines(all.out)[0] as unknown as { plugin: string; capability: string; action: string; outcome: string }[];
    expect(records.map((r) => [r.plugin, r.capability, r.action, r.outcome])).toEqual([
      ['misbehaving', 'env', 'expose', 'allowed'],
      ['misbehaving', 'filesystem', 'read', 'allowed'],
      ['misbehaving', 'filesystem', 'write', 'refused'],
    ]);
    const refused = await airlockAt(home, ['audit', '--refused', '--json']);
    expect((lines(refused.out)[0] as unknown as unknown[]).length).toBe(1);

    const table = await airlockAt(home, ['audit', 'misbehaving']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^TIME \(UTC\) +PLUGIN +CALL +CAPABILITY +ACTION +TARGET +OUTCOME\n/);
    expect(table.out).toMatch(/misbehaving +tool fs +filesystem +write +\S+a\.txt +refused: read-only\n/);
    expect((await airlockAt(home, ['audit', 'someone-else', '--json'])).out).toBe('[]\n');
    expect((await airlockAt(home, ['audit', '--since', '1d', '--json'])).out).toBe(all.out);
    expect((await airlockAt(home, ['audit', '--since', '2999-01-01', '--json'])).out).toBe('[]\n');
    const bad = await airlockAt(home, ['audit', '--since', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--since takes a duration (30m, 2h, 7d) or a date');
  });

  it('reads durations and dates', () => {
    const now = Date.UTC(2026, 11, 6, 12);
    expect(parseSince('30m', now)).toBe(now - 30 * 60_000);
    expect(parseSince('2h', now)).toBe(now - 2 * 3_600_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseSince('2026-12-06T10:00:00Z', now)).toBe(Date.UTC(2026, 11, 6, 10));
  });
});
