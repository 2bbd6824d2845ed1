/**
 * Custom sections at the top level of a WebAssembly binary (a component or a
 * core module): how a build attaches data that travels inside the component,
 * covered by its hash and its signature, and how a host reads it back.
 *
 * A binary is an 8-byte preamble followed by sections, each an id byte, a
 * LEB128 size and its content; a custom section (id 0) starts its content with
 * a LEB128-prefixed UTF-8 name. Custom sections may appear anywhere and
 * runtimes ignore the ones they do not know, so appending one changes nothing
 * about what runs.
 */

/** The custom section holding the source map of a plugin's bundled JavaScript (JSON text). */
export const SOURCE_MAP_SECTION = 'airlock:source-map';

const PREAMBLE = 8;
const MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** `binary` with a custom section `name` holding `payload` at the end, replacing any section of that name. */
export function withCustomSection(binary: Uint8Array, name: string, payload: Uint8Array): Uint8Array {
  const kept = sections(binary).filter((s) => s.name !== name);
  const nameBytes = new TextEncoder().encode(name);
  const content = concat([leb128(nameBytes.length), nameBytes, payload]);
  return concat([binary.subarray(0, PREAMBLE), ...kept.map((s) => binary.subarray(s.start, s.end)), Uint8Array.of(0), leb128(content.length), content]);
}

/** The content of the first custom section `name`, or undefined. Throws a RangeError for a malformed binary. */
export function readCustomSection(binary: Uint8Array, name: string): Uint8Array | undefined {
  const found = sections(binary).find((s) => s.name === name);
  return found && binary.subarray(found.payload, found.end);
}

interface Section {
  /** Offset of the id byte. */
  start: number;
  /** Offset just past the content. */
  end: number;
  /** For a custom section: its name, and where its payload starts. */
  name?: string;
  payload: number;
}

function sections(binary: Uint8Array): Section[] {
  if (binary.length < PREAMBLE || MAGIC.some((b, i) => binary[i] !== b)) throw new RangeError('not a WebAssembly binary');
  const out: Section[] = [];
  for (let at = PREAMBLE; at < binary.length; ) {
    const start = at;
    const id = binary[at++]!;
    const size = readLeb128(binary, at);
    at = size.next;
    const end = at + size.value;
    if (end > binary.length) throw new RangeError(`section at offset ${start} runs past the end of the binary`);
    if (id === 0) {
      const length = readLeb128(binary, at);
      const payload = length.next + length.value;
      if (payload > end) throw new RangeError(`custom section name at offset ${start} runs past its section`);
      out.push({ start, end, name: new TextDecoder().decode(binary.subarray(length.next, payload)), payload });
    } else {
      out.push({ start, end, payload: at });
    }
    at = end;
  }
  return out;
}

function readLeb128(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    const byte = bytes[at++];
    if (byte === undefined) throw new RangeError('truncated LEB128 number');
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { value, next: at };
  }
  throw new RangeError('LEB128 number longer than 5 bytes');
}

function leb128(value: number): Uint8Array {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Uint8Array.from(out);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
