import { describe, expect, it } from 'vitest';
import { CAP_HEADROOM, MemoryCapError, PAGE_BYTES, capMemory, compileCapped } from '../../src/sandbox/memory.js';

/** A module with one memory (`min`, optional `max` pages), exported, plus a function after it. */
function module(min: number, max?: number): Uint8Array {
  const limits = max === undefined ? [0x00, min] : [0x01, min, max];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    // type section: () -> ()
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
    // function section
    0x03, 0x02, 0x01, 0x00,
    // memory section
    0x05, limits.length + 1, 0x01, ...limits,
    // export "memory"
    0x07, 0x0a, 0x01, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00,
    // code: empty body
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b,
  ]);
}

const memoryOf = (bytes: Uint8Array) =>
  new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.memory as unknown as { buffer: ArrayBuffer; grow(pages: number): number };

describe('capMemory', () => {
  it('adds a maximum to a memory that had none, and growth stops there', () => {
    const capped = capMemory(module(1), 3);
    const memory = memoryOf(capped);
    expect(memory.buffer.byteLength).toBe(PAGE_BYTES);
    memory.grow(2);
    expect(() => memory.grow(1)).toThrow(RangeError);
    expect(() => memoryOf(module(1)).grow(3)).not.toThrow();
  });

  it('keeps a declared maximum that is lower than the cap', () => {
    const memory = memoryOf(capMemory(module(1, 2), 10));
    memory.grow(1);
    expect(() => memory.grow(1)).toThrow(RangeError);
  });

  it('refuses a module whose minimum is above the cap', () => {
    expect(() => capMemory(module(5), 4)).toThrow(MemoryCapError);
  });

  it('returns a module without memory unchanged', () => {
    const bytes = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    expect(capMemory(bytes, 4)).toBe(bytes);
  });

  it('handles limits that need several LEB128 bytes', () => {
    // 16,384 pages = 1 GiB: three bytes of LEB128.
    const memory = memoryOf(capMemory(module(1), 16_384));
    expect(memory.buffer.byteLength).toBe(PAGE_BYTES);
  });
});

describe('compileCapped', () => {
  /** `bytes` in a buffer with `room` bytes before it, filled with a pattern that must survive. */
  function withRoom(bytes: Uint8Array, room: number): { view: Uint8Array; before: Uint8Array } {
    const buffer = new Uint8Array(room + bytes.length);
    for (let i = 0; i < room; i++) buffer[i] = (i * 37 + 11) & 0xff;
    buffer.set(bytes, room);
    return { view: buffer.subarray(room), before: buffer.slice(0, room) };
  }
  const grown = async (compiled: Promise<WebAssembly.Module>) => (new WebAssembly.Instance(await compiled).exports.memory as unknown as { grow(pages: number): number });

  it('caps in place when the buffer has room before the module, and leaves every byte as it was', async () => {
    const original = module(1);
    const { view, before } = withRoom(original, CAP_HEADROOM);
    const compiled = compileCapped(view, 3);
    // Put back at once: what V8 compiles is the copy it took during the call.
    expect(view).toEqual(original);
    expect(new Uint8Array(view.buffer, 0, CAP_HEADROOM)).toEqual(before);
    const memory = await grown(compiled);
    memory.grow(2);
    expect(() => memory.grow(1)).toThrow(RangeError);
  });

  it('copies when there is no room, or keeps a lower declared maximum, as capMemory does', async () => {
    const bare = module(1);
    const memory = await grown(compileCapped(bare, 2));
    memory.grow(1);
    expect(() => memory.grow(1)).toThrow(RangeError);
    expect(bare).toEqual(module(1));
    const declared = await grown(compileCapped(withRoom(module(1, 2), CAP_HEADROOM).view, 10));
    declared.grow(1);
    expect(() => declared.grow(1)).toThrow(RangeError);
  });

  it('refuses a module whose minimum is above the cap, and compiles one without memory as it is', async () => {
    expect(() => compileCapped(withRoom(module(5), CAP_HEADROOM).view, 4)).toThrow(MemoryCapError);
    const empty = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    expect(Object.keys(new WebAssembly.Instance(await compileCapped(empty, 4)).exports)).toEqual([]);
  });
});
