// The host interfaces resolve to the fakes in test/fakes (see vitest.config.ts).
import { beforeEach, describe, expect, it } from 'vitest';
import { config, credentials, log, progress, storage } from '../src/host.js';
import { HostError } from '../src/errors.js';
import * as fakeConfig from './fakes/config.js';
import * as fakeCredentials from './fakes/credentials.js';
import * as fakeLog from './fakes/log.js';
import * as fakeProgress from './fakes/progress.js';
import * as fakeStorage from './fakes/storage.js';
import { thrownBy } from './helpers.js';

beforeEach(() => {
  fakeLog.lines.length = 0;
  fakeProgress.reports.length = 0;
  fakeStorage.state.data.clear();
  fakeStorage.state.failWith = undefined;
  fakeConfig.state.values = {};
  fakeCredentials.state.token = undefined;
  fakeCredentials.state.failWith = undefined;
  fakeCredentials.state.requested = [];
});


describe('progress', () => {
  it('reports the fraction and the message to the host as given; the host clamps and throttles', () => {
    progress(0.25, 'indexed 1 of 4 files');
    progress(1);
    expect(fakeProgress.reports).toEqual([[0.25, 'indexed 1 of 4 files'], [1, undefined]]);
  });
});

describe('log', () => {
  it('writes each level', () => {
    log.trace('t');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(fakeLog.lines).toEqual([
      ['trace', 't'],
      ['debug', 'd'],
      ['info', 'i'],
      ['warn', 'w'],
      ['error', 'e'],
    ]);
  });

  it('joins parts with spaces: strings as they are, errors by stack, the rest as JSON', () => {
    const err = new Error('bad');
    log.info('saved', 3, { id: 1 }, [true], null);
    log.error('failed:', err);
    expect(fakeLog.lines[0]).toEqual(['info', 'saved 3 {"id":1} [true] null']);
    expect(fakeLog.lines[1]).toEqual(['error', `failed: ${err.stack}`]);
  });
});

describe('log never throws', () => {
  it('formats bigints, cycles, undefined and functions instead of failing', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    log.info('n', 5n, { big: 7n });
    log.info('c', cyclic);
    log.info('a', undefined, () => 1);
    expect(fakeLog.lines).toEqual([
      ['info', 'n 5 {"big":"7n"}'],
      ['info', 'c {"name":"loop","self":"[Circular]"}'],
      ['info', 'a undefined () => 1'],
    ]);
  });
});

describe('storage', () => {
  it('stores and reads bytes, text and JSON', () => {
    storage.set('bytes', Uint8Array.from([1, 2, 3]));
    storage.set('text', 'héllo');
    storage.setJson('json', { n: 1, list: ['a'] });
    expect(Array.from(storage.get('bytes')!)).toEqual([1, 2, 3]);
    expect(storage.getText('text')).toBe('héllo');
    expect(Array.from(fakeStorage.state.data.get('text')!)).toEqual(Array.from(new TextEncoder().encode('héllo')));
    expect(storage.getJson('json')).toEqual({ n: 1, list: ['a'] });
    expect(storage.getText('json')).toBe('{"n":1,"list":["a"]}');
  });

  it('returns undefined for missing keys', () => {
    expect(storage.get('missing')).toBeUndefined();
    expect(storage.getText('missing')).toBeUndefined();
    expect(storage.getJson('missing')).toBeUndefined();
  });

  it('deletes and lists, with an empty prefix by default', () => {
    for (const k of ['b:1', 'a:2', 'a:1']) storage.set(k, 'x');
    expect(storage.list()).toEqual(['a:1', 'a:2', 'b:1']);
    expect(storage.list('a:')).toEqual(['a:1', 'a:2']);
    expect(storage.delete('a:1')).toBe(true);
    expect(storage.delete('a:1')).toBe(false);
    expect(storage.list('a:')).toEqual(['a:2']);
  });

  it('turns a host refusal into a HostError with the WIT error case', () => {
    fakeStorage.state.failWith = { tag: 'quota-exceeded', val: 'over quota' };
    for (const f of [() => storage.set('k', 'v'), () => storage.get('k'), () => storage.delete('k'), () => storage.list(), () => storage.setJson('k', 1)]) {
      const e = thrownBy(f);
      expect(e).toBeInstanceOf(HostError);
      expect(e).toMatchObject({ interface: 'storage', code: 'quota-exceeded', message: 'storage: quota-exceeded: over quota' });
    }
  });

  it('reads the case from an error that carries it as payload', () => {
    fakeStorage.state.failWith = Object.assign(new Error('ComponentError'), { payload: { tag: 'denied', val: 'no grant' } });
    expect(thrownBy(() => storage.get('k'))).toMatchObject({ code: 'denied' });
  });

  it('lets a JSON parse error of a stored value through as it is', () => {
    storage.set('broken', '{nope');
    expect(thrownBy(() => storage.getJson('broken'))).toBeInstanceOf(SyntaxError);
  });
});

describe('config', () => {
  it('parses values from their JSON text', () => {
    fakeConfig.state.values = { city: '"Oslo"', days: '3', flags: '{"metric":true}' };
    expect(config.get('city')).toBe('Oslo');
    expect(config.get<number>('days')).toBe(3);
    expect(config.get('flags')).toEqual({ metric: true });
    expect(config.get('missing')).toBeUndefined();
    expect(config.all()).toEqual({ city: 'Oslo', days: 3, flags: { metric: true } });
  });

  it('returns an empty object when nothing is set', () => {
    expect(config.all()).toEqual({});
  });
});

describe('credentials', () => {
  it('returns the token the host brokers', () => {
    const token = { accessToken: 'abc', tokenType: 'Bearer', expiresAt: 1_700_000_000_000n, scopes: ['repo'] };
    fakeCredentials.state.token = token;
    expect(credentials.getToken('github-auth')).toEqual(token);
    expect(fakeCredentials.state.requested).toEqual(['github-auth']);
  });

  it('turns a refusal into a HostError', () => {
    fakeCredentials.state.failWith = { tag: 'not-signed-in', val: 'sign in first' };
    expect(thrownBy(() => credentials.getToken('github-auth'))).toMatchObject({
      name: 'HostError',
      interface: 'credentials',
      code: 'not-signed-in',
      message: 'credentials: not-signed-in: sign in first',
    });
  });
});
