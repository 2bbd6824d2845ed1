/**
 * Environment variables: a plugin sees the host's variables its grant names
 * (`NAME`) or prefixes (`PREFIX_*`), and no others.
 */
import { ENV_PATTERN } from '../manifest.js';
import { withEntry, withoutEntries, type CapabilitySpec } from './spec.js';

/** Whether a granted env pattern (`NAME` or `PREFIX_*`) covers a requested one. */
export function envCovers(granted: string, asked: string): boolean {
  if (granted === asked) return true;
  return granted.endsWith('*') && asked.startsWith(granted.slice(0, -1));
}

/** Environment variables visible to a plugin: granted names (`NAME`) and prefixes (`PREFIX_*`). */
export function grantedEnv(patterns: readonly string[] | undefined, source: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  if (!patterns?.length) return env;
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p))) env[name] = value;
  }
  return env;
}

export const envCapability: CapabilitySpec<'env'> = {
  name: 'env',
  form: 'env <NAME> or env <PREFIX_*>',
  items: (names) => names.map((name) => ({ capability: 'env', name })),
  covers: (granted, item) => granted?.some((g) => envCovers(g, item.name)) ?? false,
  add: (granted, item) => withEntry(granted, item.name),
  remove: (granted, item) => withoutEntries(granted, (n) => n === item.name),
  parse: (value) => (value !== undefined && ENV_PATTERN.test(value) ? { capability: 'env', name: value } : { problem: `\`${value}\` is not an environment variable name` }),
  describe: (item) => `env ${item.name}`,
  show: (item) => ({ value: item.name, risky: true }),
};
