/**
 * `airlock audit [id]`: what plugins did with their capabilities (HTTP
 * requests, files, environment variables, tokens), allowed or refused, from
 * the audit log every host on the home writes.
 */
import type { AuditQuery, Host } from '@airlock/host';
import { PLUGIN_ID, numberOption, type Args } from './args.js';
import { UsageError, table, type Ui } from './output.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since 30m`, `2h`, `7d`, or a date (`2026-12-06`, `2026-12-06T10:00`), as epoch milliseconds. */
export function parseSince(value: string, now = Date.now()): number {
  const ago = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (ago) return now - Number(ago[1]) * UNITS[ago[2]!]!;
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new UsageError(`--since takes a duration (30m, 2h, 7d) or a date (2026-12-06, 2026-12-06T10:00), not \`${value}\``);
  return at;
}

export function auditQuery(rest: string[], args: Args): AuditQuery {
  const [id, ...extra] = rest;
  if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\``);
  if (id !== undefined && !PLUGIN_ID.test(id)) throw new UsageError(`\`${id}\` is not a plugin id`);
  const since = args.values.since;
  const limit = numberOption('limit', args.values.limit, { integer: true, min: 1, max: 100_000 });
  return {
    ...(id ? { plugin: id } : {}),
    ...(since !== undefined ? { since: parseSince(since) } : {}),
    ...(args.values.refused ? { outcome: 'refused' as const } : {}),
    limit: limit ?? 200,
  };
}

const time = (at: number) => new Date(at).toISOString().replace('T', ' ').slice(0, 19);

export function showAudit(host: Host, ui: Ui, query: AuditQuery): number {
  const records = host.audit(query);
  if (ui.json) {
    ui.print(`${JSON.stringify(records)}\n`);
    return 0;
  }
  if (records.length === 0) {
    ui.log(ui.err.dim('No capability use recorded for that.'));
    return 0;
  }
  const rows = records.map((r) => [time(r.at), r.plugin, r.call ?? '', r.capability, r.action, r.target, r.outcome === 'refused' ? `refused: ${r.detail ?? ''}` : r.detail ? `${r.outcome} (${r.detail})` : r.outcome]);
  ui.print(
    table(['TIME (UTC)', 'PLUGIN', 'CALL', 'CAPABILITY', 'ACTION', 'TARGET', 'OUTCOME'], rows, (cell, row, column) =>
      column === 6 && records[row]!.outcome === 'refused' ? ui.out.red(cell) : cell,
    ),
  );
  return 0;
}
