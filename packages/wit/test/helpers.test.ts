import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  CONTRACT_VERSION,
  WORLDS,
  contractSource,
  exportNameFor,
  interfaceId,
  parseInterfaceId,
  isServedContract,
  witDir,
  worldFor,
} from '../src/index.js';

describe('contractSource', () => {
  it('is every file of the contract under one package line, at this version or the one asked for', async () => {
    const one = await contractSource();
    expect(one.match(/^package .*;$/gm)).toEqual([`package airlock:plugin@${CONTRACT_VERSION};`]);
    for (const f of readdirSync(witDir()).filter((f) => f.endsWith('.wit'))) {
      const items = readFileSync(join(witDir(), f), 'utf8').replace(/^package .*;$/m, '');
      expect(one).toContain(items);
    }
    expect((await contractSource('0.1.0')).split('\n')[0]).toBe('package airlock:plugin@0.1.0;');
  });

  it('has the worlds as they were at an earlier version: what was added since is left out', async () => {
    const worlds = (source: string) => [...source.matchAll(/^\s*(import|export) [\w-]+;$/gm)].map((m) => m[0].trim());
    const now = worlds(await contractSource());
    expect(now).toContain('import events;');
    expect(now).toContain('export lifecycle;');
    const v011 = worlds(await contractSource('0.1.1'));
    expect(v011).toContain('import progress;');
    expect(v011).not.toContain('import events;');
    expect(v011).not.toContain('export lifecycle;');
    expect(worlds(await contractSource('0.1.0'))).not.toContain('import progress;');
    expect(v011.filter((item) => item === 'export tool;')).toHaveLength(1);
  });

  it('takes an earlier line from its release, whole: 0.1 has the one-event `next` and no 0.2 kinds', async () => {
    const v01 = await contractSource('0.1.2');
    expect(v01).toContain('next: func() -> result<option<chat-event>, provider-error>;');
    expect(v01).not.toMatch(/world hook-plugin|interface hook|is-available|signed-in: func/);
    const now = await contractSource();
    expect(now).toContain('next: func() -> result<list<chat-event>, provider-error>;');
    expect(now).toMatch(/world hook-plugin/);
    await expect(contractSource('0.3.0')).rejects.toThrow(/no release line of the contract holds 0\.3\.0/);
  });
});

describe('isServedContract', () => {
  it.each([
    ['0.1.0', true],
    ['0.1.2', true],
    ['0.1.3', false],
    [CONTRACT_VERSION, true],
    ['0.2.1', false],
    ['0.3.0', false],
    ['1.0.0', false],
    ['0.2.0-rc.1', false],
    ['nonsense', false],
  ])('%s: %s', (version, served) => {
    expect(isServedContract(version)).toBe(served);
  });
});

describe('witDir', () => {
  it('is the shipped copy of the repository WIT', () => {
    const dir = witDir();
    expect(isAbsolute(dir)).toBe(true);
    const source = join(import.meta.dirname, '../../../wit');
    const files = readdirSync(source).filter((f) => f.endsWith('.wit')).sort();
    expect(readdirSync(dir).filter((f) => f.endsWith('.wit')).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8')).toBe(readFileSync(join(source, f), 'utf8'));
    // With the earlier release lines, whole.
    for (const version of readdirSync(join(source, 'releases'))) {
      for (const f of readdirSync(join(source, 'releases', version))) {
        expect(readFileSync(join(dir, 'releases', version, f), 'utf8')).toBe(readFileSync(join(source, 'releases', version, f), 'utf8'));
      }
    }
  });

  it('resolves to the package root wit/, not src/wit', () => {
    expect(witDir()).toBe(join(import.meta.dirname, '..', 'wit'));
    expect(existsSync(join(witDir(), 'worlds.wit'))).toBe(true);
  });
});

describe('worldFor / exportNameFor', () => {
  it('maps every kind to its world and JS export name', () => {
    expect(worldFor('auth')).toBe('auth-plugin');
    expect(worldFor('tool')).toBe('tool-plugin');
    expect(worldFor('provider')).toBe('provider-plugin');
    expect(exportNameFor('auth')).toBe('auth');
    expect(exportNameFor('tool')).toBe('tool');
    expect(exportNameFor('provider')).toBe('provider');
  });

  it('matches the export names jco gives each world', () => {
    // The generated host world declares `export * as <js-name> from './interfaces/...'`.
    for (const kind of Object.keys(WORLDS) as (keyof typeof WORLDS)[]) {
      const world = readFileSync(join(import.meta.dirname, `../types/host/${worldFor(kind)}.d.ts`), 'utf8');
      expect(world).toMatch(new RegExp(`^export \\* as ${exportNameFor(kind)} from `, 'm'));
    }
  });
});

describe('interfaceId', () => {
  it('qualifies a name with the package and contract version', () => {
    expect(interfaceId('tool')).toBe('airlock:plugin/tool@0.2.0');
    expect(interfaceId('log', '0.2.0')).toBe('airlock:plugin/log@0.2.0');
    expect(interfaceId('storage')).toBe(`airlock:plugin/storage@${CONTRACT_VERSION}`);
  });
});

describe('parseInterfaceId', () => {
  it('splits ids into package, name and version', () => {
    expect(parseInterfaceId('airlock:plugin/log@0.1.0')).toEqual({ package: 'airlock:plugin', name: 'log', version: '0.1.0' });
    expect(parseInterfaceId('wasi:http/outgoing-handler@0.2.6')).toEqual({
      package: 'wasi:http',
      name: 'outgoing-handler',
      version: '0.2.6',
    });
    expect(parseInterfaceId('wasi:cli/environment')).toEqual({ package: 'wasi:cli', name: 'environment', version: undefined });
    expect(parseInterfaceId('a:b/c@1.0.0-rc.1+build.5')?.version).toBe('1.0.0-rc.1+build.5');
  });

  it('round-trips interfaceId', () => {
    expect(parseInterfaceId(interfaceId('credentials'))).toEqual({
      package: 'airlock:plugin',
      name: 'credentials',
      version: CONTRACT_VERSION,
    });
  });

  it.each([
    '',
    'log',
    'airlock:plugin',
    'airlock/log@0.1.0',
    'airlock:plugin/log@',
    'airlock:plugin/log@1.0',
    'airlock:plugin/log@0.1.0 ',
    'airlock:plugin/Log-x@0.1.0',
    'airlock:plugin/-log@0.1.0',
    'airlock:plugin/log--x@0.1.0',
    'airlock:plugin/tool-plugin/x@0.1.0',
  ])('rejects %j', (id) => {
    expect(parseInterfaceId(id)).toBeUndefined();
  });
});
