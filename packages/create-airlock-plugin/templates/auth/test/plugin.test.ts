import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '@airlock/plugin-kit/testing';

let t: TestHost;

// A fresh host (and empty storage) for every test.
beforeEach(async () => {
  t = await createTestHost({ plugin: new URL('..', import.meta.url) });
});
afterEach(() => t?.close());

describe('{{id}}', () => {
  it('starts signed out', async () => {
    expect(await t.auth.status()).toMatchObject({ signedIn: false });
    await expect(t.auth.token()).rejects.toMatchObject({ code: 'AUTH_NOT_SIGNED_IN' });
  });

  it('stores an API key and hands it out as a token', async () => {
    expect(await t.auth.setApiKey('sk-test-12345678')).toMatchObject({ signedIn: true, method: 'api-key', account: 'key ending in 5678' });
    expect(await t.auth.token()).toMatchObject({ accessToken: 'sk-test-12345678', tokenType: 'Bearer' });
    expect(await t.storage.getText('api-key')).toBe('sk-test-12345678');
  });

  it('never logs the key', async () => {
    await t.auth.setApiKey('sk-test-12345678');
    expect(t.logs.map((l) => l.message)).toContain('API key saved');
    expect(t.logs.filter((l) => l.message.includes('sk-test-12345678'))).toEqual([]);
  });

  it('refuses a malformed key', async () => {
    await expect(t.auth.setApiKey('two words')).rejects.toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('without spaces') });
    expect(await t.auth.status()).toMatchObject({ signedIn: false });
  });

  it('forgets the key on logout', async () => {
    await t.auth.setApiKey('sk-test-12345678');
    await t.auth.logout();
    expect(await t.auth.status()).toMatchObject({ signedIn: false });
    expect(await t.storage.getText('api-key')).toBeUndefined();
  });

  it('does not offer the device flow', async () => {
    await expect(t.auth.login()).rejects.toMatchObject({ code: 'AUTH_UNSUPPORTED' });
  });
});

describe('{{id}} with seeded storage', () => {
  it('finds a key stored earlier (the session survives restarts)', async () => {
    await t.close();
    t = await createTestHost({ plugin: new URL('..', import.meta.url), storage: { 'api-key': 'sk-seeded-0000' } });
    expect(await t.auth.status()).toMatchObject({ signedIn: true, account: 'key ending in 0000' });
  });
});
