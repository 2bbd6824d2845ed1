import { describe, expect, it } from 'vitest';
import { BodyRing, RING_BYTES, RingState, ringBytesFor } from '../../src/sandbox/body-ring.js';

const bytes = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

describe('BodyRing', () => {
  it('hands bytes over in order across the wrap, as much as fits and as much as asked', () => {
    const host = BodyRing.create(1024);
    const plugin = new BodyRing(host.buffer);
    let sent = 0;
    let got = 0;
    // Odd sizes, so writes and reads straddle the end of the ring many times.
    for (let round = 0; round < 50; round++) {
      const chunk = bytes(sent, 700);
      const n = host.write(chunk);
      expect(n).toBe(Math.min(700, 1024 - (sent - got)));
      sent += n;
      expect(plugin.used()).toBe(sent - got);
      const taken = plugin.take(333 + round);
      expect(Array.from(taken)).toEqual(Array.from(bytes(got, taken.length)));
      got += taken.length;
    }
    expect(plugin.take(4096).length).toBe(sent - got);
    expect(plugin.take(10)).toHaveLength(0);
  });

  it('changes state once: an ended ring stays ended, and later changes are ignored', () => {
    const ring = BodyRing.create(1024);
    expect(ring.state).toBe(RingState.OPEN);
    const seq = ring.seq();
    ring.close(RingState.ENDED);
    expect(ring.seq()).not.toBe(seq);
    ring.close(RingState.DROPPED);
    expect(ring.state).toBe(RingState.ENDED);
    expect(ring.ready()).toBe(true);
  });

  it('wakes a host waiting for room only once a read leaves the ring at most half full, or it closes', async () => {
    const ring = BodyRing.create(1024);
    ring.write(bytes(0, 1024));
    let woken = 0;
    const wait = () => ring.spaceFreed(ring.watchReads()).then(() => woken++);
    const first = wait();
    ring.take(256); // 768 left: over half
    await Promise.resolve();
    expect(woken).toBe(0);
    ring.take(256); // 512 left: half
    await first;
    expect(woken).toBe(1);
    ring.unwatchReads();
    // Closing wakes a waiting host too: nobody will read.
    const second = wait();
    ring.close(RingState.DROPPED);
    await second;
    expect(woken).toBe(2);
  });

  it('sizes a ring to the body it declares, within bounds', () => {
    expect(ringBytesFor(undefined)).toBe(RING_BYTES);
    expect(ringBytesFor(10)).toBe(1024);
    expect(ringBytesFor(3000)).toBe(4096);
    expect(ringBytesFor(4096)).toBe(4096);
    expect(ringBytesFor(10 * RING_BYTES)).toBe(RING_BYTES);
  });
});
