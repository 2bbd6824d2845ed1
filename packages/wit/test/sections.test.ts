import { describe, expect, it } from 'vitest';
import { SOURCE_MAP_SECTION, readCustomSection, withCustomSection } from '../src/index.js';

// The smallest module with a function, so there is a non-custom section to keep: (func (result i32) i32.const 42) exported as "f".
const MODULE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x06,
  0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b,
]);
const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

describe('custom sections', () => {
  it('appends a section that the engine reads back and ignores', async () => {
    const payload = new TextEncoder().encode('{"version":3,"mappings":"AAAA"}');
    const bytes = withCustomSection(MODULE, SOURCE_MAP_SECTION, payload);
    const module = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.customSections(module, SOURCE_MAP_SECTION).map((b) => text(new Uint8Array(b)))).toEqual([text(payload)]);
    const { exports } = await WebAssembly.instantiate(module);
    expect((exports.f as () => number)()).toBe(42);
    expect(text(readCustomSection(bytes, SOURCE_MAP_SECTION))).toBe(text(payload));
    expect(readCustomSection(bytes, 'other')).toBeUndefined();
    expect(readCustomSection(MODULE, SOURCE_MAP_SECTION)).toBeUndefined();
  });

  it('replaces a section of the same name instead of adding a second', () => {
    const once = withCustomSection(MODULE, SOURCE_MAP_SECTION, new TextEncoder().encode('first'));
    const twice = withCustomSection(once, SOURCE_MAP_SECTION, new TextEncoder().encode('second'));
    expect(WebAssembly.Module.customSections(new WebAssembly.Module(twice), SOURCE_MAP_SECTION)).toHaveLength(1);
    expect(text(readCustomSection(twice, SOURCE_MAP_SECTION))).toBe('second');
  });

  it('sizes large payloads with multi-byte LEB128 lengths', () => {
    const big = new Uint8Array(300_000).fill(0x61);
    const bytes = withCustomSection(MODULE, 'big', big);
    expect(readCustomSection(bytes, 'big')).toEqual(big);
    expect(WebAssembly.Module.customSections(new WebAssembly.Module(bytes), 'big')[0]!.byteLength).toBe(300_000);
  });

  it('refuses what is not a WebAssembly binary, or a truncated one', () => {
    expect(() => readCustomSection(new TextEncoder().encode('not wasm at all'), 'x')).toThrow('not a WebAssembly binary');
    expect(() => readCustomSection(withCustomSection(MODULE, 'x', new Uint8Array(10)).subarray(0, -3), 'x')).toThrow(RangeError);
  });
});
