/**
 * `airlock top`: the plugins of a running `airlock serve`, from its `/metrics`
 * (a token with the metrics scope, in AIRLOCK_TOKEN): state, calls, errors,
 * latency, calls in flight, restarts, memory. On a terminal it refreshes until
 * Ctrl-C; otherwise, or with --once or --json, it prints once.
 */
import { formatBytes, type PluginMetrics } from '@airlock/host';
import type { Args } from './args.js';
import { CliError, UsageError, table, type Ui } from './output.js';
import { DEFAULT_PORT } from './serve.js';

/** A running `airlock serve` to read metrics from: its `/metrics` address and a token with the metrics scope. */
export interface MetricsSource {
  url: string;
  token: string | undefined;
}

export interface TopOptions extends MetricsSource {
  once: boolean;
  intervalMs: number;
}

/** The server named by --url (default: this machine's default port), with the token in AIRLOCK_TOKEN. */
export function metricsSource(given: string, env: NodeJS.ProcessEnv): MetricsSource {
  if (!URL.canParse(given) || !/^https?:$/.test(new URL(given).protocol)) throw new UsageError(`--url must be the http(s) address of an \`airlock serve\`, e.g. http://127.0.0.1:${DEFAULT_PORT}; got \`${given}\``);
  return { url: new URL('/metrics', given).href, token: env.AIRLOCK_TOKEN || undefined };
}

export function topOptions(rest: string[], args: Args, env: NodeJS.ProcessEnv): TopOptions {
  if (rest.length) throw new UsageError(`unexpected argument \`${rest[0]}\``);
  return { ...metricsSource(args.values.url ?? `http://127.0.0.1:${DEFAULT_PORT}`, env), once: !!args.values.once, intervalMs: 2000 };
}

/** One read of the server's metrics; errors say what to do. */
export async function readMetrics(options: MetricsSource): Promise<PluginMetrics[]> {
  let res: Response;
  try {
    res = await fetch(options.url, { headers: { accept: 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) } });
  } catch (err) {
    const why = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new CliError('SERVER_UNREACHABLE', `no \`airlock serve\` answers at ${options.url}: ${why}`, 'Start one with `airlock serve`, or point --url at it.');
  }
  if (res.status === 401 || res.status === 403) {
    throw new CliError(
      'TOKEN_REFUSED',
      `${options.url} refused ${options.token ? 'the token in AIRLOCK_TOKEN' : 'a request without a token'} (HTTP ${res.status})`,
      'Set AIRLOCK_TOKEN to a token with the metrics scope: `airlock token create --scope metrics --name top`.',
    );
  }
  const body = res.ok ? ((await res.json().catch(() => undefined)) as { plugins?: PluginMetrics[] } | undefined) : undefined;
  if (!Array.isArray(body?.plugins)) throw new CliError('SERVER_UNREACHABLE', `${options.url} did not answer with Airlock metrics (HTTP ${res.status})`, 'Point --url at an `airlock serve`.');
  return body.plugins!;
}

export const ms = (n: number) => (n >= 100 ? `${Math.round(n)} ms` : n >= 1 ? `${n.toFixed(1)} ms` : `${Math.round(n * 1000)} µs`);

function render(ui: Ui, plugins: PluginMetrics[]): string {
  if (plugins.length === 0) return `${ui.out.dim('No plugin is loaded.')}\n`;
  const rows = plugins.map((p) => {
    const errors = Object.values(p.errors).reduce((a, b) => a + b, 0);
    return [p.id, p.state, String(p.calls), String(errors), p.latency.count ? ms(p.latency.p50Ms) : '-', p.latency.count ? ms(p.latency.p99Ms) : '-', `${p.inFlight}/${p.queued}`, String(p.restarts), formatBytes(p.memoryHighWaterBytes)];
  });
  return table(['PLUGIN', 'STATE', 'CALLS', 'ERRORS', 'P50', 'P99', 'RUN/WAIT', 'RESTARTS', 'MEMORY'], rows, (cell, row, column) => {
    if (column !== 1) return cell;
    const state = plugins[row]!.state;
    return state === 'active' ? ui.out.green(cell) : state === 'failed' ? ui.out.red(cell) : ui.out.yellow(cell);
  });
}

export async function top(ui: Ui, options: TopOptions): Promise<number> {
  if (ui.json) {
    ui.print(`${JSON.stringify(await readMetrics(options))}\n`);
    return 0;
  }
  if (options.once || !ui.io.isTTY) {
    ui.print(render(ui, await readMetrics(options)));
    return 0;
  }
  // A terminal: redraw in place until Ctrl-C.
  let stopped = false;
  let wake = () => {};
  const off = ui.io.onInterrupt(() => {
    stopped = true;
    wake();
  });
  try {
    while (!stopped) {
      const frame = render(ui, await readMetrics(options));
      ui.print(`\x1b[H\x1b[2J${ui.out.dim(`${options.url.replace(/\/metrics$/, '')} — every ${options.intervalMs / 1000} s, Ctrl-C to stop`)}\n\n${frame}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.intervalMs);
        wake = () => (clearTimeout(timer), resolve());
      });
    }
  } finally {
    off();
  }
  return 0;
}
