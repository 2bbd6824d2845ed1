import { describe, expect, it } from 'vitest';
import { MessageTooLargeError, createChannel, openChannel, readMessage, writeMessage, type Channel } from '../../src/sandbox/protocol.js';

const MiB = 1024 * 1024;

function channel(maxMessageBytes = MiB): Channel {
  const { ctrlBuffer, dataBuffer } = createChannel(maxMessageBytes);
  return openChannel(ctrlBuffer, dataBuffer);
}

/** Write on one view of the buffers and read on another, as the two threads do. */
function roundTrip<T>(value: T, binary = false, max = MiB): T {
  const { ctrlBuffer, dataBuffer } = createChannel(max);
  writeMessage(openChannel(ctrlBuffer, dataBuffer), value, binary);
  return readMessage<T>(openChannel(ctrlBuffer, dataBuffer));
}

describe('writeMessage / readMessage', () => {
  it.each([
    ['a string', 'héllo 🌍'],
    ['a number', 3.25],
    ['null', null],
    ['a boolean', false],
    ['an array', [1, 'two', [3], { four: 4 }]],
    ['a request', { fn: 'tool.callTool', args: ['count_words', '{"text":"a b"}'] }],
  ])('round-trips %s as JSON', (_, value) => {
    expect(roundTrip(value)).toEqual(value);
  });

  it('carries a bigint, which JSON cannot, through the v8 format', () => {
    const value = { expiresAt: 1_700_000_000_000n, scopes: ['read'] };
    const back = roundTrip(value);
    expect(typeof back.expiresAt).toBe('bigint');
    expect(back).toEqual(value);
  });

  it('carries bytes as bytes when binary is set', () => {
    const back = roundTrip({ ok: Uint8Array.from([0, 1, 254, 255]) }, true);
    expect(back.ok).toBeInstanceOf(Uint8Array);
    expect(Array.from(back.ok)).toEqual([0, 1, 254, 255]);
  });

  it('sends bytes as JSON (an index-keyed object) when binary is not set', () => {
    const back = roundTrip<{ ok: unknown }>({ ok: Uint8Array.from([7, 8]) });
    expect(back.ok).not.toBeInstanceOf(Uint8Array);
    expect(back.ok).toEqual({ 0: 7, 1: 8 });
  });

  it('carries values of both formats through one channel in turn', () => {
    const ch = channel();
    for (const [value, binary] of [
      [{ fn: 'storage.get', args: ['k'] }, false],
      [{ ok: new Uint8Array([1, 2, 3]) }, true],
      [{ n: 5n }, false],
      ['plain', false],
    ] as const) {
      writeMessage(ch, value, binary);
      expect(readMessage(ch)).toEqual(value);
    }
  });

  it('round-trips undefined (which JSON cannot carry)', () => {
    expect(roundTrip({ ok: undefined, logs: 0 }, true)).toEqual({ ok: undefined, logs: 0 });
    expect(roundTrip(undefined)).toBeUndefined();
  });

  it('reads only the latest message when a shorter one follows a longer one', () => {
    const ch = channel();
    writeMessage(ch, 'x'.repeat(1000));
    writeMessage(ch, 'short');
    expect(readMessage(ch)).toBe('short');
  });

  it('grows the data buffer for a large message', () => {
    const { ctrlBuffer, dataBuffer } = createChannel(4 * MiB);
    const ch = openChannel(ctrlBuffer, dataBuffer);
    const before = dataBuffer.byteLength;
    const big = 'z'.repeat(before * 3);
    writeMessage(ch, big);
    expect(dataBuffer.byteLength).toBeGreaterThan(before);
    expect(dataBuffer.byteLength).toBeGreaterThanOrEqual(big.length + 3);
    // Another view opened on the same buffers sees the grown buffer.
    expect(readMessage(openChannel(ctrlBuffer, dataBuffer))).toBe(big);
  });

  it('accepts a message of exactly the maximum size', () => {
    const max = 128 * 1024;
    const value = 'm'.repeat(max - 2); // two quote characters make it `max` bytes
    expect(roundTrip(value, false, max)).toBe(value);
  });

  it('throws MessageTooLargeError for a message over the maximum size', () => {
    const max = 128 * 1024;
    const ch = channel(max);
    const value = 'm'.repeat(max - 1); // max + 1 bytes of JSON
    let err: unknown;
    try {
      writeMessage(ch, value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MessageTooLargeError);
    expect(err).toMatchObject({ bytes: max + 1, max });
    expect((err as Error).message).toBe(`message of ${max + 1} bytes exceeds the limit of ${max} bytes`);
  });

  it('leaves the previous message readable after refusing one', () => {
    const ch = channel(128 * 1024);
    writeMessage(ch, { kept: true });
    expect(() => writeMessage(ch, 'm'.repeat(200 * 1024))).toThrow(MessageTooLargeError);
    expect(readMessage(ch)).toEqual({ kept: true });
  });
});

describe('small channels', () => {
  it('works with a maximum below the default initial size', () => {
    const ch = channel(1024);
    writeMessage(ch, 'x'.repeat(1000));
    expect(readMessage(ch)).toBe('x'.repeat(1000));
    expect(() => writeMessage(ch, 'x'.repeat(1100))).toThrow(MessageTooLargeError);
  });
});
