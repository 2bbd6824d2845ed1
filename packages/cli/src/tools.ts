/**
 * `airlock tools list` and `airlock tools call`.
 */
import type { Host } from '@airlock/host';
import { UsageError, table, type Ui } from './output.js';

export function listTools(host: Host, ui: Ui): number {
  const tools = host.tools();
  if (ui.json) {
    ui.print(`${JSON.stringify(tools)}\n`);
    return 0;
  }
  const rows = tools.map((t) => [t.qualifiedName, t.risk, t.description]);
  ui.print(
    table(['TOOL', 'RISK', 'DESCRIPTION'], rows, (cell, row, column) => {
      const risk = tools[row]!.risk;
      if (column !== 1 || risk === 'read-only') return cell;
      return risk === 'write' ? ui.out.yellow(cell) : ui.out.red(cell);
    }),
  );
  return 0;
}

/** `<tool> [json]`, checked before any plugin loads. */
export function parseToolCall(rest: string[]): { tool: string; args: unknown } {
  const [tool, json, ...extra] = rest;
  if (!tool) throw new UsageError('name the tool to call: airlock tools call <tool> [json]');
  if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\`; quote the JSON arguments`);
  let args: unknown = {};
  if (json !== undefined) {
    try {
      args = JSON.parse(json);
    } catch (e) {
      throw new UsageError(`the arguments are not valid JSON: ${(e as Error).message}`);
    }
  }
  return { tool, args };
}

export async function callTool(host: Host, ui: Ui, tool: string, args: unknown): Promise<number> {
  const result = await host.callTool(tool, args);
  ui.print(ui.json ? `${JSON.stringify({ tool, result })}\n` : `${JSON.stringify(result, null, 2)}\n`);
  return 0;
}
