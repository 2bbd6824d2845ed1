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

/** Where the memory section of a core module is, and the section that caps it. */
interface CapPlan {
  /** Offset of the memory section. */
  start: number;
  /** Offset just past it. */
  end: number;
  /** The capped section that replaces it. */
  section: Uint8Array;
}

/**
 * The memory section of the core module `wasm` rewritten so that each defined
 * memory has at most `maxPages` pages; undefined when it defines no memory.
 * Shared and 64-bit memories are refused: no component the SDK builds has them.
 */
function planCap(wasm: Uint8Array, maxPages: number): CapPlan | undefined {
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
      return { start: p, end: body + size, section: Uint8Array.from([5, ...writeU32(limits.length), ...limits]) };
    }
    p = body + size;
  }
  return undefined;
}

/**
 * Return a copy of the core module `wasm` whose defined memories have at most
 * `maxPages` pages, or `wasm` itself when it defines no memory.
 */
export function capMemory(wasm: Uint8Array, maxPages: number): Uint8Array {
  const plan = planCap(wasm, maxPages);
  return plan ? cappedCopy(wasm, plan) : wasm;
}

/** A copy of `wasm` with the memory section `plan` names replaced by the capped one. */
function cappedCopy(wasm: Uint8Array, plan: CapPlan): Uint8Array {
  const out = new Uint8Array(wasm.length - (plan.end - plan.start) + plan.section.length);
  out.set(wasm.subarray(0, plan.start), 0);
  out.set(plan.section, plan.start);
  out.set(wasm.subarray(plan.end), plan.start + plan.section.length);
  return out;
}

/**
 * Free bytes a buffer may hold before a core module read into it, so that
 * {@link compileCapped} can cap the module without copying it: 64 bytes leave
 * room for the limits of up to ten memories.
 */
export const CAP_HEADROOM = 64;

/**
 * Compile the core module `wasm` with its memories capped at `maxPages`
 * pages, leaving `wasm` as it was. A 13 MB module copied to cap it costs
 * ~70 ms in a fresh process, most of it page faults on the new buffer. So when
 * the buffer has room before `wasm` (see CAP_HEADROOM), the capped module is
 * written in place instead: the bytes before the memory section move into that
 * room and the capped section takes the old one's place. The module is then
 * handed to WebAssembly.compile, which copies its bytes before it returns, and
 * the bytes written over are put back, all in one synchronous step, so no
 * other code sees them changed. Otherwise a capped copy is compiled.
 */
export function compileCapped(wasm: Uint8Array, maxPages: number): Promise<WebAssembly.Module> {
  const plan = planCap(wasm, maxPages);
  if (!plan) return WebAssembly.compile(wasm);
  const grow = plan.section.length - (plan.end - plan.start);
  if (wasm.byteOffset < grow) return WebAssembly.compile(cappedCopy(wasm, plan));
  const buffer = new Uint8Array(wasm.buffer, 0, wasm.byteOffset + wasm.length);
  // The capped module starts `grow` bytes before `wasm` (after it, when its section is shorter).
  const from = wasm.byteOffset - grow;
  const touched = Math.min(from, wasm.byteOffset);
  const saved = buffer.slice(touched, wasm.byteOffset + plan.end);
  try {
    buffer.copyWithin(from, wasm.byteOffset, wasm.byteOffset + plan.start);
    buffer.set(plan.section, from + plan.start);
    return WebAssembly.compile(buffer.subarray(from));
  } finally {
    buffer.set(saved, touched);
  }
}
