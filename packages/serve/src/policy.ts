/**
 * Which tool calls ask the user first. A tool whose risk level is in
 * `confirm` (by default `dangerous` only) runs only once the user allowed
 * that call, asked through MCP elicitation; a client that cannot ask gets the
 * call refused, with how to allow it. Tools in `allow` never ask.
 *
 * The policy lives in the home's `config.json`:
 *
 *   {"serve": {"confirm": ["risky", "dangerous"], "allow": ["notes.delete_note", "backup.*"]}}
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError, type RiskLevel, type ToolInfo } from '@airlock/host';

export interface ToolPolicy {
  /** Risk levels whose calls ask the user first. Default: `['dangerous']`. */
  confirm?: RiskLevel[];
  /** Tools that never ask: `<plugin>.<tool>`, or `<plugin>.*` for all of a plugin's. */
  allow?: string[];
  /** Where the policy was read from, to say where to change it. */
  source?: string;
}

const RISKS: readonly RiskLevel[] = ['read-only', 'write', 'risky', 'dangerous'];
export const DEFAULT_CONFIRM: readonly RiskLevel[] = ['dangerous'];

export function needsConfirmation(policy: ToolPolicy, tool: ToolInfo): boolean {
  if (!(policy.confirm ?? DEFAULT_CONFIRM).includes(tool.risk)) return false;
  const allowed = policy.allow ?? [];
  return !allowed.includes(tool.qualifiedName) && !allowed.includes(`${tool.plugin}.*`);
}

/** How to let `tool` run without asking, for a refusal's message. */
export function howToAllow(policy: ToolPolicy, tool: ToolInfo): string {
  const where = policy.source ?? '<home>/config.json';
  return `To allow it without asking, add "${tool.qualifiedName}" to serve.allow in ${where}: {"serve": {"allow": ["${tool.qualifiedName}"]}}`;
}

/** The `serve` section of `<home>/config.json`; the default policy when the file or the section is absent. */
export async function readToolPolicy(home: string): Promise<ToolPolicy> {
  const file = join(home, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { source: file };
    throw new AirlockError('HOME_UNUSABLE', `cannot read ${file}: ${(err as Error).message}`);
  }
  const invalid = (why: string) =>
    new AirlockError('HOST_OPTIONS_INVALID', `${file} ${why}`, { hint: 'The serve section looks like {"serve": {"confirm": ["risky", "dangerous"], "allow": ["notes.delete_note"]}}.' });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(`is not valid JSON: ${(err as Error).message}`);
  }
  const serve = (json as { serve?: unknown } | null)?.serve;
  if (serve === undefined) return { source: file };
  if (typeof serve !== 'object' || serve === null || Array.isArray(serve)) throw invalid('has a `serve` that is not an object');
  const { confirm, allow } = serve as { confirm?: unknown; allow?: unknown };
  if (confirm !== undefined && (!Array.isArray(confirm) || !confirm.every((r) => RISKS.includes(r as RiskLevel)))) {
    throw invalid(`has a \`serve.confirm\` that is not a list of risk levels (${RISKS.join(', ')})`);
  }
  if (allow !== undefined && (!Array.isArray(allow) || !allow.every((t) => typeof t === 'string' && /^[a-z][a-z0-9-]*\.(\*|[a-z][a-z0-9_-]*)$/.test(t)))) {
    throw invalid('has a `serve.allow` that is not a list of <plugin>.<tool> (or <plugin>.*) names');
  }
  return { ...(confirm ? { confirm: confirm as RiskLevel[] } : {}), ...(allow ? { allow: allow as string[] } : {}), source: file };
}
