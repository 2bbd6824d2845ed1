// How the host reads the WIT errors of auth and provider plugins: the case
// picks the code, the failure record gives the message and the details.
import { describe, expect, it } from 'vitest';
import { AuthError, ProviderError } from '../src/errors.js';
import { authError, readAuthError } from '../src/kinds/auth.js';
import { providerError } from '../src/kinds/provider.js';
import { httpOriginRefusal } from '../src/capabilities/refusal.js';

const STACK = 'refresh@plugin.js:10:5\ngetToken@plugin.js:20:3';

describe('authError', () => {
  it.each([
    ['access-denied', 'AUTH_DENIED'],
    ['expired', 'AUTH_EXPIRED'],
    ['not-signed-in', 'AUTH_NOT_SIGNED_IN'],
    ['refresh-failed', 'AUTH_REFRESH_FAILED'],
    ['unsupported', 'AUTH_UNSUPPORTED'],
    ['protocol', 'AUTH_FAILED'],
    ['network', 'AUTH_FAILED'],
    ['other', 'AUTH_FAILED'],
  ])('maps `%s` to %s with the message and the details', (tag, code) => {
    const e = authError('gh', 'get-token', { tag, val: { message: 'went wrong', details: STACK } });
    expect(e).toBeInstanceOf(AuthError);
    expect(e).toMatchObject({ code, plugin: 'gh', pluginCode: tag, details: STACK, message: `auth plugin \`gh\` get-token failed (${tag}: went wrong)` });
  });

  it('has no details when the plugin sent none', () => {
    expect(authError('gh', 'status', { tag: 'other', val: { message: 'plain' } })).toMatchObject({ code: 'AUTH_FAILED', details: undefined });
  });

  it('hints at signing in again where that is the fix', () => {
    expect(authError('gh', 'get-token', { tag: 'not-signed-in', val: { message: 'no' } }).hint).toBe('Sign in again: `airlock auth login gh`.');
    expect(authError('gh', 'poll', { tag: 'access-denied', val: { message: 'no' } }).hint).toContain('declined');
    expect(authError('gh', 'status', { tag: 'network', val: { message: 'no' } }).hint).toBeUndefined();
  });

  it('describes anything that is not an auth-error as AUTH_FAILED without a case', () => {
    for (const sent of [undefined, 'text', { tag: 'other', val: 'a bare string' }, { tag: 3, val: { message: 'x' } }]) {
      const e = authError('gh', 'status', sent);
      expect(e).toMatchObject({ code: 'AUTH_FAILED', pluginCode: undefined, details: undefined });
    }
    expect(readAuthError({ tag: 'other', val: { message: 'm', details: 42 } })).toEqual({ tag: 'other', val: { message: 'm', details: undefined } });
  });
});

describe('providerError', () => {
  it.each([
    ['auth', 'PROVIDER_AUTH'],
    ['invalid-request', 'PROVIDER_INVALID_REQUEST'],
    ['unavailable', 'PROVIDER_UNAVAILABLE'],
    ['other', 'PROVIDER_FAILED'],
  ])('maps `%s` to %s with the message and the details', (tag, code) => {
    const e = providerError('openai', 'chat', { tag, val: { message: 'went wrong', details: STACK } });
    expect(e).toBeInstanceOf(ProviderError);
    expect(e).toMatchObject({ code, plugin: 'openai', pluginCode: tag, details: STACK, retryAfterMs: undefined, message: 'provider `openai` chat: went wrong' });
  });

  it('reads a rate limit with its wait and details', () => {
    const e = providerError('openai', 'stream', { tag: 'rate-limited', val: { message: 'slow down', details: STACK, retryAfterMs: 1500n } });
    expect(e).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', pluginCode: 'rate-limited', details: STACK, retryAfterMs: 1500 });
    expect(e.hint).toContain('Wait and retry');
    expect(providerError('openai', 'chat', { tag: 'rate-limited', val: { message: 'slow down' } })).toMatchObject({ retryAfterMs: undefined, details: undefined });
  });

  it('describes anything that is not a provider-error as PROVIDER_FAILED without a case', () => {
    for (const sent of [undefined, 'text', { tag: 'auth', val: 'a bare string' }, { tag: 'toString', val: { message: 'x' } }]) {
      const e = providerError('openai', 'models', sent);
      expect(e).toMatchObject({ code: 'PROVIDER_FAILED', pluginCode: undefined, details: undefined });
      expect(e.message).toMatch(/^provider `openai` failed in models: /);
    }
  });
});

describe('errors of calls during which the host refused the plugin something', () => {
  const refusal = httpOriginRefusal('gh', 'POST', 'https://github.com');

  it('name what was refused after the plugin\'s own message, and hint at the manifest entry', () => {
    const e = authError('gh', 'start-device-flow', { tag: 'network', val: { message: 'NetworkError when attempting to fetch resource.' } }, [refusal]);
    expect(e.message).toBe(
      'auth plugin `gh` start-device-flow failed (network: NetworkError when attempting to fetch resource.) ' +
        '(the host refused POST https://github.com: plugin `gh` holds no http grant for this origin)',
    );
    expect(e.hint).toContain('Add "https://github.com" to "capabilities.http"');
    expect(e.refused).toEqual([refusal]);
  });

  it('keep the kind\'s own hint after the refusal\'s, and name a refusal repeated by retries once', () => {
    const e = providerError('openai', 'chat', { tag: 'rate-limited', val: { message: 'slow down' } }, [refusal, refusal]);
    expect(e.message.match(/the host refused/g)).toHaveLength(1);
    expect(e.hint).toBe(`${refusal.hint} Wait and retry; the provider already retried as long as it was told to.`);
  });

  it('are unchanged when nothing was refused', () => {
    expect(providerError('openai', 'chat', { tag: 'auth', val: { message: 'no' } }, [])).toMatchObject({ message: 'provider `openai` chat: no', refused: [] });
  });
});
