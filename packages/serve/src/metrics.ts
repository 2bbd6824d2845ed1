/**
 * `GET /metrics`: the host's per-plugin figures in the Prometheus text
 * exposition format (version 0.0.4), or as JSON for `Accept: application/json`.
 *
 * Written here rather than with prom-client: its metrics are objects a program
 * updates as things happen, in a registry of its own, while these figures are
 * already kept by the host and only need writing out at each scrape (and
 * prom-client cannot take a histogram's buckets from elsewhere).
 */
import { LATENCY_BUCKETS_MS, type PluginMetrics, type PluginState } from '@airlock/host';

const STATES: readonly PluginState[] = ['starting', 'active', 'stopping', 'failed'];

/** A label value as the format wants it: backslash, double quote and newline escaped. */
const escape = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

const labels = (pairs: Record<string, string>) =>
  `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(',')}}`;

/** A number as the format writes it. */
const num = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN');

/** The figures of every loaded plugin, as Prometheus text. */
export function prometheusText(plugins: readonly PluginMetrics[]): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: (p: PluginMetrics) => [string, Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const p of plugins) for (const [suffix, extra, value] of samples(p)) out.push(`${name}${suffix}${labels({ plugin: p.id, ...extra })} ${num(value)}`);
  };
  const one = (value: (p: PluginMetrics) => number) => (p: PluginMetrics): [string, Record<string, string>, number][] => [['', {}, value(p)]];

  family('airlock_plugin_state', 'gauge', 'Where the plugin is in its life: 1 for its state, 0 for the others.', (p) => STATES.map((s) => ['', { state: s }, p.state === s ? 1 : 0]));
  family('airlock_plugin_calls_total', 'counter', 'Calls into the plugin, including the host\'s own (list-tools at load).', one((p) => p.calls));
  family('airlock_plugin_errors_total', 'counter', 'Failed calls by code: the host\'s error code, or returned:<code> for errors the plugin returned.', (p) =>
    Object.entries(p.errors).map(([code, n]) => ['', { code }, n]),
  );
  family('airlock_plugin_call_duration_seconds', 'histogram', 'How long calls into the plugin took, queueing excluded.', (p) => [
    ...LATENCY_BUCKETS_MS.map((le, i): [string, Record<string, string>, number] => ['_bucket', { le: num(le / 1000) }, p.latency.buckets[i]!]),
    ['_bucket', { le: '+Inf' }, p.latency.count],
    ['_sum', {}, p.latency.sumMs / 1000],
    ['_count', {}, p.latency.count],
  ]);
  family('airlock_plugin_in_flight', 'gauge', 'Calls running now.', one((p) => p.inFlight));
  family('airlock_plugin_queued', 'gauge', 'Calls waiting for an instance.', one((p) => p.queued));
  family('airlock_plugin_restarts_total', 'counter', 'Instances replaced after one failed (trap, timeout, memory limit, crash).', one((p) => p.restarts));
  const http = (value: (t: PluginMetrics['http'][string]) => number) => (p: PluginMetrics) =>
    Object.entries(p.http).map(([origin, t]): [string, Record<string, string>, number] => ['', { origin }, value(t)]);
  family('airlock_plugin_http_requests_total', 'counter', 'Outbound HTTP requests sent, by origin.', http((t) => t.requests));
  family('airlock_plugin_http_refused_total', 'counter', 'Outbound HTTP requests refused by the grant, by origin.', http((t) => t.refused));
  family('airlock_plugin_http_sent_bytes_total', 'counter', 'Request body bytes sent, by origin.', http((t) => t.bytesOut));
  family('airlock_plugin_http_received_bytes_total', 'counter', 'Response body bytes received, by origin.', http((t) => t.bytesIn));
  family('airlock_plugin_memory_high_water_bytes', 'gauge', 'The most linear memory one of the plugin\'s instances reached.', one((p) => p.memoryHighWaterBytes));
  family('airlock_plugin_storage_bytes', 'gauge', 'Bytes (keys and values) the plugin has stored.', (p) => (p.storage ? [['', {}, p.storage.bytes]] : []));
  family('airlock_plugin_storage_keys', 'gauge', 'Keys the plugin has stored.', (p) => (p.storage ? [['', {}, p.storage.keys]] : []));
  family('airlock_plugin_events_published_total', 'counter', 'Events the plugin published (refused ones not counted).', one((p) => p.events.published));
  family('airlock_plugin_events_delivered_total', 'counter', 'Events on its subscribed topics the plugin handled.', one((p) => p.events.delivered));
  family('airlock_plugin_events_dropped_total', 'counter', 'Events for the plugin dropped because it fell behind.', one((p) => p.events.dropped));
  family('airlock_plugin_events_queued', 'gauge', 'Events waiting for the plugin.', one((p) => p.events.queued ?? 0));
  return `${out.join('\n')}\n`;
}
