// The host's auth API and credentials broker against an auth plugin whose
// device flow follows a script: the login loop honours the interval and
// slow_down, denial and expiry are typed errors, tokens reach only plugins
// granted them, token values are masked in the host's logs, and the plugin's
// failures arrive with its stack as details (masked too), never as a trap.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, createHost, type Host, type LogEntry } from '@airlock/host';
import { capabilityVariant, rejection } from '@airlock/test-utils';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

let base: string;
let host: Host;
const logs: LogEntry[] = [];

const script = (name: string) => host.auth('scripted-auth').setApiKey(name);

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-auth-'));
  host = await createHost({ home: join(base, 'home'), logger: (e) => logs.push(e) });
  await host.load(fixture('scripted-auth'), { grant: 'manifest' });
  const variant = (id: string, credentials: string[] | undefined) => capabilityVariant(fixture('misbehaving'), base, id, credentials ? { credentials } : {});
  await host.load(await variant('granted', ['scripted-auth']), { grant: 'manifest' });
  await host.load(await variant('ungranted', undefined));
});

afterAll(async () => {
  await host.close();
  await rm(base, { recursive: true, force: true });
});

describe('device login through an auth plugin', () => {
  it('polls at the interval until the user finishes, then reports the status', async () => {
    await script('approve');
    const login = await host.auth('scripted-auth').login();
    expect(login).toMatchObject({ userCode: 'ABCD-EFGH', verificationUri: 'http://127.0.0.1/device', interval: 1 });
    // The schedule between polls is the host's own, checked exactly in packages/host/test/kinds/auth.test.ts.
    const status = await login.wait();
    expect(login.interval).toBe(1);
    expect(status).toMatchObject({ signedIn: true, account: 'tester', scopes: ['read'], method: 'device-flow' });
    await expect(host.auth('scripted-auth').status()).resolves.toMatchObject({ signedIn: true });
  });

  it('slows down when told to', async () => {
    await script('slow');
    const login = await host.auth('scripted-auth').login();
    await login.wait();
    // slow_down raised the interval from 1 s to 2 s for the polls after it.
    expect(login.interval).toBe(2);
  });

  it('fails with AUTH_DENIED or AUTH_EXPIRED, and can be aborted', async () => {
    await script('deny');
    const denied = await rejection((await host.auth('scripted-auth').login()).wait());
    expect(denied.code).toBe('AUTH_DENIED');
    expect(denied.message).toContain('the user said no');
    await script('expire');
    const expired = await rejection((await host.auth('scripted-auth').login()).wait());
    expect(expired.code).toBe('AUTH_EXPIRED');
    await script('approve');
    const controller = new AbortController();
    const waiting = (await host.auth('scripted-auth').login()).wait({ signal: controller.signal });
    controller.abort(new Error('cancelled by the user'));
    await expect(waiting).rejects.toThrow('cancelled by the user');
  });
});

describe('tokens', () => {
  it('reach a plugin granted credentials, and not one without the grant', async () => {
    await script('approve');
    await (await host.auth('scripted-auth').login()).wait();
    expect(await host.callTool('granted.token', { from: 'scripted-auth' })).toEqual({ token: 'tok_live_0123456789abcdef' });
    expect(await host.callTool('ungranted.token', { from: 'scripted-auth' })).toMatchObject({
      error: { tag: 'denied', val: 'plugin `ungranted` holds no credentials grant for `scripted-auth`: list "scripted-auth" in "capabilities.credentials" of its manifest, and have the user grant it' },
    });
  });

  it('never appear in the host\'s logs', async () => {
    await host.auth('scripted-auth').token();
    const lines = logs.filter((l) => l.message.includes('handing out'));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.message).toBe('handing out [REDACTED]');
    expect(logs.some((l) => l.message.includes('tok_live_0123456789abcdef'))).toBe(false);
  });

  it('are masked in the progress a plugin reports, as in its logs', async () => {
    const seen: { fraction: number; message?: string }[] = [];
    await host.callTool('granted.progress', { fractions: [1], message: 'sending tok_live_0123456789abcdef away' }, { onProgress: (p) => seen.push(p) });
    expect(seen).toEqual([{ fraction: 1, message: 'sending [REDACTED] away' }]);
  });

  it('are gone after logout', async () => {
    await host.auth('scripted-auth').logout();
    expect((await rejection(host.auth('scripted-auth').token())).code).toBe('AUTH_NOT_SIGNED_IN');
    expect(await host.callTool('granted.token', { from: 'scripted-auth' })).toMatchObject({ error: { tag: 'not-signed-in' } });
    await expect(host.auth('scripted-auth').status()).resolves.toMatchObject({ signedIn: false });
  });
});

describe('failures of the plugin', () => {
  it('carry its stack as details, from a synchronous throw, and the plugin keeps serving', async () => {
    const err = await rejection(host.auth('scripted-auth').setApiKey('fail:sync'));
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ code: 'AUTH_FAILED', pluginCode: 'other', plugin: 'scripted-auth' });
    expect(err.message).toBe('auth plugin `scripted-auth` set-api-key failed (other: the stored session is corrupt)');
    expect((err as AuthError).details).toContain('readStoredSession');
    await expect(host.auth('scripted-auth').status()).resolves.toMatchObject({ signedIn: false });
  });

  it('carry its stack as details, from an async rejection, and the plugin keeps serving', async () => {
    const err = await rejection(host.auth('scripted-auth').setApiKey('fail:async'));
    expect(err).toMatchObject({ code: 'AUTH_FAILED', pluginCode: 'network' });
    expect(err.message).toContain('the account endpoint did not answer');
    expect((err as AuthError).details).toContain('fetchAccountDetails');
    await expect(host.auth('scripted-auth').setApiKey('approve')).resolves.toMatchObject({ signedIn: false });
  });

  it('carry a thrown string as the message, without details', async () => {
    const err = await rejection(host.auth('scripted-auth').setApiKey('fail:string'));
    expect(err).toMatchObject({ code: 'AUTH_FAILED', pluginCode: 'other', details: undefined });
    expect(err.message).toContain('(other: a bare string)');
    await expect(host.auth('scripted-auth').status()).resolves.toMatchObject({ signedIn: false });
  });

  it('have known secrets masked in their details as in their message', async () => {
    const key = 'fail:leak:sk-live-0123456789abcdef';
    const err = (await rejection(host.auth('scripted-auth').setApiKey(key))) as AuthError;
    expect(err.message).toContain('rejected key [REDACTED]');
    expect(err.details).toMatch(/^checking \[REDACTED\]\n/);
    expect(`${err.message}${err.stack}${err.details}`).not.toContain('sk-live-0123456789abcdef');
  });
});
