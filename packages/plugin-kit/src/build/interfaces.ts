/**
 * Interfaces an integrator adds to the host (`createHost({ interfaces })`),
 * used from a TypeScript plugin. The integrator publishes the WIT of its
 * interfaces; a plugin project keeps those `.wit` files in its `wit/` folder
 * and names the interfaces it uses in `capabilities.interfaces`. The build
 * then componentizes against a world that includes the kind's contract world
 * and imports each named interface at the version the project's WIT declares,
 * bundles `import { query } from 'acme:kb/search'` as that versioned import,
 * and writes the interfaces' TypeScript declarations to
 * `.airlock-plugin/interfaces.d.ts` for the type check and the editor.
 *
 * Everything here but {@link readProjectWit} is pure: it reads no files and
 * builds no component.
 */
import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { BuildError, type BuildDiagnostic } from './errors.js';

/** Where a plugin project keeps the integrator's WIT. */
export const PROJECT_WIT_DIR = 'wit';
/** Where the build writes the interfaces' TypeScript declarations (generated; not committed). */
export const INTERFACE_TYPES_FILE = '.airlock-plugin/interfaces.d.ts';
/** The world of the generated `plugin.wit` that imports only the integrator's interfaces (its types are generated from it). */
export const INTERFACES_WORLD = 'integrator-interfaces';

/** One `.wit` file of the project: its path relative to the plugin (`wit/acme-kb.wit`) and its text. */
export interface WitFile {
  path: string;
  text: string;
}

/** A WIT package the project's files declare. */
export interface WitPackage {
  /** `acme:kb`. */
  name: string;
  /** `1.0.0`, or undefined for an unversioned package. */
  version: string | undefined;
  /** The interfaces it declares, in the order found. */
  interfaces: string[];
  /** The files whose `package` header declares it (nested `package … { }` blocks live in their file's). */
  files: string[];
  /** Where it is first declared. */
  line: number;
}

/** An interface the plugin imports: `acme:kb/search` as named in the manifest, `acme:kb/search@1.0.0` as imported. */
export interface InterfaceImport {
  id: string;
  versioned: string;
}

/** The project's integrator WIT, resolved against the manifest: what the build adds to the world. */
export interface ProjectInterfaces {
  /** The interfaces the plugin imports, in the manifest's order. */
  imports: InterfaceImport[];
  /** The project's WIT files, by their path inside the build's WIT directory (`deps/<package>/<file>`). */
  files: Record<string, string>;
  /** The packages, with the build directory each went to (for messages about them). */
  packages: (WitPackage & { dir: string })[];
  /** The project's WIT files' texts by their project path (`wit/acme-kb.wit`). */
  sources: Record<string, string>;
}

const ID = '%?[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*';
const PACKAGE_NAME = new RegExp(`^(${ID}):(${ID}(?:/${ID})*)(?:@(\\d+\\.\\d+\\.\\d+(?:[-+][0-9A-Za-z.+-]+)?))?$`);
/** Namespaces the host owns: the build brings these packages itself. */
const RESERVED = ['airlock', 'wasi'];

/** The `.wit` files under the project's `wit/` folder (any depth), sorted by path; none when there is no such folder. */
export async function readProjectWit(dir: string): Promise<WitFile[]> {
  const root = join(dir, PROJECT_WIT_DIR);
  if (!existsSync(root)) return [];
  const names = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.wit')).sort();
  return Promise.all(names.map(async (f) => ({ path: [PROJECT_WIT_DIR, ...f.split(sep)].join('/'), text: await readFile(join(root, f), 'utf8') })));
}

/** `text` with comments blanked out (newlines kept, so offsets and lines still match). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (c) => c.replace(/[^\n]/g, ' '));
}

const lineOf = (text: string, offset: number): number => text.slice(0, offset).split('\n').length;

const invalid = (file: string, line: number | undefined, message: string, hint: string): BuildError =>
  new BuildError('WIT_INVALID', `${file}${line ? `:${line}` : ''}: ${message}`, undefined, hint, [{ file, line, column: line ? 1 : undefined, message }]);

/**
 * The packages the project's WIT files declare, and the interfaces of each.
 * A light reading (package headers, nested package blocks and `interface`
 * names): the WIT's full check is jco's, when the interfaces' types are
 * generated. Throws WIT_INVALID for a file without a `package` header and
 * WIT_RESERVED for a package in the host's own namespaces.
 */
export function witPackages(files: readonly WitFile[]): WitPackage[] {
  const byId = new Map<string, WitPackage>();
  const declare = (file: WitFile, raw: string, offset: number, text: string, owner: boolean): WitPackage => {
    const line = lineOf(text, offset);
    const m = PACKAGE_NAME.exec(raw);
    if (!m) throw invalid(file.path, line, `\`package ${raw}\` is not a package name such as acme:kb@1.0.0`, 'Write the package as namespace:name@version, as the integrator published it.');
    const [, namespace, name, version] = m;
    const ns = namespace!.replace(/^%/, '');
    if (RESERVED.includes(ns)) {
      throw new BuildError(
        'WIT_RESERVED',
        `${file.path}:${line}: package ${raw} is in the host's own \`${ns}:\` namespace`,
        undefined,
        `The build brings the airlock:plugin contract and the WASI packages itself; remove ${file.path} from ${PROJECT_WIT_DIR}/ (the integrator's interfaces may still \`use\` them by name). An integrator's interfaces live in its own namespace, such as acme:kb.`,
        [{ file: file.path, line, column: 1, message: `package ${raw} is one of the host's own` }],
      );
    }
    const id = `${ns}:${name!.replace(/^%/, '')}${version ? `@${version}` : ''}`;
    let pkg = byId.get(id);
    if (!pkg) byId.set(id, (pkg = { name: `${ns}:${name!.replace(/^%/, '')}`, version, interfaces: [], files: [], line }));
    if (owner && !pkg.files.includes(file.path)) pkg.files.push(file.path);
    return pkg;
  };

  for (const file of files) {
    const text = withoutComments(file.text);
    // The header: the first item of a file that has one (`package acme:kb@1.0.0;`).
    const header = /^\s*package\s+([^\s;{]+)\s*;/.exec(text);
    if (!header) {
      throw invalid(file.path, undefined, 'has no `package` header', `Start it with the package it belongs to, such as \`package acme:kb@1.0.0;\`, as the integrator's WIT does.`);
    }
    const own = declare(file, header[1]!, header.index + header[0].indexOf('package'), text, true);
    // Walk the rest: `package x { … }` blocks at the top level hold their own interfaces.
    let depth = 0;
    let nested: WitPackage | undefined;
    const token = /\bpackage\s+([^\s;{]+)\s*\{|\binterface\s+(%?[\w-]+)\s*\{|[{}]/g;
    token.lastIndex = header.index + header[0].length;
    for (let m = token.exec(text); m; m = token.exec(text)) {
      if (m[1] !== undefined) {
        if (depth !== 0) throw invalid(file.path, lineOf(text, m.index), 'a `package … { }` block must be at the top level of a file', 'Move it out of the block it is in.');
        nested = declare(file, m[1], m.index, text, false);
        depth++;
      } else if (m[2] !== undefined) {
        const owner = depth === 0 ? own : depth === 1 ? nested : undefined;
        const name = m[2].replace(/^%/, '');
        if (owner && !owner.interfaces.includes(name)) owner.interfaces.push(name);
        depth++;
      } else if (m[0] === '{') depth++;
      else if (--depth === 0) nested = undefined;
      else if (depth < 0) throw invalid(file.path, lineOf(text, m.index), 'has a `}` that closes nothing', 'Check the braces of the file.');
    }
    if (depth !== 0) throw invalid(file.path, undefined, 'has a `{` that is never closed', 'Check the braces of the file.');
  }
  return [...byId.values()];
}

const idOf = (p: Pick<WitPackage, 'name' | 'version'>): string => `${p.name}${p.version ? `@${p.version}` : ''}`;

/**
 * Each interface the manifest names (`acme:kb/search`), at the version the
 * project's WIT declares its package (`acme:kb/search@1.0.0`). Throws
 * INTERFACE_NOT_FOUND for one no package declares, and WIT_INVALID for one
 * declared by two versions of its package.
 */
export function resolveInterfaces(names: readonly string[], packages: readonly WitPackage[]): InterfaceImport[] {
  return names.map((id) => {
    const slash = id.lastIndexOf('/');
    const pkgName = id.slice(0, slash);
    const iface = id.slice(slash + 1);
    const candidates = packages.filter((p) => p.name === pkgName);
    const found = candidates.filter((p) => p.interfaces.includes(iface));
    if (found.length === 1) return { id, versioned: `${id}${found[0]!.version ? `@${found[0]!.version}` : ''}` };
    if (found.length > 1) {
      throw new BuildError(
        'WIT_INVALID',
        `${id} is declared by ${found.length} versions of ${pkgName}: ${found.map((p) => `${idOf(p)} (${p.files.join(', ')})`).join(', ')}`,
        undefined,
        `Keep in ${PROJECT_WIT_DIR}/ only the version of ${pkgName} the host you target offers.`,
      );
    }
    const where = candidates.length
      ? `${PROJECT_WIT_DIR}/ declares package ${candidates.map(idOf).join(', ')} (in ${[...new Set(candidates.flatMap((p) => p.files))].join(', ')}), whose interfaces are ${[...new Set(candidates.flatMap((p) => p.interfaces))].join(', ') || 'none'}`
      : packages.length
        ? `${PROJECT_WIT_DIR}/ declares no package ${pkgName} (only ${packages.map(idOf).join(', ')})`
        : `the project has no WIT in ${PROJECT_WIT_DIR}/`;
    throw new BuildError(
      'INTERFACE_NOT_FOUND',
      `"capabilities.interfaces" names ${id}, but ${where}`,
      undefined,
      candidates.length
        ? `Check the interface's name against the integrator's WIT, or update ${PROJECT_WIT_DIR}/ to the integrator's current WIT for ${pkgName}.`
        : `Put the WIT the integrator publishes for ${pkgName} in ${PROJECT_WIT_DIR}/ (for example ${PROJECT_WIT_DIR}/${pkgName.replace(':', '-')}.wit, starting \`package ${pkgName}@<version>;\`), or remove ${id} from "capabilities.interfaces".`,
    );
  });
}

/**
 * What the build adds to the world for the interfaces the manifest names:
 * nothing when it names none (a `wit/` folder is then ignored); otherwise the
 * project's packages, one build directory each, and the versioned imports.
 */
export function projectInterfaces(names: readonly string[] | undefined, wit: readonly WitFile[]): ProjectInterfaces {
  if (!names?.length) return { imports: [], files: {}, packages: [], sources: {} };
  const packages = witPackages(wit);
  const imports = resolveInterfaces(names, packages);
  const files: Record<string, string> = {};
  const placed = packages.map((p) => {
    // `_` is not a WIT identifier character, so these never meet the contract's or WASI's directories.
    const dir = `deps/${idOf(p).replace(':', '_').replaceAll('/', '_')}`;
    for (const path of p.files) files[`${dir}/${path.slice(PROJECT_WIT_DIR.length + 1).replaceAll('/', '_')}`] = wit.find((f) => f.path === path)!.text;
    return { ...p, dir };
  });
  return { imports, files, packages: placed, sources: Object.fromEntries(wit.map((f) => [f.path, f.text])) };
}

/**
 * The generated `plugin.wit`: world `<kind>-plugin`, which includes the
 * contract's world of the kind and imports the WASI interfaces the SDK uses
 * and the integrator's interfaces; and, when there are any, world
 * `integrator-interfaces`, which imports only those (their types come from it).
 */
export function pluginWorld(options: { contract: string; world: string; wasi: readonly string[]; interfaces: readonly InterfaceImport[] }): string {
  const imports = options.interfaces.map((i) => `  import ${i.versioned};`);
  return [
    'package airlock:build;',
    `world ${options.world} {`,
    `  include ${options.contract};`,
    ...options.wasi.map((w) => `  import ${w};`),
    ...imports,
    '}',
    ...(imports.length ? [`world ${INTERFACES_WORLD} {`, ...imports, '}'] : []),
    '',
  ].join('\n');
}

/**
 * The declarations file for the interfaces, from what jco's guest type
 * generation wrote for world `integrator-interfaces` (`interfaces/<pkg>-<iface>.d.ts`,
 * each an ambient `declare module 'acme:kb/search@1.0.0'`): those modules,
 * and each imported interface under its unversioned name as well, which is
 * how plugin code imports it.
 */
export function interfaceDeclarations(generated: Record<string, string>, imports: readonly InterfaceImport[], inputs: string): string {
  const modules = Object.keys(generated)
    .filter((name) => name.startsWith('interfaces/'))
    .sort()
    .map((name) => generated[name]!.replace(/^\/\/\/ <reference[^\n]*\n/gm, '').trimEnd());
  const aliases = imports.filter((i) => i.versioned !== i.id).map((i) => `declare module '${i.id}' {\n  export * from '${i.versioned}';\n}`);
  return [`// Generated by \`airlock-plugin build\` from ${PROJECT_WIT_DIR}/ for "capabilities.interfaces". Do not edit.`, `// inputs ${inputs}`, ...modules, ...aliases, ''].join('\n');
}

/** The inputs hash a declarations file written by {@link interfaceDeclarations} records. */
export const declarationInputs = (text: string): string | undefined => /^\/\/ inputs (\S+)$/m.exec(text)?.[1];

/**
 * jco's message for WIT that does not resolve, in the project's terms: the
 * build directory of a package becomes the project files it came from, and a
 * name the message quotes (`name \`strin\` does not exist`) is located in them.
 */
export function explainWitError(message: string, witPath: string, interfaces: ProjectInterfaces): BuildError {
  let text = message.replace(/^Error: /, '').trim();
  const involved = new Set<string>();
  for (const p of interfaces.packages) {
    const path = `${witPath}/${p.dir}`;
    if (text.includes(path)) {
      text = text.replaceAll(path, p.files.join(', '));
      p.files.forEach((f) => involved.add(f));
    }
  }
  text = text.replaceAll(`${witPath}/`, '').replaceAll(witPath, "the build's WIT");
  const reason = text.split('\n').pop()!.replace(/^\s*\d+:\s*/, '');
  const diagnostics: BuildDiagnostic[] = [];
  // A name the message quotes (`name \`strin\` does not exist`), not a token (`expected \`;\``).
  const quoted = /`(%?[a-zA-Z][\w-]*)`/.exec(reason)?.[1];
  const searched = involved.size ? [...involved] : interfaces.packages.flatMap((p) => p.files);
  for (const file of searched) {
    const source = interfaces.sources[file];
    const at = quoted && source !== undefined ? new RegExp(`(?<![\\w-])${quoted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).exec(withoutComments(source)) : null;
    if (at && source !== undefined) {
      const line = lineOf(source, at.index);
      diagnostics.push({ file, line, column: at.index - source.lastIndexOf('\n', at.index - 1), message: reason });
      break;
    }
  }
  if (!diagnostics.length) diagnostics.push({ file: searched.length === 1 ? searched[0] : undefined, message: reason });
  const d = diagnostics[0]!;
  const where = d.file ? `${d.file}${d.line ? `:${d.line}:${d.column}` : ''}: ` : `${PROJECT_WIT_DIR}/: `;
  return new BuildError('WIT_INVALID', `${where}${reason}`, text, `Fix the WIT in ${PROJECT_WIT_DIR}/, or take the integrator's published WIT for it again.`, diagnostics);
}
