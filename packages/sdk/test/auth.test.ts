import { describe, expect, it } from 'vitest';
import { AuthError, defineAuthPlugin, toAuthError, type AuthDefinition } from '../src/auth.js';
import { HostError } from '../src/errors.js';
import { rejected } from './rejected.js';

/** An auth plugin with a trivial status, token and logout, and the given overrides. */
const plugin = (overrides: Partial<AuthDefinition> = {}) =>
  defineAuthPlugin({
    status: () => ({ signedIn: false, scopes: [] }),
    getToken: () => ({ accessToken: 'tok', tokenType: 'Bearer', scopes: [] }),
    logout: () => {},
    ...overrides,
  });

/** Where an error comes from: a named function, so its stack names it. */
function refreshTheToken(): never {
  throw new Error('the refresh token was revoked');
}

describe('toAuthError', () => {
  it('keeps the kind of an AuthError, with its message and stack', () => {
    const e = new AuthError('access-denied', 'the user said no');
    expect(toAuthError(e)).toEqual({ tag: 'access-denied', val: { message: 'the user said no', details: e.stack } });
    expect(e.stack).toContain('auth.test.ts');
  });

  it('turns any other Error into `other`, with its message (or name) and stack', () => {
    const e = new RangeError('bad range');
    expect(toAuthError(e)).toEqual({ tag: 'other', val: { message: 'bad range', details: e.stack } });
    const unnamed = new Error();
    expect(toAuthError(unnamed)).toEqual({ tag: 'other', val: { message: 'Error', details: unnamed.stack } });
  });

  it('takes a TypeError (what fetch rejects with) and a refused HTTP request for `network`', () => {
    const fetchFailed = new TypeError('fetch failed');
    expect(toAuthError(fetchFailed)).toEqual({ tag: 'network', val: { message: 'fetch failed', details: fetchFailed.stack } });
    const refused = new HostError('http', 'HTTP-request-denied', 'origin not granted');
    expect(toAuthError(refused)).toEqual({ tag: 'network', val: { message: 'http: HTTP-request-denied: origin not granted', details: refused.stack } });
  });

  it('maps other HostErrors to `other`, keeping their message and stack', () => {
    const e = new HostError('storage', 'quota-exceeded', 'over quota');
    expect(toAuthError(e)).toEqual({ tag: 'other', val: { message: 'storage: quota-exceeded: over quota', details: e.stack } });
  });

  it('describes thrown values that are not errors, without details', () => {
    expect(toAuthError('plain')).toEqual({ tag: 'other', val: { message: 'plain', details: undefined } });
    expect(toAuthError({ error: 'access_denied' })).toEqual({ tag: 'other', val: { message: '{"error":"access_denied"}', details: undefined } });
    expect(toAuthError(undefined)).toEqual({ tag: 'other', val: { message: 'undefined', details: undefined } });
    expect(toAuthError(7)).toEqual({ tag: 'other', val: { message: '7', details: undefined } });
  });
});

describe('defineAuthPlugin', () => {
  it('is an auth plugin whose exports return what the definition returns', async () => {
    const p = plugin();
    expect(p.kind).toBe('auth');
    await expect(p.exports.status()).resolves.toEqual({ signedIn: false, scopes: [] });
    await expect(p.exports.getToken()).resolves.toMatchObject({ accessToken: 'tok' });
    await expect(p.exports.logout()).resolves.toBeUndefined();
  });

  it('turns a synchronous throw into the WIT error, with the stack naming the function', async () => {
    const e = (await rejected(plugin({ getToken: refreshTheToken }).exports.getToken())) as { tag: string; val: { message: string; details: string } };
    expect(e).not.toBeInstanceOf(Error);
    expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
    expect(e).toEqual({ tag: 'other', val: { message: 'the refresh token was revoked', details: expect.stringContaining('refreshTheToken') } });
  });

  it('turns an async rejection into the WIT error', async () => {
    const p = plugin({
      async pollDeviceFlow(code) {
        await Promise.resolve();
        throw new AuthError('expired', `device code ${code} expired`);
      },
    });
    expect(await rejected(p.exports.pollDeviceFlow('dc-1'))).toEqual({
      tag: 'expired',
      val: { message: 'device code dc-1 expired', details: expect.stringContaining('pollDeviceFlow') },
    });
  });

  it.each([
    ['a string', 'nope', 'nope'],
    ['an object', { code: 42 }, '{"code":42}'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
  ])('turns %s thrown or rejected into `other` with its text and no details', async (_, thrown, message) => {
    const sync = plugin({
      status: () => {
        throw thrown;
      },
    });
    expect(await rejected(sync.exports.status())).toEqual({ tag: 'other', val: { message, details: undefined } });
    const async = plugin({ setApiKey: () => Promise.reject(thrown) });
    expect(await rejected(async.exports.setApiKey('k'))).toEqual({ tag: 'other', val: { message, details: undefined } });
  });

  it('answers what the definition leaves out with `unsupported`', async () => {
    const p = plugin();
    for (const call of [() => p.exports.startDeviceFlow(), () => p.exports.pollDeviceFlow('dc'), () => p.exports.setApiKey('k')]) {
      const e = (await rejected(call())) as { tag: string; val: { message: string; details?: string } };
      expect(e.tag).toBe('unsupported');
      expect(e.val.message).toMatch(/^this plugin does not support (the device flow|API keys)$/);
      expect(e.val.details).toContain('unsupported');
    }
  });

  it('keeps serving after a failure', async () => {
    let calls = 0;
    const p = plugin({
      status: () => {
        if (++calls === 1) throw new Error('first call fails');
        return { signedIn: true, scopes: ['read'] };
      },
    });
    expect(await rejected(p.exports.status())).toMatchObject({ tag: 'other' });
    await expect(p.exports.status()).resolves.toEqual({ signedIn: true, scopes: ['read'] });
  });
});
