// The device-login loop is the host's own: driven here by a fake plugin and a
// clock that records each wait instead of waiting, so the schedule is checked
// exactly, without a component and without real seconds.
import { describe, expect, it } from 'vitest';
import { AuthClient, type LoginClock, type SecretKeeping } from '../../src/kinds/auth.js';
import type { CallOutcome, PluginCaller } from '../../src/sandbox/instance.js';
import { AuthError } from '../../src/errors.js';

const keeping: SecretKeeping = { rememberSecret: () => {}, holdingLogs: (call) => call(), masked: (err) => err };

/** A plugin whose device flow answers the polls in `script` in order. */
function plugin(script: unknown[], start: Record<string, unknown> = {}): PluginCaller & { polls: number } {
  const caller = {
    polls: 0,
    async call(fn: string): Promise<CallOutcome> {
      if (fn === 'auth.startDeviceFlow') return { ok: true, value: { deviceCode: 'dc', userCode: 'ABCD', verificationUri: 'https://x/device', expiresIn: 60, interval: 1, ...start } };
      if (fn === 'auth.pollDeviceFlow') {
        const next = script[caller.polls++];
        return next instanceof Error ? { ok: false, error: { tag: 'access-denied', val: { message: next.message } } } : { ok: true, value: next };
      }
      throw new Error(`unexpected call ${fn}`);
    },
  };
  return caller;
}

/** A clock that advances by exactly what the loop asks to sleep. */
function recordingClock(): LoginClock & { slept: number[] } {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      slept.push(ms);
      now += ms;
    },
  };
}

const complete = { tag: 'complete', val: { signedIn: true, account: 'me', scopes: ['read'], method: 'device-flow' } };

describe('device login', () => {
  it('waits the server\'s interval before every poll, until the sign-in completes', async () => {
    const clock = recordingClock();
    const p = plugin([{ tag: 'pending' }, complete]);
    const login = await new AuthClient('gh', p, keeping, clock).login();
    expect(await login.wait()).toMatchObject({ signedIn: true, account: 'me' });
    expect(clock.slept).toEqual([1000, 1000]);
    expect(p.polls).toBe(2);
  });

  it('never polls faster than once a second, whatever the plugin says', async () => {
    const clock = recordingClock();
    const login = await new AuthClient('gh', plugin([complete], { interval: 0 }), keeping, clock).login();
    await login.wait();
    expect(clock.slept).toEqual([1000]);
  });

  it('adopts a slow_down interval for every later poll', async () => {
    const clock = recordingClock();
    const login = await new AuthClient('gh', plugin([{ tag: 'slow-down', val: 3 }, { tag: 'pending' }, complete]), keeping, clock).login();
    await login.wait();
    expect(clock.slept).toEqual([1000, 3000, 3000]);
    expect(login.interval).toBe(3);
  });

  it('stops with AUTH_EXPIRED once the code expires, without polling again', async () => {
    const clock = recordingClock();
    const p = plugin(Array(10).fill({ tag: 'pending' }), { expiresIn: 3 });
    const login = await new AuthClient('gh', p, keeping, clock).login();
    const err = await login.wait().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).code).toBe('AUTH_EXPIRED');
    expect(p.polls).toBe(3);
  });

  it('passes the signal to the wait, so an abort ends it with the signal\'s reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('user cancelled'));
    const login = await new AuthClient('gh', plugin([complete]), keeping, recordingClock()).login();
    await expect(login.wait({ signal: controller.signal })).rejects.toThrow('user cancelled');
  });
});
