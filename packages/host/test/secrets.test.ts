import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../src/logger.js';
import { MAX_SECRETS, SecretMask } from '../src/secrets.js';

const token = (i: number) => `tok_live_${String(i).padStart(6, '0')}`;

describe('SecretMask', () => {
  it('masks what it was told, and ignores values too short to be secrets', () => {
    const mask = new SecretMask(() => {});
    mask.remember('sk-live-0123456789');
    mask.remember('short');
    expect(mask.scrub('key sk-live-0123456789 and short, sk-live-0123456789 again')).toBe('key [REDACTED] and short, [REDACTED] again');
  });

  it(`keeps the ${MAX_SECRETS} most recently seen secrets: a host refreshing tokens for weeks stays flat`, () => {
    const mask = new SecretMask(() => {});
    for (let i = 0; i < MAX_SECRETS + 100; i++) {
      mask.remember(token(i));
      // The first token is still in use: seen again, it is not the oldest.
      if (i % 50 === 0) mask.remember(token(0));
    }
    expect(mask.size).toBe(MAX_SECRETS);
    expect(mask.scrub(token(1))).toBe(token(1));
    expect(mask.scrub(token(0))).toBe('[REDACTED]');
    expect(mask.scrub(token(MAX_SECRETS + 99))).toBe('[REDACTED]');
  });

  it('holds a plugin\'s log lines during a call that returns a secret, then sends them masked', async () => {
    const out: LogEntry[] = [];
    const mask = new SecretMask((e) => out.push(e));
    let release!: (value: { accessToken: string }) => void;
    const call = mask.holdingLogs('login', () => new Promise<{ accessToken: string }>((r) => (release = r)), (t) => [t.accessToken]);
    mask.log({ level: 'info', plugin: 'login', message: 'got tok_live_999999' });
    mask.log({ level: 'info', plugin: 'other', message: 'not held' });
    expect(out.map((e) => e.message)).toEqual(['not held']);
    release({ accessToken: 'tok_live_999999' });
    await call;
    expect(out.map((e) => e.message)).toEqual(['not held', 'got [REDACTED]']);
  });

  it('masks an error\'s message, stack and details, a DOMException\'s too', () => {
    const mask = new SecretMask(() => {});
    mask.remember('tok_live_123456');
    const err = Object.assign(new Error('rejected tok_live_123456'), { details: 'at check (tok_live_123456)' });
    mask.masked(err);
    expect(`${err.message} ${err.stack} ${err.details}`).not.toContain('tok_live_123456');
    const aborted = new DOMException('stopped at tok_live_123456', 'AbortError');
    mask.masked(aborted);
    expect(aborted.message).toBe('stopped at [REDACTED]');
  });
});
