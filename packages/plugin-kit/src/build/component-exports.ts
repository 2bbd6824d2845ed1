/**
 * What a built component exports, read straight from its binary: the names in
 * the outer component's export sections (`airlock:plugin/tool@0.1.0`). Reading
 * them takes well under a millisecond, against a second or more for a
 * transpile, so every build checks them.
 */
import { CONTRACT_VERSION, EXPORT_INTERFACES, WIT_PACKAGE, interfaceId, parseInterfaceId, type PluginKind } from '@airlock/wit';
import { BuildError } from './errors.js';

const EXPORT_SECTION = 11;

/**
 * The names a WebAssembly component exports at its top level, in order.
 * Throws when `bytes` is not a component (a core module, or truncated data).
 */
export function componentExports(bytes: Uint8Array): string[] {
  // Preamble: magic, version 0x0d, layer 1 (a component, not a core module).
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new Error('not a WebAssembly binary');
  if (bytes[6] !== 1 || bytes[7] !== 0) throw new Error('a core WebAssembly module, not a component');
  let pos = 8;
  const fail = (what: string): never => {
    throw new Error(`malformed component: ${what} at byte ${pos}`);
  };
  const byte = (): number => (pos < bytes.length ? bytes[pos++]! : fail('unexpected end'));
  const u32 = (): number => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    return fail('integer too long');
  };
  const name = (): string => {
    const len = u32();
    if (pos + len > bytes.length) fail('name past the end');
    const text = new TextDecoder().decode(bytes.subarray(pos, pos + len));
    pos += len;
    return text;
  };

  const names: string[] = [];
  while (pos < bytes.length) {
    const id = byte();
    const size = u32();
    const end = pos + size;
    if (end > bytes.length) fail('section past the end');
    if (id === EXPORT_SECTION) {
      for (let n = u32(); n > 0; n--) {
        // exportname': 0x00 name, or 0x01 name versionsuffix.
        const tag = byte();
        if (tag !== 0 && tag !== 1) fail(`export name tag ${tag}`);
        names.push(name());
        if (tag === 1) name();
        // sortidx: a sort (core sorts take a second byte), then an index.
        if (byte() === 0) byte();
        u32();
        // An optional externdesc ascribing the export's type.
        if (byte() === 1) skipExternDesc(byte, u32, fail);
      }
      if (pos !== end) fail('export section size');
    }
    pos = end;
  }
  return names;
}

function skipExternDesc(byte: () => number, u32: () => number, fail: (what: string) => never): void {
  const tag = byte();
  switch (tag) {
    case 0x00: // core module: 0x11 typeidx
      byte();
      u32();
      return;
    case 0x01: // func
    case 0x04: // component
    case 0x05: // instance
      u32();
      return;
    case 0x02: // value: 0x00 valueidx | 0x01 valtype (a typeidx or a one-byte primitive)
    case 0x03: // type: 0x00 typeidx (eq) | 0x01 (sub resource)
      if (byte() === 0 || tag === 0x02) u32();
      return;
    default:
      fail(`externdesc tag ${tag}`);
  }
}

/**
 * Check that a component exports the interface of the manifest's kind, and
 * throw KIND_MISMATCH saying what it exports instead and how to fix it.
 */
export function checkComponentKind(bytes: Uint8Array, kind: PluginKind, entry: string, version: string = CONTRACT_VERSION): void {
  const expected = interfaceId(EXPORT_INTERFACES[kind], version);
  let exported: string[];
  try {
    exported = componentExports(bytes);
  } catch (err) {
    throw new BuildError('COMPONENTIZE_FAILED', `componentize-js wrote something that is not a component: ${(err as Error).message}`);
  }
  if (exported.includes(expected)) return;
  const ours = exported.filter((n) => parseInterfaceId(n)?.package === WIT_PACKAGE);
  const kinds = Object.entries(EXPORT_INTERFACES).filter(([, iface]) => ours.some((n) => parseInterfaceId(n)?.name === iface)).map(([k]) => k);
  const found = ours.length ? ours.join(', ') : exported.length ? `only ${exported.join(', ')}` : 'nothing';
  const actualKind = kinds.length === 1 ? kinds[0]! : undefined;
  const fix =
    actualKind && actualKind !== kind
      ? `If it is meant to be a ${actualKind} plugin, set "kind": "${actualKind}" in the "airlock" manifest; otherwise make ${entry} \`export default\` a plugin made with ${definerOf(kind)}().`
      : ours.some((n) => parseInterfaceId(n)?.version !== version)
        ? `The component was built against another contract version; rebuild it with this @airlock/plugin-kit (contract ${version}).`
        : `Make ${entry} \`export default\` a plugin made with ${definerOf(kind)}() from @airlock/sdk.`;
  throw new BuildError('KIND_MISMATCH', `the manifest says "kind": "${kind}", so the component must export ${expected}, but it exports ${found}`, undefined, fix);
}

/** The @airlock/sdk function that makes a plugin of `kind`: `defineToolPlugin`, `definePromptPlugin`… */
export const definerOf = (kind: string): string => `define${{ 'prompt-template': 'Prompt' }[kind] ?? kind[0]!.toUpperCase() + kind.slice(1)}Plugin`;
