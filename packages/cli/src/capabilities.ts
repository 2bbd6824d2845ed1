/**
 * Capabilities on a terminal: one line per thing a plugin may do, with the
 * risky ones marked. What each item says, and what is risky, is the host's
 * (`capabilityItems` from `@airlock/host`); this module only lays it out.
 *
 * A risky line starts with `!` (yellow where colors are on); without colors it
 * also ends with `(risky)`, so the mark survives copy, paste and NO_COLOR.
 */
import { AirlockError, CAPABILITY_NAMES, expandConfigTemplates, parseGrantItem, type Capabilities, type CapabilityItem, type GrantItem, type Manifest } from '@airlock/host';
import { UsageError, type Painter } from './output.js';

/**
 * Capability lines, indented, for the stream `paint` colors. Nothing to show
 * gives one `(nothing)` line. A legend follows when a line is marked risky.
 */
export function capabilityLines(paint: Painter, items: CapabilityItem[], indent = '  '): string {
  if (items.length === 0) return `${indent}  ${paint.dim('(nothing)')}\n`;
  const width = Math.max(...items.map((i) => i.capability.length));
  const lines = items.map((i) => {
    const mark = i.risky ? paint.yellow(paint.bold('!')) : ' ';
    const suffix = i.risky && !paint.colors ? '  (risky)' : '';
    return `${indent}${mark} ${i.capability.padEnd(width)}  ${i.value}${suffix}\n`;
  });
  const legend = items.some((i) => i.risky) ? `${indent}${paint.dim('! risky: network, environment variables, writable files or a sign-in')}\n` : '';
  return lines.join('') + legend;
}

/**
 * The manifest's capabilities with `{{ config.<key> }}` http entries replaced
 * by the origin of the configured (or default) URL, as the host does before it
 * checks a grant; an entry with neither grants nothing and is left out.
 */
export function askedCapabilities(manifest: Manifest, config: Record<string, unknown>): Capabilities {
  return expandConfigTemplates(manifest, config).capabilities;
}

/** Read `<capability> [value]` for `airlock grant` / `airlock revoke`; usage errors say the expected form. */
export function grantItemOf(command: 'grant' | 'revoke', capability: string | undefined, value: string | undefined): GrantItem {
  if (capability === undefined || !(CAPABILITY_NAMES as readonly string[]).includes(capability)) {
    const what = capability === undefined ? 'name a capability' : `unknown capability \`${capability}\``;
    throw new UsageError(`${what}; \`airlock ${command} <id> <capability> [value]\` takes ${CAPABILITY_NAMES.join(', ')}`);
  }
  try {
    return parseGrantItem(capability, value, { revoke: command === 'revoke' });
  } catch (err) {
    if (err instanceof AirlockError && err.code === 'GRANT_ITEM_INVALID') throw new UsageError(err.message);
    throw err;
  }
}
