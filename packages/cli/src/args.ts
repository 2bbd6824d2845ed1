/**
 * Command-line parsing: one option table for every command, a check that each
 * option given applies to the command, and the values that need more than a string.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './output.js';
import { PLUGIN_ID } from '@airlock/host';

const OPTIONS = {
  plugin: { type: 'string', short: 'p', multiple: true },
  yes: { type: 'boolean', short: 'y' },
  config: { type: 'string', short: 'c', multiple: true },
  home: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  provider: { type: 'string' },
  model: { type: 'string' },
  system: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'no-tools': { type: 'boolean' },
  force: { type: 'boolean' },
  'keep-data': { type: 'boolean' },
  purge: { type: 'boolean' },
  out: { type: 'string' },
  key: { type: 'string' },
  'trust-key': { type: 'string', multiple: true },
  'require-signed': { type: 'boolean' },
  stdio: { type: 'boolean' },
  port: { type: 'string' },
  bind: { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-cert': { type: 'string' },
  scope: { type: 'string', multiple: true },
  name: { type: 'string' },
  url: { type: 'string' },
  once: { type: 'boolean' },
  since: { type: 'string' },
  refused: { type: 'boolean' },
  limit: { type: 'string' },
  var: { type: 'string', multiple: true },
  vars: { type: 'string' },
  budget: { type: 'string' },
  'max-items': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];
export type OptionName = keyof typeof OPTIONS;

export interface Args {
  values: Values;
  positionals: string[];
}

export function parse(argv: string[]): Args {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Options every command takes. */
const COMMON: readonly OptionName[] = ['json', 'help', 'version'];

/** Refuse options that mean nothing to `command` (say, `--model` for `tools list`). */
export function onlyOptions(args: Args, command: string, allowed: readonly OptionName[]): void {
  const known = new Set([...COMMON, ...allowed]);
  const stray = (Object.keys(args.values) as OptionName[]).find((name) => !known.has(name));
  if (stray) throw new UsageError(`\`--${stray}\` does not apply to \`airlock ${command}\``);
}

/** A plugin id, as the host checks it. */
export { PLUGIN_ID };
const CONFIG_FORM = '--config <plugin-id>.<key>=<value>, e.g. --config weather.units=\'"metric"\'';

/**
 * Parse `--config <plugin-id>.<key>=<value>` flags into one configuration per
 * plugin id. A value that is valid JSON is taken as JSON, anything else as a string.
 */
export function parseConfigs(flags: readonly string[]): Map<string, Record<string, unknown>> {
  const configs = new Map<string, Record<string, unknown>>();
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const dot = flag.indexOf('.');
    const id = flag.slice(0, dot);
    const key = flag.slice(dot + 1, eq);
    if (eq < 0 || dot < 0 || dot > eq || !PLUGIN_ID.test(id) || key === '') {
      throw new UsageError(`malformed \`--config ${flag}\`; expected ${CONFIG_FORM}`);
    }
    const config = configs.get(id) ?? {};
    config[key] = jsonOrString(flag.slice(eq + 1));
    configs.set(id, config);
  }
  return configs;
}

function jsonOrString(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A numeric option's value, or undefined when absent; a usage error when it is not a number in range. */
export function numberOption(name: OptionName, value: string | undefined, check: { integer?: boolean; min: number; max?: number }): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const ok = value.trim() !== '' && Number.isFinite(n) && (!check.integer || Number.isInteger(n)) && n >= check.min && (check.max === undefined || n <= check.max);
  if (!ok) {
    const kind = check.integer ? 'an integer' : 'a number';
    const range = check.max === undefined ? `>= ${check.min}` : `from ${check.min} to ${check.max}`;
    throw new UsageError(`\`--${name}\` must be ${kind} ${range}, got \`${value}\``);
  }
  return n;
}
