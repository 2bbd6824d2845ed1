// The build's handling of integrator interfaces, without building a component:
// the project's WIT read and resolved, the generated world, the declarations
// file, WIT errors in the project's terms, the bundler's imports and the type check.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildError } from '../src/build/errors.js';
import { integratorImports } from '../src/build/index.js';
import { declarationInputs, explainWitError, interfaceDeclarations, pluginWorld, projectInterfaces, readProjectWit, resolveInterfaces, witPackages, type WitFile } from '../src/build/interfaces.js';
import { typecheck } from '../src/build/typecheck.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-interfaces-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const KB: WitFile = {
  path: 'wit/acme-kb.wit',
  text: [
    '/// The knowledge base. `package fake:one;` in a comment is not a package.',
    'package acme:kb@1.0.0;',
    '',
    'interface search {',
    '  record hit { title: string, score: f64 }',
    '  query: func(text: string, limit: u32) -> result<list<hit>, string>;',
    '}',
    '// interface commented { }',
    'interface %types {',
    '  type id = string;',
    '}',
    '',
  ].join('\n'),
};

/** What `fn` throws, which must be a BuildError. */
function buildError(fn: () => unknown): BuildError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BuildError);
    return err as BuildError;
  }
  throw new Error('expected a BuildError');
}

describe('witPackages', () => {
  it('reads each package and its interfaces, from headers and nested package blocks, ignoring comments', () => {
    const nested: WitFile = { path: 'wit/more/palette.wit', text: 'package acme:palette;\ninterface commands { run: func(name: string); }\npackage acme:shared@0.3.0 {\n  interface types { type id = u64; }\n}\n' };
    expect(witPackages([KB, nested])).toEqual([
      { name: 'acme:kb', version: '1.0.0', interfaces: ['search', 'types'], files: ['wit/acme-kb.wit'], line: 2 },
      { name: 'acme:palette', version: undefined, interfaces: ['commands'], files: ['wit/more/palette.wit'], line: 1 },
      { name: 'acme:shared', version: '0.3.0', interfaces: ['types'], files: [], line: 3 },
    ]);
  });

  it('merges the files of one package', () => {
    const second: WitFile = { path: 'wit/acme-kb-admin.wit', text: 'package acme:kb@1.0.0;\ninterface admin { reindex: func(); }\n' };
    expect(witPackages([KB, second])).toEqual([{ name: 'acme:kb', version: '1.0.0', interfaces: ['search', 'types', 'admin'], files: ['wit/acme-kb.wit', 'wit/acme-kb-admin.wit'], line: 2 }]);
  });

  it('refuses a file without a package header, or with broken braces, as WIT_INVALID naming the file', () => {
    const headless = buildError(() => witPackages([{ path: 'wit/kb.wit', text: 'interface search { query: func(); }\n' }]));
    expect(headless.code).toBe('WIT_INVALID');
    expect(headless.message).toBe('wit/kb.wit: has no `package` header');
    expect(headless.hint).toContain('package acme:kb@1.0.0;');
    expect(headless.diagnostics).toEqual([{ file: 'wit/kb.wit', line: undefined, column: undefined, message: 'has no `package` header' }]);
    const open = buildError(() => witPackages([{ path: 'wit/kb.wit', text: 'package acme:kb;\ninterface search {\n' }]));
    expect([open.code, open.message]).toEqual(['WIT_INVALID', 'wit/kb.wit: has a `{` that is never closed']);
    const name = buildError(() => witPackages([{ path: 'wit/kb.wit', text: 'package Acme;\n' }]));
    expect([name.code, name.message]).toEqual(['WIT_INVALID', 'wit/kb.wit:1: `package Acme` is not a package name such as acme:kb@1.0.0']);
  });

  it("refuses a package in the host's own namespaces as WIT_RESERVED, with where and what to do", () => {
    const wasi = buildError(() => witPackages([KB, { path: 'wit/deps/io.wit', text: '// WASI, copied along\n\npackage wasi:io@0.2.0;\ninterface streams {}\n' }]));
    expect(wasi.code).toBe('WIT_RESERVED');
    expect(wasi.message).toBe("wit/deps/io.wit:3: package wasi:io@0.2.0 is in the host's own `wasi:` namespace");
    expect(wasi.hint).toContain('remove wit/deps/io.wit from wit/');
    expect(wasi.diagnostics[0]).toMatchObject({ file: 'wit/deps/io.wit', line: 3 });
    const nested = buildError(() => witPackages([{ path: 'wit/kb.wit', text: 'package acme:kb;\npackage airlock:plugin@0.2.0 {\n  interface storage {}\n}\n' }]));
    expect([nested.code, nested.message]).toEqual(['WIT_RESERVED', "wit/kb.wit:2: package airlock:plugin@0.2.0 is in the host's own `airlock:` namespace"]);
  });
});

describe('resolveInterfaces', () => {
  it("imports each named interface at its package's version", () => {
    const palette: WitFile = { path: 'wit/palette.wit', text: 'package acme:palette;\ninterface commands {}\n' };
    expect(resolveInterfaces(['acme:kb/search', 'acme:palette/commands'], witPackages([KB, palette]))).toEqual([
      { id: 'acme:kb/search', versioned: 'acme:kb/search@1.0.0' },
      { id: 'acme:palette/commands', versioned: 'acme:palette/commands' },
    ]);
  });

  it('refuses an interface the WIT does not declare as INTERFACE_NOT_FOUND, saying what there is and what to do', () => {
    const none = buildError(() => resolveInterfaces(['acme:kb/search'], []));
    expect(none.code).toBe('INTERFACE_NOT_FOUND');
    expect(none.message).toBe('"capabilities.interfaces" names acme:kb/search, but the project has no WIT in wit/');
    expect(none.hint).toBe('Put the WIT the integrator publishes for acme:kb in wit/ (for example wit/acme-kb.wit, starting `package acme:kb@<version>;`), or remove acme:kb/search from "capabilities.interfaces".');
    const otherPackage = buildError(() => resolveInterfaces(['acme:crm/contacts'], witPackages([KB])));
    expect(otherPackage.message).toBe('"capabilities.interfaces" names acme:crm/contacts, but wit/ declares no package acme:crm (only acme:kb@1.0.0)');
    const otherInterface = buildError(() => resolveInterfaces(['acme:kb/serch'], witPackages([KB])));
    expect(otherInterface.message).toBe('"capabilities.interfaces" names acme:kb/serch, but wit/ declares package acme:kb@1.0.0 (in wit/acme-kb.wit), whose interfaces are search, types');
    expect(otherInterface.hint).toContain("Check the interface's name against the integrator's WIT");
  });

  it('refuses an interface two versions of its package declare', () => {
    const v2: WitFile = { path: 'wit/acme-kb-2.wit', text: 'package acme:kb@2.0.0;\ninterface search {}\n' };
    const err = buildError(() => resolveInterfaces(['acme:kb/search'], witPackages([KB, v2])));
    expect(err.code).toBe('WIT_INVALID');
    expect(err.message).toBe('acme:kb/search is declared by 2 versions of acme:kb: acme:kb@1.0.0 (wit/acme-kb.wit), acme:kb@2.0.0 (wit/acme-kb-2.wit)');
  });
});

describe('projectInterfaces and pluginWorld', () => {
  it('adds nothing when the manifest names no interface, whatever wit/ holds', () => {
    expect(projectInterfaces(undefined, [{ path: 'wit/x.wit', text: 'not wit' }])).toEqual({ imports: [], files: {}, packages: [], sources: {} });
  });

  it("puts each package in a build directory of its own and imports the named interfaces in the kind's world", () => {
    const found = projectInterfaces(['acme:kb/search'], [KB]);
    expect(found.imports).toEqual([{ id: 'acme:kb/search', versioned: 'acme:kb/search@1.0.0' }]);
    expect(found.files).toEqual({ 'deps/acme_kb@1.0.0/acme-kb.wit': KB.text });
    const world = pluginWorld({ contract: 'airlock:plugin/tool-plugin@0.2.0', world: 'tool-plugin', wasi: ['wasi:cli/environment@0.2.12'], interfaces: found.imports });
    expect(world).toBe(
      [
        'package airlock:build;',
        'world tool-plugin {',
        '  include airlock:plugin/tool-plugin@0.2.0;',
        '  import wasi:cli/environment@0.2.12;',
        '  import acme:kb/search@1.0.0;',
        '}',
        'world integrator-interfaces {',
        '  import acme:kb/search@1.0.0;',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('writes the world of a plugin without interfaces as before them (so its cached components stay valid)', () => {
    expect(pluginWorld({ contract: 'airlock:plugin/tool-plugin@0.2.0', world: 'tool-plugin', wasi: ['wasi:cli/environment@0.2.12', 'wasi:filesystem/preopens@0.2.12'], interfaces: [] })).toBe(
      'package airlock:build;\nworld tool-plugin {\n  include airlock:plugin/tool-plugin@0.2.0;\n  import wasi:cli/environment@0.2.12;\n  import wasi:filesystem/preopens@0.2.12;\n}\n',
    );
  });

  it('reads the .wit files under wit/ at any depth, with their project paths', async () => {
    const dir = join(root, 'read');
    await mkdir(join(dir, 'wit', 'acme'), { recursive: true });
    await writeFile(join(dir, 'wit', 'acme', 'kb.wit'), KB.text);
    await writeFile(join(dir, 'wit', 'README.md'), 'not WIT');
    expect(await readProjectWit(dir)).toEqual([{ path: 'wit/acme/kb.wit', text: KB.text }]);
    expect(await readProjectWit(join(root, 'nowhere'))).toEqual([]);
  });
});

describe('interfaceDeclarations', () => {
  it("takes jco's interface modules and adds each import under its unversioned name", () => {
    const generated = {
      'integrator-interfaces.d.ts': "/// <reference path=\"./interfaces/acme-kb-search.d.ts\" />\ndeclare module 'airlock:build/integrator-interfaces' {}\n",
      'interfaces/acme-kb-search.d.ts': "/// <reference path=\"./acme-kb-types.d.ts\" />\ndeclare module 'acme:kb/search@1.0.0' {\n  export function query(text: string): string;\n}\n",
    };
    const text = interfaceDeclarations(generated, [{ id: 'acme:kb/search', versioned: 'acme:kb/search@1.0.0' }, { id: 'acme:palette/commands', versioned: 'acme:palette/commands' }], 'abc123');
    expect(text).toBe(
      [
        '// Generated by `airlock-plugin build` from wit/ for "capabilities.interfaces". Do not edit.',
        '// inputs abc123',
        "declare module 'acme:kb/search@1.0.0' {",
        '  export function query(text: string): string;',
        '}',
        "declare module 'acme:kb/search' {",
        "  export * from 'acme:kb/search@1.0.0';",
        '}',
        '',
      ].join('\n'),
    );
    expect(declarationInputs(text)).toBe('abc123');
    expect(declarationInputs('// something else')).toBeUndefined();
  });
});

describe('explainWitError', () => {
  it("names the project's file and the position of the name jco's message quotes", () => {
    const broken: WitFile = { path: 'wit/acme-kb.wit', text: 'package acme:kb@1.0.0;\n\ninterface search {\n  query: func(text: strin) -> string;\n}\n' };
    const found = projectInterfaces(['acme:kb/search'], [broken]);
    const message = 'Error: reading WIT dir at [/tmp/airlock-types-x/wit]\n\nCaused by:\n    0: failed to parse dependency directory: /tmp/airlock-types-x/wit/deps\n    1: failed to parse package: /tmp/airlock-types-x/wit/deps/acme_kb@1.0.0\n    2: name `strin` does not exist';
    const err = explainWitError(message, '/tmp/airlock-types-x/wit', found);
    expect(err.code).toBe('WIT_INVALID');
    expect(err.message).toBe('wit/acme-kb.wit:4:21: name `strin` does not exist');
    expect(err.details).toContain('failed to parse package: wit/acme-kb.wit');
    expect(err.details).not.toContain('/tmp/');
    expect(err.diagnostics).toEqual([{ file: 'wit/acme-kb.wit', line: 4, column: 21, message: 'name `strin` does not exist' }]);
  });

  it('falls back to the file, or to wit/, when the message quotes nothing it can find', () => {
    const found = projectInterfaces(['acme:kb/search'], [KB]);
    expect(explainWitError('Error: expected `;`, found eof', '/w', found).message).toBe('wit/acme-kb.wit: expected `;`, found eof');
  });
});

describe('integratorImports (the bundler)', () => {
  const bundle = (code: string) =>
    esbuild.build({ stdin: { contents: code, sourcefile: 'src/index.ts', loader: 'ts' }, bundle: true, format: 'esm', write: false, logLevel: 'silent', external: ['airlock:*', 'wasi:*'], plugins: [integratorImports([{ id: 'acme:kb/search', versioned: 'acme:kb/search@1.0.0' }])] });

  it('makes an import of the interface, versioned or not, the versioned external import', async () => {
    const out = await bundle("import { query } from 'acme:kb/search';\nimport * as kb from 'acme:kb/search@1.0.0';\nimport { get } from 'airlock:plugin/storage@0.2.0';\nexport const x = [query, kb, get];\n");
    const text = out.outputFiles[0]!.text;
    expect(text).toContain('from "acme:kb/search@1.0.0"');
    expect(text).not.toContain('"acme:kb/search"');
    expect(text).toContain('from "airlock:plugin/storage@0.2.0"');
  });

  it('refuses, where it is imported, an interface the manifest does not name or another version', async () => {
    const unnamed = await bundle("import { run } from 'acme:palette/commands';\nexport { run };\n").then(() => undefined, (e: esbuild.BuildFailure) => e.errors);
    expect(unnamed).toMatchObject([{ text: 'acme:palette/commands is not in "capabilities.interfaces" of the manifest', location: { file: 'src/index.ts', line: 1 }, notes: [{ text: expect.stringContaining('Add "acme:palette/commands" to "capabilities.interfaces"') }] }]);
    const version = await bundle("import { query } from 'acme:kb/search@2.0.0';\nexport { query };\n").then(() => undefined, (e: esbuild.BuildFailure) => e.errors);
    expect(version?.[0]?.text).toBe('acme:kb/search@2.0.0 is not the version wit/ declares: import "acme:kb/search" (the build imports acme:kb/search@1.0.0)');
  });
});

describe('the type check with generated declarations', () => {
  it("checks the plugin against them whatever its tsconfig includes, and fails without them", async () => {
    const dir = join(root, 'typed');
    await mkdir(join(dir, 'src'), { recursive: true });
    await mkdir(join(dir, '.airlock-plugin'), { recursive: true });
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', types: [], noEmit: true }, include: ['src'] }));
    await writeFile(join(dir, 'src/index.ts'), "import { query } from 'acme:kb/search';\nexport const n: number = query('x').length;\n");
    const declarations = join(dir, '.airlock-plugin/interfaces.d.ts');
    await writeFile(declarations, "declare module 'acme:kb/search@1.0.0' {\n  export function query(text: string): Array<string>;\n}\ndeclare module 'acme:kb/search' {\n  export * from 'acme:kb/search@1.0.0';\n}\n");
    await typecheck(dir, join(dir, 'src/index.ts'), { declarations: [declarations] });
    const err = await typecheck(dir, join(dir, 'src/index.ts'), { fresh: true }).then(() => undefined, (e: unknown) => e as BuildError);
    expect(err?.code).toBe('TYPE_ERROR');
    expect(err?.diagnostics[0]).toMatchObject({ file: 'src/index.ts', line: 1, code: 'TS2307' });
  });
});
