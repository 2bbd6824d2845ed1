import { describe, expect, it } from 'vitest';
import { checkContract, exportsHooks, isSupportedContract } from '../src/contract.js';
import type { PreparedComponent } from '../src/component.js';
import { AirlockError } from '../src/errors.js';
import type { PluginKind } from '../src/manifest.js';

function component(exports: string[], imports: string[] = []): PreparedComponent {
  return {
    sha256: '0'.repeat(64),
    dir: 'unused',
    glue: 'plugin.mjs',
    glueKind: 'module',
    glueCode: new Uint8Array(),
    glueSha256: '0'.repeat(64),
    codeCache: undefined,
    coreFiles: [],
    imports,
    exports,
    transpiled: false,
    sourceMap: undefined,
    sourceMapSha256: undefined,
  };
}

function failure(c: PreparedComponent, kind: PluginKind = 'tool'): AirlockError {
  try {
    checkContract(c, kind, 'demo');
  } catch (e) {
    expect(AirlockError.isInstance(e)).toBe(true);
    expect((e as AirlockError).plugin).toBe('demo');
    return e as AirlockError;
  }
  throw new Error('expected checkContract to throw');
}

const HOST_IMPORTS = [
  'airlock:plugin/log@0.1.0',
  'airlock:plugin/storage@0.1.0',
  'airlock:plugin/config@0.1.0',
  'airlock:plugin/credentials@0.1.0',
  'wasi:cli/environment@0.2.3',
  'wasi:cli/stderr@0.2.3',
  'wasi:clocks/wall-clock@0.2.3',
  'wasi:io/streams@0.2.3',
  'wasi:random/random@0.2.3',
  'wasi:filesystem/types@0.2.3',
  'wasi:http/outgoing-handler@0.2.3',
];

describe('checkContract', () => {
  it('accepts a tool component with the host interfaces and gated WASI imports, returning its contract version', () => {
    expect(checkContract(component(['airlock:plugin/tool@0.1.0'], HOST_IMPORTS), 'tool', 'demo')).toBe('0.1.0');
  });

  it('accepts a component of the current contract, which adds the progress import, and one of an earlier patch without it', () => {
    const current = HOST_IMPORTS.map((i) => i.replace('@0.1.0', '@0.1.1'));
    expect(checkContract(component(['airlock:plugin/tool@0.1.1'], [...current, 'airlock:plugin/progress@0.1.1']), 'tool', 'demo')).toBe('0.1.1');
    expect(checkContract(component(['airlock:plugin/tool@0.1.0'], HOST_IMPORTS), 'tool', 'demo')).toBe('0.1.0');
  });

  it('accepts events and the lifecycle hooks from 0.1.2, and refuses an earlier component naming them', () => {
    const v012 = HOST_IMPORTS.map((i) => i.replace('@0.1.0', '@0.1.2'));
    const hooked = component(['airlock:plugin/tool@0.1.2', 'airlock:plugin/lifecycle@0.1.2'], [...v012, 'airlock:plugin/events@0.1.2']);
    expect(checkContract(hooked, 'tool', 'demo')).toBe('0.1.2');
    expect(exportsHooks(hooked)).toBe(true);
    // The hooks are optional: a 0.1.2 component without them runs without them.
    expect(exportsHooks(component(['airlock:plugin/tool@0.1.2'], v012))).toBe(false);
    expect(exportsHooks(component(['airlock:plugin/tool@0.1.1', 'airlock:plugin/lifecycle@0.1.1']))).toBe(false);
    const early = failure(component(['airlock:plugin/tool@0.1.1'], ['airlock:plugin/events@0.1.1']));
    expect(early.code).toBe('COMPONENT_INVALID');
    expect(early.message).toContain('imports airlock:plugin/events@0.1.1,');
  });

  it('refuses a component mixing contract versions in its imports', () => {
    const e = failure(component(['airlock:plugin/tool@0.1.1'], ['airlock:plugin/log@0.1.0']));
    expect(e.code).toBe('COMPONENT_INVALID');
    expect(e.message).toContain('imports airlock:plugin/log@0.1.0,');
  });

  it('accepts other kinds by their own export', () => {
    expect(checkContract(component(['airlock:plugin/auth@0.1.0']), 'auth', 'demo')).toBe('0.1.0');
    expect(checkContract(component(['airlock:plugin/provider@0.1.0']), 'provider', 'demo')).toBe('0.1.0');
  });

  it('ignores exports of other packages', () => {
    expect(checkContract(component(['wasi:cli/run@0.2.3', 'airlock:plugin/tool@0.1.0']), 'tool', 'demo')).toBe('0.1.0');
  });

  it('refuses a component of another kind, naming both kinds', () => {
    const e = failure(component(['airlock:plugin/auth@0.1.0']), 'tool');
    expect(e.code).toBe('COMPONENT_INVALID');
    expect(e.message).toContain('is a tool plugin');
    expect(e.message).toContain('exports auth');
  });

  it('names the kind a component exports, leaving out the hooks every plugin exports', () => {
    const e = failure(component(['airlock:plugin/auth@0.1.2', 'airlock:plugin/lifecycle@0.1.2']), 'tool');
    expect(e.message).toBe('plugin `demo` is a tool plugin by its manifest, but its component exports auth');
  });

  it('refuses a component that exports no Airlock interface', () => {
    const e = failure(component(['wasi:cli/run@0.2.3']), 'tool');
    expect(e.code).toBe('COMPONENT_INVALID');
    expect(e.message).toContain('no Airlock interface');
  });

  it.each(['0.3.0', '1.0.0', '0.1.3', '0.2.1', '0.0.9', '0.1.1-rc.1'])('refuses contract %s as CONTRACT_UNSUPPORTED', (version) => {
    const e = failure(component([`airlock:plugin/tool@${version}`]));
    expect(e.code).toBe('CONTRACT_UNSUPPORTED');
    expect(e.message).toContain(`airlock:plugin@${version}`);
    expect(e.message).toContain('this host serves 0.1.0 to 0.1.2, 0.2.0');
  });

  it('serves both lines side by side: a 0.1 and a 0.2 component, each with its own line\'s imports, and the 0.2 kinds only from 0.2', () => {
    const v020 = HOST_IMPORTS.map((i) => i.replace('@0.1.0', '@0.2.0'));
    expect(checkContract(component(['airlock:plugin/provider@0.2.0', 'airlock:plugin/lifecycle@0.2.0'], v020), 'provider', 'demo')).toBe('0.2.0');
    expect(checkContract(component(['airlock:plugin/hook@0.2.0', 'airlock:plugin/lifecycle@0.2.0'], v020), 'hook', 'demo')).toBe('0.2.0');
    expect(checkContract(component(['airlock:plugin/provider@0.1.0'], HOST_IMPORTS), 'provider', 'demo')).toBe('0.1.0');
    // A component mixing the lines imports what its own line does not have.
    const mixed = failure(component(['airlock:plugin/tool@0.2.0'], HOST_IMPORTS));
    expect(mixed.message).toContain('imports airlock:plugin/log@0.1.0,');
    const early = failure(component(['airlock:plugin/hook@0.1.2']), 'hook');
    expect(early.code).toBe('CONTRACT_UNSUPPORTED');
    expect(early.message).toContain('hook plugins came with contract 0.2.0');
  });

  it('holds a component to the contract range its manifest declares', () => {
    const built = component(['airlock:plugin/tool@0.1.1']);
    expect(checkContract(built, 'tool', 'demo', '^0.1.0')).toBe('0.1.1');
    expect(checkContract(built, 'tool', 'demo', '>=0.1.1 <0.2.0')).toBe('0.1.1');
    let e: AirlockError | undefined;
    try {
      checkContract(built, 'tool', 'demo', '^0.1.2');
    } catch (err) {
      e = err as AirlockError;
    }
    expect(e?.code).toBe('CONTRACT_UNSUPPORTED');
    expect(e?.message).toBe('plugin `demo` declares contract ^0.1.2 ("contract" in its manifest), but its component was built against 0.1.1');
  });

  it('refuses an unversioned export as CONTRACT_UNSUPPORTED', () => {
    const e = failure(component(['airlock:plugin/tool']));
    expect(e.code).toBe('CONTRACT_UNSUPPORTED');
    expect(e.message).toContain('(unversioned)');
  });

  it.each([
    'evil:net/socket@1.0.0',
    'wasi:sockets/tcp@0.2.0',
    'airlock:plugin/tool@0.1.0',
    'airlock:plugin/secrets@0.1.0',
    'airlock:plugin/log@0.2.0',
    'airlock:plugin/storage',
    'env',
  ])('refuses the import %s, naming it', (name) => {
    const e = failure(component(['airlock:plugin/tool@0.1.0'], ['airlock:plugin/log@0.1.0', name]));
    expect(e.code).toBe('COMPONENT_INVALID');
    expect(e.message).toContain(`imports ${name},`);
  });
});

describe('isSupportedContract', () => {
  it.each([
    ['0.1.0', true],
    ['0.1.1', true],
    ['0.1.2', true],
    ['0.1.3', false],
    ['0.2.0', true],
    ['0.2.1', false],
    ['0.3.0', false],
    ['1.1.0', false],
    ['0.0.1', false],
    ['0.1.0-beta', false],
    ['not a version', false],
    ['', false],
  ])('%j → %s', (version, expected) => {
    expect(isSupportedContract(version)).toBe(expected);
  });
});
