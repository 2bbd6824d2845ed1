/**
 * `airlock prompt list`, `airlock prompt render` and `airlock context`: the
 * prompt templates and context plugins of the loaded plugins.
 */
import type { Host } from '@airlock/host';
import { serveLibrary } from './serve.js';
import { UsageError, table, type Ui } from './output.js';

export function listPrompts(host: Host, ui: Ui): number {
  const prompts = host.prompts();
  if (ui.json) {
    ui.print(`${JSON.stringify(prompts)}\n`);
    return 0;
  }
  const rows = prompts.map((p) => {
    const required = new Set(Array.isArray(p.variables.required) ? (p.variables.required as string[]) : []);
    const names = Object.keys((p.variables.properties ?? {}) as object).map((n) => (required.has(n) ? n : `[${n}]`));
    return [p.qualifiedName, names.join(' '), p.description];
  });
  ui.print(table(['PROMPT', 'VARIABLES', 'DESCRIPTION'], rows));
  return 0;
}

/** `<name>` and the `--var k=v` / `--vars <json>` flags, checked before any plugin loads. */
export function parsePromptRender(rest: string[], vars: readonly string[] = [], json: string | undefined): { name: string; given: Record<string, string>; variables: Record<string, unknown> } {
  const [name, ...extra] = rest;
  if (!name) throw new UsageError('name the template to render: airlock prompt render <name> [--var key=value...]');
  if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\`; pass variables with --var key=value or --vars '<json>'`);
  let variables: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw new UsageError(`--vars is not valid JSON: ${(e as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--vars must be a JSON object, e.g. --vars \'{"text":"hi"}\'');
    variables = parsed as Record<string, unknown>;
  }
  const given: Record<string, string> = {};
  for (const flag of vars) {
    const eq = flag.indexOf('=');
    if (eq < 1) throw new UsageError(`malformed \`--var ${flag}\`; expected --var <name>=<value>`);
    given[flag.slice(0, eq)] = flag.slice(eq + 1);
  }
  return { name, given, variables };
}

/** Render a template: `--var` strings are read as the schema's types (as MCP arguments are), `--vars` JSON as it is. */
export async function renderPrompt(host: Host, ui: Ui, name: string, given: Record<string, string>, variables: Record<string, unknown>): Promise<number> {
  const prompt = host.prompts().find((p) => p.qualifiedName === name || p.name === name);
  const { coerceArguments } = await serveLibrary();
  const all = { ...variables, ...(prompt ? coerceArguments(prompt, given) : given) };
  const { messages } = await host.renderPrompt(name, all);
  if (ui.json) {
    ui.print(`${JSON.stringify({ prompt: prompt?.qualifiedName ?? name, messages })}\n`);
    return 0;
  }
  ui.print(messages.map((m) => `${ui.out.dim(`── ${m.role} ──`)}\n${m.content}\n`).join('\n'));
  return 0;
}

/** Ask the context plugins, print what fits; failures of some plugins go to stderr. */
export async function showContext(host: Host, ui: Ui, query: string, budgetTokens: number, maxItems: number | undefined): Promise<number> {
  const result = await host.context(query, { budgetTokens, ...(maxItems === undefined ? {} : { maxItems }) });
  for (const f of result.failures) ui.log(`${ui.err.yellow('warning')}: context plugin \`${f.plugin}\` failed: ${f.message}`);
  if (ui.json) {
    ui.print(`${JSON.stringify(result)}\n`);
    return 0;
  }
  ui.print(result.items.map((i) => `${ui.out.dim(`── ${i.source} (${i.plugin}, score ${Number(i.score.toFixed(3))}) ──`)}\n${i.text}\n`).join('\n'));
  ui.log(ui.err.dim(`${result.items.length} item${result.items.length === 1 ? '' : 's'}, ${result.tokens} of ${budgetTokens} tokens${result.dropped ? `, ${result.dropped} left out` : ''}`));
  return 0;
}
