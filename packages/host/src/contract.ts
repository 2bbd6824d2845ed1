/**
 * Which contract a component was built against, and whether this host can
 * serve it. The version is read from the interface names the component imports
 * and exports (`airlock:plugin/tool@0.1.0`), not from anything the plugin claims.
 */
import semver from 'semver';
import { COMMON_EXPORTS, CONTRACT_RELEASES, CONTRACT_VERSION, DEV_BUNDLE_INTERFACE, HOST_INTERFACES as CONTRACT_HOST_INTERFACES, INTERFACE_SINCE, WIT_PACKAGE, isServedContract, parseInterfaceId } from '@airlock/wit';
import { AirlockError } from './errors.js';
import type { PluginKind } from './manifest.js';
import type { PreparedComponent } from './component.js';
import { unversioned } from './sandbox/protocol.js';

const HOST_INTERFACES = new Set<string>(CONTRACT_HOST_INTERFACES);
/** Whether interface `name` is part of contract `version` (a component built against an earlier one cannot name it). */
const existsIn = (name: string, version: string) => semver.gte(version, INTERFACE_SINCE[name] ?? '0.1.0');
/** WASI packages the host provides (each gated by capabilities). */
const WASI_PACKAGES = new Set(['wasi:cli', 'wasi:clocks', 'wasi:filesystem', 'wasi:http', 'wasi:io', 'wasi:random']);

/** The versions this host serves, as people read them: `0.1.0 to 0.1.2, 0.2.0`. */
export const SERVED_CONTRACTS = Object.entries(CONTRACT_RELEASES)
  .map(([line, latest]) => (latest === `${line}.0` ? latest : `${line}.0 to ${latest}`))
  .join(', ');

/** Contract versions this host serves: every release line, each up to its latest version (one adapter per line). */
export const isSupportedContract = isServedContract;

/**
 * The contract version a plugin declaring `range` (its manifest's
 * `contract`) is built against: the latest served version in the range, or
 * the current contract when it declares none; `undefined` when no served
 * version is in the range. A plugin that must run on hosts of an earlier
 * line declares it (`"contract": "^0.1.0"`).
 */
export function contractTarget(range: string | undefined): string | undefined {
  if (range === undefined) return CONTRACT_VERSION;
  return semver.maxSatisfying(Object.values(CONTRACT_RELEASES), range) ?? undefined;
}

/**
 * Check the component exports `kind` at a supported version, in the range
 * the manifest declares (`airlock.contract`, when it does), and imports
 * nothing the host lacks. Returns the contract version.
 */
export function checkContract(component: PreparedComponent, kind: PluginKind, pluginId: string, declared?: string, offered: ReadonlySet<string> = new Set()): string {
  const exported = component.exports.map(parseInterfaceId).filter((p) => p?.package === WIT_PACKAGE);
  const own = exported.find((p) => p!.name === kind);
  if (!own) {
    // The hooks every plugin exports say nothing about its kind.
    const found = exported.map((p) => p!.name).filter((name) => !(COMMON_EXPORTS as readonly string[]).includes(name)).join(', ') || 'no Airlock interface';
    throw new AirlockError('COMPONENT_INVALID', `plugin \`${pluginId}\` is a ${kind} plugin by its manifest, but its component exports ${found}`, {
      plugin: pluginId,
      hint: `Set "kind" in the manifest to match the code, or build the code as a ${kind} plugin.`,
    });
  }
  if (!own.version || !isSupportedContract(own.version)) {
    throw new AirlockError('CONTRACT_UNSUPPORTED', `plugin \`${pluginId}\` was built against contract ${WIT_PACKAGE}@${own.version ?? '(unversioned)'}, but this host serves ${SERVED_CONTRACTS}`, {
      plugin: pluginId,
      hint: `Rebuild the plugin with an @airlock/sdk for contract ${CONTRACT_VERSION}, or use a host that serves ${own.version}.`,
    });
  }
  if (!existsIn(own.name, own.version)) {
    throw new AirlockError('CONTRACT_UNSUPPORTED', `plugin \`${pluginId}\` exports ${WIT_PACKAGE}/${own.name}@${own.version}, but ${kind} plugins came with contract ${INTERFACE_SINCE[own.name]}`, {
      plugin: pluginId,
      hint: `Rebuild the plugin with an @airlock/sdk for contract ${CONTRACT_VERSION}.`,
    });
  }
  if (declared !== undefined && !semver.satisfies(own.version, declared)) {
    throw new AirlockError('CONTRACT_UNSUPPORTED', `plugin \`${pluginId}\` declares contract ${declared} ("contract" in its manifest), but its component was built against ${own.version}`, {
      plugin: pluginId,
      hint: `Rebuild the plugin, or make "contract" in the manifest a range that holds ${own.version} (e.g. "^${own.version}").`,
    });
  }
  for (const name of component.imports) {
    const parsed = parseInterfaceId(name);
    const pkg = parsed?.package ?? name.split('/')[0]!;
    const ok =
      pkg === WIT_PACKAGE
        ? HOST_INTERFACES.has(parsed?.name ?? '') && parsed?.version === own.version && existsIn(parsed.name, own.version)
        : WASI_PACKAGES.has(pkg) || name === DEV_BUNDLE_INTERFACE || (!pkg.startsWith('wasi:') && offered.has(unversioned(name)));
    if (!ok) {
      throw new AirlockError('COMPONENT_INVALID', `plugin \`${pluginId}\` imports ${name}, which this host does not provide`, {
        plugin: pluginId,
        hint: `A plugin may import only the Airlock host interfaces, the WASI interfaces the host gates${offered.size ? `, and the interfaces this host adds (${[...offered].join(', ')})` : ', and interfaces an integrator adds with createHost({ interfaces })'}.`,
      });
    }
  }
  return own.version;
}

/**
 * Whether the component exports the lifecycle hooks (`init`, `shutdown`,
 * `on-event`): every plugin built with the SDK against contract 0.1.2 or
 * later does; earlier ones, and hand-written components that leave them out,
 * run without them.
 */
export function exportsHooks(component: Pick<PreparedComponent, 'exports'>): boolean {
  return component.exports.some((name) => {
    const parsed = parseInterfaceId(name);
    return parsed?.package === WIT_PACKAGE && parsed.name === 'lifecycle' && !!parsed.version && isSupportedContract(parsed.version) && existsIn('lifecycle', parsed.version);
  });
}
