/**
 * The host's policy: what no plugin gets, whatever its user consented to.
 * Consent is given one prompt at a time by people in a hurry; the integrator
 * decides once what is never worth a prompt. Checked at every load (and so at
 * install, whose trial is a load): the refusal names the entry and the rule.
 */
import { homedir } from 'node:os';
import { getPublicSuffix } from 'tldts';
import { AirlockError } from './errors.js';
import type { Capabilities, Manifest } from './manifest.js';
import { expandPath } from './capabilities/filesystem.js';
import { parseRange } from './capabilities/http.js';

export interface HostPolicy {
  /**
   * Refuse http entries that reach a whole public suffix (`https://*.com`,
   * `https://*.co.uk`, `https://*.github.io`) or every address (`0.0.0.0/0`,
   * `::/0`). Default true.
   */
  refuseBroadHttp?: boolean;
  /**
   * Directories no plugin may be granted, read-only or read-write. An entry
   * names one directory (its subdirectories stay grantable), or, ending in
   * `/**`, the directory and everything below it. `~` is the home directory.
   * Default {@link PROTECTED_PATHS}; the host's own home is always protected.
   */
  protectedPaths?: readonly string[];
  /**
   * A tool plugin whose tools all say `read-only` while it holds a grant that
   * can change things (network access, storage, a read-write directory):
   * `warn` (default: a warning at load), `refuse`, or `allow`.
   */
  understatedRisk?: 'warn' | 'refuse' | 'allow';
}

/** Roots no plugin needs whole, and the places secrets live. */
export const PROTECTED_PATHS: readonly string[] = [
  '/',
  '~',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/proc',
  '/root',
  '/sbin',
  '/sys',
  '/usr',
  '/var',
  '/Users',
  '~/.ssh/**',
  '~/.gnupg/**',
  '~/.aws/**',
  '~/.kube/**',
  '~/.docker/**',
  '~/.config/gh/**',
];

/** Why the host will not let plugin `manifest` have `capabilities`, whatever was granted; undefined when it may. */
export function policyRefusal(manifest: Manifest, capabilities: Capabilities, policy: HostPolicy, hostHome: string): string | undefined {
  if (policy.refuseBroadHttp ?? true) {
    for (const entry of capabilities.http ?? []) {
      const why = broadHttp(entry);
      if (why) return `http entry \`${entry}\` ${why}`;
    }
  }
  const rules = [...(policy.protectedPaths ?? PROTECTED_PATHS), `${hostHome}/**`];
  for (const dir of capabilities.filesystem ?? []) {
    const rule = rules.find((r) => protects(r, dir.path));
    if (rule) return `filesystem entry \`${dir.path}\` is protected by the host's policy (${rule === `${hostHome}/**` ? "the host's own home" : `\`${rule}\``})`;
  }
  return undefined;
}

/** Why an http entry reaches too much, or undefined. */
function broadHttp(entry: string): string | undefined {
  const range = parseRange(entry);
  if (range) return range.prefix === 0 ? 'is every address' : undefined;
  const m = /^https?:\/\/\*\.([^:/]+)/i.exec(entry);
  if (!m) return undefined;
  const domain = m[1]!.toLowerCase();
  // A wildcard over a suffix anyone can register under reaches every site there.
  return getPublicSuffix(domain, { allowPrivateDomains: true }) === domain ? `reaches every site under \`.${domain}\`, a public suffix` : undefined;
}

/** Whether rule `rule` protects directory `path`. */
function protects(rule: string, path: string): boolean {
  const home = homedir();
  const target = expandPath(path, home);
  if (rule.endsWith('/**')) {
    const root = expandPath(rule.slice(0, -3) || '/', home);
    return target === root || target.startsWith(root === '/' ? '/' : `${root}/`);
  }
  return target === expandPath(rule, home);
}

/** The warning (or refusal) for a tool plugin whose tools all claim `read-only` while its grant can change things. */
export function understatedRisk(manifest: Manifest, capabilities: Capabilities, risks: readonly string[]): string | undefined {
  if (manifest.kind !== 'tool' || risks.length === 0 || risks.some((r) => r !== 'read-only')) return undefined;
  const writes = [
    ...(capabilities.http?.length ? ['network access'] : []),
    ...(capabilities.storage ? ['storage'] : []),
    ...(capabilities.filesystem ?? []).filter((d) => d.access === 'read-write').map((d) => `read-write ${d.path}`),
  ];
  if (writes.length === 0) return undefined;
  return `every tool of \`${manifest.id}\` says it is read-only, but the plugin holds ${writes.join(', ')}, which can change things`;
}

/** The host refuses a plugin by its policy. */
export function refusedByPolicy(manifest: Manifest, why: string): AirlockError {
  return new AirlockError('POLICY_REFUSED', `the host's policy refuses plugin \`${manifest.id}\`: ${why}`, {
    plugin: manifest.id,
    hint: "Ask for less in the manifest (a specific origin or directory); an integrator can change the rule with createHost({ policy }).",
  });
}
