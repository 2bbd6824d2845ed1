import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '@airlock/host';
import { buildIfStale } from '@airlock/test-utils';
import { main } from '../src/index.js';
import { capture, lines, scriptedAuth } from './helpers.js';

const homes: string[] = [];
async function newHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'airlock-cli-auth-'));
  homes.push(home);
  return home;
}

/** The scripted-auth fixture's next device flow follows `script` (approve, deny, expire, slow). */
async function chooseScript(home: string, script: string): Promise<void> {
  const host = await createHost({ home, logger: () => {} });
  try {
    await host.load(scriptedAuth, { grant: 'manifest' });
    await host.auth('scripted-auth').setApiKey(script);
  } finally {
    await host.close();
  }
}

const auth = (command: string, home: string, ...extra: string[]) => ['auth', command, 'scripted-auth', '-p', scriptedAuth, '--yes', '--home', home, ...extra];

beforeAll(async () => {
  await buildIfStale(scriptedAuth, { skipTypecheck: true });
}, 120_000);
afterAll(async () => {
  await Promise.all(homes.map((home) => rm(home, { recursive: true, force: true })));
});

describe('airlock auth', () => {
  it('signs in with a device code, then reports the sign-in and signs out', async () => {
    const home = await newHome();
    const before = capture();
    expect(await main(auth('status', home), before)).toBe(0);
    expect(before.out).toBe('scripted-auth: signed out\n');
    expect(before.err).toContain('Sign in with `airlock auth login scripted-auth`');

    const login = capture();
    expect(await main(auth('login', home), login)).toBe(0);
    expect(login.err).toMatch(/^! Open http:\/\/127\.0\.0\.1\/device and enter the code ABCD-EFGH \(expires in \d+ s\)\n$/);
    expect(login.out).toBe('✔ Signed in to scripted-auth as tester\n');

    // A new invocation: the sign-in persisted in --home.
    const after = capture();
    expect(await main(auth('status', home), after)).toBe(0);
    expect(after.out).toBe('scripted-auth: signed in as tester\n  method   device-flow\n  scopes   read\n');
    const json = capture();
    expect(await main(auth('status', home, '--json'), json)).toBe(0);
    expect(JSON.parse(json.out)).toEqual({ signedIn: true, account: 'tester', scopes: ['read'], method: 'device-flow' });

    const logout = capture();
    expect(await main(auth('logout', home), logout)).toBe(0);
    expect(logout.out).toBe('✔ Signed out of scripted-auth\n');
    const gone = capture();
    expect(await main(auth('status', home, '--json'), gone)).toBe(0);
    expect(JSON.parse(gone.out)).toMatchObject({ signedIn: false });
  });

  it('prints the login as NDJSON with --json', async () => {
    const home = await newHome();
    const io = capture();
    expect(await main(auth('login', home, '--json'), io)).toBe(0);
    const [code, signedIn, ...more] = lines(io.out);
    expect(more).toEqual([]);
    expect(code).toEqual({ event: 'device-code', plugin: 'scripted-auth', userCode: 'ABCD-EFGH', verificationUri: 'http://127.0.0.1/device', verificationUriComplete: null, expiresAt: expect.any(Number) });
    expect(code!.expiresAt as number).toBeGreaterThan(Date.now());
    expect(signedIn).toEqual({ event: 'signed-in', status: { signedIn: true, account: 'tester', scopes: ['read'], method: 'device-flow' } });
    expect(io.err).toBe('');
  });

  it('fails with AUTH_DENIED when the user declines', async () => {
    const home = await newHome();
    await chooseScript(home, 'deny');
    const io = capture();
    expect(await main(auth('login', home), io)).toBe(1);
    expect(io.err).toContain('error: auth plugin `scripted-auth` poll-device-flow failed (access-denied: the user said no)');
    expect(io.err).toContain('hint: The sign-in was declined at the verification page');
    expect(io.out).toBe('');

    const json = capture();
    expect(await main(auth('login', home, '--json'), json)).toBe(1);
    const [code, failed] = lines(json.out);
    expect(code).toMatchObject({ event: 'device-code' });
    expect(failed).toMatchObject({ error: { code: 'AUTH_DENIED', plugin: 'scripted-auth' } });
  });

  it('stops waiting on Ctrl-C and exits 130', async () => {
    const home = await newHome();
    const io = capture({ onWrite: (io) => io.err.includes('ABCD-EFGH') && io.interrupt() });
    expect(await main(auth('login', home), io)).toBe(130);
    expect(io.err).toMatch(/interrupted\n$/);
    expect(io.out).toBe('');
    expect(io.listening).toBe(0);
    const status = capture();
    expect(await main(auth('status', home), status)).toBe(0);
    expect(status.out).toContain('signed out');
  });

  it('shows a spinner on a terminal, in color unless NO_COLOR, and clears it when done', async () => {
    const home = await newHome();
    const tty = capture({ stderrIsTTY: true });
    expect(await main(auth('login', home), tty)).toBe(0);
    expect(tty.err).toMatch(/\r\x1b\[2K\x1b\[2m⠋\x1b\[22m Waiting for you to sign in… 0:00 elapsed, \d:\d\d left/);
    expect(tty.err.endsWith('\r\x1b[2K')).toBe(true);
    expect(tty.err).toContain('\x1b[1mABCD-EFGH\x1b[22m');

    const plain = capture({ stderrIsTTY: true, env: { NO_COLOR: '1' } });
    expect(await main(auth('login', home), plain)).toBe(0);
    expect(plain.err).toContain('⠋ Waiting for you to sign in…');
    expect(plain.err).not.toContain('\x1b[2m');
    expect(plain.err).not.toContain('\x1b[1m');
  });
});
