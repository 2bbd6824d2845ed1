/**
 * Capping a plugin's linear memory. A component's core modules define their
 * memory with no maximum, and Worker `resourceLimits` do not cover wasm
 * memory, so the host rewrites each memory's limits before compiling: the
 * plugin can then grow only up to the cap, and fails (traps or reports out of
 * memory) there while the host carries on.
 */

export const PAGE_BYTES = 64 * 1024;

/** The memory section asks for more than the cap allows at instantiation. */
export class MemoryCapError extends Error {
  constructor(readonly minBytes: number, readonly capBytes: number) {
    super(`the component needs at least ${mib(minBytes)} of memory, more than the cap of ${mib(capBytes)}`);
  }
}

const mib = (bytes: number) => `${Math.ceil(bytes / (1024 * 1024))} MiB`;

function readU32(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  let byte: number;
  let p = at;
  do {
    if (p >= bytes.length) throw new Error('truncated LEB128');
    byte = bytes[p++]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, p];
}

function writeU32(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v > 0) byte |= 0x80;
    out.push(byte);
  } while (v > 0);
  return out;
}

/**
 * Return a copy of the core module `wasm` whose defined memories have at most
 * `maxPages` pages, or `wasm` itself when it defines no memory. Shared and
 * 64-bit memories are refused: no component the SDK builds has them.
 */
export function capMemory(wasm: Uint8Array, maxPages: number): Uint8Array {
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) throw new Error('not a core wasm module');
  let p = 8;
  while (p < wasm.length) {
    const id = wasm[p]!;
    const [size, body] = readU32(wasm, p + 1);
    if (id === 5) {
      const [count, afterCount] = readU32(wasm, body);
      const limits: number[] = [...writeU32(count)];
      let q = afterCount;
      for (let i = 0; i < count; i++) {
        const flags = wasm[q++]!;
        if (flags !== 0 && flags !== 1) throw new Error(`memory with limit flags ${flags} (shared or 64-bit) cannot be capped`);
        const [min, afterMin] = readU32(wasm, q);
        q = afterMin;
        let max = maxPages;
        if (flags === 1) {
          const [declared, afterMax] = readU32(wasm, q);
          q = afterMax;
          max = Math.min(declared, maxPages);
        }
        if (min > max) throw new MemoryCapError(min * PAGE_BYTES, maxPages * PAGE_BYTES);
        limits.push(1, ...writeU32(min), ...writeU32(max));
      }
      if (q !== body + size) throw new Error('malformed memory section');
      const section = [5, ...writeU32(limits.length), ...limits];
      const out = new Uint8Array(wasm.length - (body + size - p) + section.length);
      out.set(wasm.subarray(0, p), 0);
      out.set(section, p);
      out.set(wasm.subarray(body + size), p + section.length);
      return out;
    }
    p = body + size;
  }
  return wasm;
}
