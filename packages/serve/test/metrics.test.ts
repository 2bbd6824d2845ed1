/**
 * The Prometheus text the gateway serves, read back by a third-party parser
 * of the format: every family typed, every sample where it should be, label
 * values that need escaping intact.
 */
import { describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { LATENCY_BUCKETS_MS, type PluginMetrics } from '@airlock/host';
import { prometheusText } from '../src/metrics.js';

const latency = { count: 4, sumMs: 12.5, maxMs: 9, p50Ms: 1, p90Ms: 9, p99Ms: 9, buckets: LATENCY_BUCKETS_MS.map((le) => (le < 1 ? 0 : le < 10 ? 3 : 4)).concat(4) };

const metrics = (id: string, extra: Partial<PluginMetrics> = {}): PluginMetrics => ({
  id,
  state: 'active',
  since: 0,
  restarts: 1,
  calls: 4,
  errors: { PLUGIN_TRAPPED: 1, 'returned:not-found': 2 },
  latency,
  inFlight: 0,
  queued: 0,
  http: {},
  memoryHighWaterBytes: 2 * 1024 * 1024,
  events: { published: 3, delivered: 5, dropped: 1, queued: 2 },
  ...extra,
});

describe('prometheusText', () => {
  const odd = 'http://a"b\\c\nd.example';
  const text = prometheusText([
    metrics('notes', { storage: { bytes: 34, keys: 2 }, http: { 'https://api.example.com': { requests: 2, refused: 0, bytesOut: 5, bytesIn: 24 }, [odd]: { requests: 0, refused: 1, bytesOut: 0, bytesIn: 0 } } }),
    metrics('flaky', { state: 'failed' }),
  ]);
  const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  const sample = (name: string, labels: Record<string, string>) => families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

  it('writes every family with its type and help, one sample per plugin', () => {
    expect(families.get('airlock_plugin_calls_total')).toMatchObject({ type: 'COUNTER', help: expect.stringContaining('Calls into the plugin') });
    expect(families.get('airlock_plugin_in_flight')!.type).toBe('GAUGE');
    expect(families.get('airlock_plugin_call_duration_seconds')!.type).toBe('HISTOGRAM');
    expect(families.get('airlock_plugin_calls_total')!.metrics.map((m) => m.labels?.plugin)).toEqual(['notes', 'flaky']);
    expect(Number(sample('airlock_plugin_memory_high_water_bytes', { plugin: 'notes' })!.value)).toBe(2 * 1024 * 1024);
  });

  it('marks the state, counts errors by code, and leaves out storage for a plugin without it', () => {
    expect(Number(sample('airlock_plugin_state', { plugin: 'flaky', state: 'failed' })!.value)).toBe(1);
    expect(Number(sample('airlock_plugin_state', { plugin: 'flaky', state: 'active' })!.value)).toBe(0);
    expect(Number(sample('airlock_plugin_errors_total', { plugin: 'notes', code: 'returned:not-found' })!.value)).toBe(2);
    expect(Number(sample('airlock_plugin_storage_keys', { plugin: 'notes' })!.value)).toBe(2);
    expect(sample('airlock_plugin_storage_keys', { plugin: 'flaky' })).toBeUndefined();
    expect(families.get('airlock_plugin_events_dropped_total')!.type).toBe('COUNTER');
    expect(families.get('airlock_plugin_events_queued')!.type).toBe('GAUGE');
    expect(Number(sample('airlock_plugin_events_published_total', { plugin: 'notes' })!.value)).toBe(3);
    expect(Number(sample('airlock_plugin_events_delivered_total', { plugin: 'notes' })!.value)).toBe(5);
    expect(Number(sample('airlock_plugin_events_dropped_total', { plugin: 'flaky' })!.value)).toBe(1);
    expect(Number(sample('airlock_plugin_events_queued', { plugin: 'flaky' })!.value)).toBe(2);
  });

  it('writes the latency histogram with cumulative buckets in seconds, its sum and count', () => {
    // This parser keeps only the buckets of a histogram (and drops its other labels): the first is notes'.
    const buckets = families.get('airlock_plugin_call_duration_seconds')!.metrics[0]!.buckets!;
    expect(Number(buckets['0.001'])).toBe(3);
    expect(Number(buckets['0.01'])).toBe(4);
    expect(Number(buckets['0.0005'])).toBe(0);
    expect(Number(buckets['+Inf'])).toBe(4);
    expect(Object.keys(buckets)).toHaveLength(LATENCY_BUCKETS_MS.length + 1);
    expect(text).toContain('airlock_plugin_call_duration_seconds_count{plugin="notes"} 4\n');
    expect(text).toContain('airlock_plugin_call_duration_seconds_sum{plugin="notes"} 0.0125\n');
  });

  it('escapes label values, so an origin a plugin chose cannot break the format', () => {
    expect(Number(sample('airlock_plugin_http_refused_total', { plugin: 'notes', origin: odd })!.value)).toBe(1);
    expect(Number(sample('airlock_plugin_http_received_bytes_total', { plugin: 'notes', origin: 'https://api.example.com' })!.value)).toBe(24);
    expect(text.split('\n').filter((line) => line.includes('a\\"b')).length).toBe(4);
  });
});
