import { describe, expect, it } from 'vitest';
import { AirlockError } from '../src/errors.js';
import { LatencyHistogram, PluginMonitor, type PluginStateChange } from '../src/monitor.js';

const hooks = (changes: PluginStateChange[] = []) => ({ scrub: (t: string) => t, state: (c: PluginStateChange) => void changes.push(c), failure: () => {}, restarted: () => {} });

/** Record a call that took `ms`, ended by `thrown`. */
function call(monitor: PluginMonitor, ms: number, thrown?: unknown): void {
  monitor.queue();
  monitor.start();
  // end() measures from t0: pass a start `ms` in the past.
  monitor.end(performance.now() - ms, 'tool.callTool', undefined, thrown);
}

describe('PluginMonitor', () => {
  it('gives latency quantiles within 5% of the true ones, and exact Prometheus buckets', () => {
    // The histogram alone, fed known durations: no clock involved.
    const histogram = new LatencyHistogram();
    // 1..1000 µs, evenly: p50 = 0.5 ms, p90 = 0.9 ms, p99 = 0.99 ms.
    for (let us = 1; us <= 1000; us++) histogram.record(us / 1000);
    const latency = histogram.summary();
    expect(latency.count).toBe(1000);
    for (const [got, want] of [[latency.p50Ms, 0.5], [latency.p90Ms, 0.9], [latency.p99Ms, 0.99]] as const) expect(Math.abs(got - want) / want).toBeLessThan(0.05);
    expect(latency.maxMs).toBe(1);
    // Cumulative: 0.05 ms holds 1..50 µs, 0.1 ms 1..100 µs, +Inf all.
    expect(latency.buckets[0]).toBe(50);
    expect(latency.buckets[1]).toBe(100);
    expect(latency.buckets.at(-1)).toBe(1000);
  });

  it('times every call it is told of', () => {
    const monitor = new PluginMonitor('p', undefined, hooks());
    for (let i = 0; i < 3; i++) call(monitor, 0.01);
    expect(monitor.metrics()).toMatchObject({ calls: 3, inFlight: 0, queued: 0, latency: { count: 3 } });
  });

  it('with failures: false, counts every failure and never holds the plugin', () => {
    const changes: PluginStateChange[] = [];
    const monitor = new PluginMonitor('p', false, hooks(changes));
    monitor.setState('active');
    for (let i = 0; i < 500; i++) call(monitor, 0.01, new AirlockError('PLUGIN_TRAPPED', 'trapped'));
    expect(monitor.state).toBe('active');
    expect(() => monitor.admit()).not.toThrow();
    expect(monitor.metrics()).toMatchObject({ calls: 500, errors: { PLUGIN_TRAPPED: 500 }, restarts: 499 });
    expect(changes.map((c) => c.to)).toEqual(['active']);
  });

  it('does not count an aborted or refused call as a failure of the plugin', () => {
    const monitor = new PluginMonitor('p', { maxFailures: 1 }, hooks());
    monitor.setState('active');
    call(monitor, 0.01, new DOMException('stop', 'AbortError'));
    call(monitor, 0.01, new AirlockError('PLUGIN_BUSY', 'busy'));
    expect(monitor.state).toBe('active');
    expect(monitor.metrics().errors).toEqual({ ABORTED: 1, PLUGIN_BUSY: 1 });
  });
});
