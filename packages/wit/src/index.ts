// The explicit public API of @airlock/wit. Named exports only: everything a
// consumer may rely on is listed here, and nothing else is public.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CONTRACT_VERSION, EXPORT_INTERFACES, WIT_PACKAGE, WORLDS } from './generated/contract.js';
import type { PluginKind } from './generated/contract.js';

export {
  COMMON_EXPORTS,
  CONTRACT_VERSION,
  EXPORT_INTERFACES,
  HOST_INTERFACES,
  WIT_PACKAGE,
  WORLDS,
} from './generated/contract.js';
export type { HostInterface, PluginKind } from './generated/contract.js';

/** `foo-bar` -> `fooBar`, the way jco and componentize-js name WIT items in JS. */
type LowerCamel<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<LowerCamel<Lowercase<Tail>>>}`
  : Lowercase<S>;

/** An interface id split into its parts, as returned by {@link parseInterfaceId}. */
export interface InterfaceId {
  /** The package, `namespace:name`, e.g. `airlock:plugin`. */
  package: string;
  /** The interface name, e.g. `log`. */
  name: string;
  /** The package version, e.g. `0.1.0`; `undefined` for an unversioned id. */
  version: string | undefined;
}

/**
 * Absolute path of the `wit/` folder shipped with this package, to hand to
 * componentize-js or jco. Resolved from this module's own location, which is
 * one level below the package root both in `src/` and in `dist/`.
 */
export function witDir(): string {
  return fileURLToPath(new URL('../wit', import.meta.url));
}

/**
 * The contract version each interface first appeared in (those of 0.1.0 are
 * not listed): a component built against an earlier version cannot name it,
 * and a world written for one does not import or export it.
 */
export const INTERFACE_SINCE: Readonly<Record<string, string>> = {
  progress: '0.1.1',
  events: '0.1.2',
  lifecycle: '0.1.2',
  hook: '0.2.0',
  'prompt-template': '0.2.0',
  context: '0.2.0',
};

/**
 * Every release line of the contract with its latest version, oldest first:
 * what a host built from this package serves. Within a line a later version
 * only adds (a 0.1.0 component runs as it is on a 0.1.2 host); between lines
 * signatures may change, and the host adapts each line's components.
 */
export const CONTRACT_RELEASES: Readonly<Record<string, string>> = { '0.1': '0.1.2', [CONTRACT_VERSION.split('.').slice(0, 2).join('.')]: CONTRACT_VERSION };

/** The release line of a version: `0.1.2` -> `0.1`. */
export const releaseLine = (version: string): string => version.split('.').slice(0, 2).join('.');

/**
 * Whether a component built against `version` can be served by a host built
 * from this package: a released line, at or below its latest version, and no
 * prerelease.
 */
export function isServedContract(version: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  const latest = m && CONTRACT_RELEASES[`${m[1]}.${m[2]}`];
  return !!latest && !versionBefore(latest, version);
}

/** Whether contract version `a` comes before `b` (plain `x.y.z` versions). */
export function versionBefore(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split(/[.+-]/).slice(0, 3).map(Number));
  for (let i = 0; i < 3; i++) if (x![i] !== y![i]) return (x![i] ?? 0) < (y![i] ?? 0);
  return false;
}

/**
 * Absolute path of the folder holding the WIT files of contract `version`'s
 * release line: `wit/` for the current one, `wit/releases/<latest>/` for an
 * earlier one, to hand to wit-bindgen, componentize-js or jco.
 */
export function witDirFor(version: string = CONTRACT_VERSION): string {
  const latest = CONTRACT_RELEASES[releaseLine(version)];
  if (!latest) throw new Error(`no release line of the contract holds ${version}; served: ${Object.values(CONTRACT_RELEASES).join(', ')}`);
  return latest === CONTRACT_VERSION ? witDir() : join(witDir(), 'releases', latest);
}

/**
 * The whole contract as one WIT document, declared at `version` (default: this
 * package's): one `package` line, then every file's items of that version's
 * release line, with the worlds as they were at that version (an import or
 * export added later is left out). What `wasm-tools component embed` takes to
 * wrap a hand-written core module; a module written for an earlier contract
 * names that version in its export names.
 */
export async function contractSource(version: string = CONTRACT_VERSION): Promise<string> {
  const dir = witDirFor(version);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.wit')).sort();
  const texts = await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')));
  const later = new Set(Object.entries(INTERFACE_SINCE).filter(([, since]) => versionBefore(version, since)).map(([name]) => name));
  // A world whose kind came later (a hook plugin, in a 0.1 document) goes with it.
  const asOf = (text: string) =>
    text
      .replace(/(?:\/\/\/.*\n)*world ([\w-]+) \{[^}]*\}\n?/g, (world, name: string) => (later.has(name.replace(/-plugin$/, '')) ? '' : world))
      .split('\n')
      .filter((line) => !later.has(/^\s*(?:import|export) ([\w-]+);$/.exec(line)?.[1] ?? ''))
      .join('\n');
  return [`package ${WIT_PACKAGE}@${version};`, ...texts.map((t) => asOf(t.replace(/^package .*;$/m, '')))].join('\n');
}

/**
 * The WIT world a plugin of `kind` is built against.
 *
 * @example worldFor('tool') // 'tool-plugin'
 */
export function worldFor<K extends PluginKind>(kind: K): (typeof WORLDS)[K] {
  return WORLDS[kind];
}

/**
 * The name under which a plugin's JS entry module must export the object that
 * implements its world's interface, as componentize-js expects it (the WIT
 * name in lower camel case).
 *
 * @example exportNameFor('tool') // 'tool', so the plugin has `export const tool = { ... }`
 */
export function exportNameFor<K extends PluginKind>(kind: K): LowerCamel<(typeof EXPORT_INTERFACES)[K]> {
  const [head = '', ...rest] = EXPORT_INTERFACES[kind].split('-');
  const camel = head.toLowerCase() + rest.map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()).join('');
  return camel as LowerCamel<(typeof EXPORT_INTERFACES)[K]>;
}

/**
 * The fully qualified id of an interface of this contract, as it appears in a
 * component's imports and exports.
 *
 * @example interfaceId('tool') // 'airlock:plugin/tool@0.1.0'
 */
export function interfaceId(name: string, version: string = CONTRACT_VERSION): string {
  return `${WIT_PACKAGE}/${name}@${version}`;
}

// A WIT identifier: words of lowercase or uppercase letters and digits, each
// starting with a letter, joined by single hyphens.
const WORD = '(?:[a-z][a-z0-9]*|[A-Z][A-Z0-9]*)';
const IDENT = `${WORD}(?:-${WORD})*`;
const SEMVER = String.raw`\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?`;
const INTERFACE_ID = new RegExp(`^(${IDENT}:${IDENT})/(${IDENT})(?:@(${SEMVER}))?$`);

/**
 * Split an interface id such as `airlock:plugin/log@0.1.0` (or an unversioned
 * `wasi:cli/environment`) into package, name and version. Works for any
 * package, so hosts can sort a component's imports into ours and WASI's.
 *
 * @returns the parts, or `undefined` when `id` is not an interface id
 */
export function parseInterfaceId(id: string): InterfaceId | undefined {
  const m = INTERFACE_ID.exec(id);
  if (!m) return undefined;
  return { package: m[1]!, name: m[2]!, version: m[3] };
}

export { SOURCE_MAP_SECTION, readCustomSection, withCustomSection } from './sections.js';
export { DEV_BUNDLE_INTERFACE, DEV_BUNDLE_WIT, devBundlePath, isDevBuild } from './dev.js';
