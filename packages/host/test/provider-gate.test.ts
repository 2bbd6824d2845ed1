import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_WAITING, ProviderGate } from '../src/kinds/provider-gate.js';

/** Whether `p` has settled, after the promise jobs queued so far ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ProviderGate', () => {
  it('lets every request straight through when the provider declares no limits', async () => {
    const gate = new ProviderGate('p', {});
    expect(gate.limited).toBe(false);
    const releases = await Promise.all(Array.from({ length: 1000 }, () => gate.enter()));
    expect(gate.load).toEqual({ active: 1000, waiting: 0 });
    for (const release of releases) release();
    expect(gate.load).toEqual({ active: 0, waiting: 0 });
  });

  it('holds requests past maxConcurrency until one ends, in the order they came', async () => {
    const gate = new ProviderGate('p', { maxConcurrency: 2 });
    const first = await gate.enter();
    await gate.enter();
    const order: string[] = [];
    const third = gate.enter().then((release) => (order.push('third'), release));
    const fourth = gate.enter().then((release) => (order.push('fourth'), release));
    expect(await settled(third)).toBe(false);
    expect(gate.load).toEqual({ active: 2, waiting: 2 });
    first();
    first(); // a second call of the same release changes nothing
    (await third)();
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
    expect(gate.load).toEqual({ active: 2, waiting: 0 });
  });

  it('takes a waiting request out of the line when its signal aborts, with the signal\'s reason', async () => {
    const gate = new ProviderGate('p', { maxConcurrency: 1 });
    const release = await gate.enter();
    const controller = new AbortController();
    const waiting = gate.enter(controller.signal);
    const behind = gate.enter();
    controller.abort(new Error('user pressed stop'));
    await expect(waiting).rejects.toThrow('user pressed stop');
    expect(gate.load).toEqual({ active: 1, waiting: 1 });
    release();
    await behind;
    await expect(gate.enter(controller.signal)).rejects.toThrow('user pressed stop');
  });

  it('refuses at once, as rate-limited, past the bound on waiting requests', async () => {
    const gate = new ProviderGate('p', { maxConcurrency: 1 });
    await gate.enter();
    const waiting = Array.from({ length: MAX_WAITING }, () => gate.enter());
    const refused = await gate.enter().catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', plugin: 'p' });
    expect((refused as Error).message).toBe(`${MAX_WAITING} requests already wait for provider \`p\` (its limits: 1 at once)`);
    expect(gate.load.waiting).toBe(MAX_WAITING);
    void waiting;
  });

  it('starts a burst of one second\'s worth at once, then one request per 1/rate seconds', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const gate = new ProviderGate('p', { requestsPerSecond: 2 });
    await gate.enter();
    await gate.enter();
    const third = gate.enter();
    expect(await settled(third)).toBe(false);
    await vi.advanceTimersByTimeAsync(499);
    expect(await settled(third)).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(await settled(third)).toBe(true);
    // Ended requests give no tokens back: the rate counts starts.
    (await third)();
    const fourth = gate.enter();
    expect(await settled(fourth)).toBe(false);
    await vi.advanceTimersByTimeAsync(501);
    expect(await settled(fourth)).toBe(true);
  });
});
