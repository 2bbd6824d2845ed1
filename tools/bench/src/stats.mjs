/** Statistics shared by the bench and its child processes. */
// ---------------------------------------------------------------- statistics

export const sortNum = (xs) => [...xs].sort((a, b) => a - b);
/** Nearest-rank percentile of an ascending array. */
export const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
export const median = (xs) => {
  const s = sortNum(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const round = (x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;


/**
 * Time `calls` sequential awaits of `once()` after `warmup` untimed ones. The
 * per-call samples (µs) are kept in the result only for runs of at most
 * 10,000 calls, so that a 100,000-call run does not fill the results file.
 */
export async function measureLatency(once, warmup, calls) {
  for (let i = 0; i < warmup; i++) await once();
  const samples = new Float64Array(calls);
  const start = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await once();
    samples[i] = (performance.now() - t) * 1000;
  }
  const wallMs = performance.now() - start;
  const sorted = sortNum(samples);
  return {
    warmupCalls: warmup,
    calls,
    wallMs: round(wallMs, 3),
    callsPerSec: round(calls / (wallMs / 1000), 1),
    meanUs: round(sorted.reduce((a, b) => a + b, 0) / calls, 3),
    minUs: round(sorted[0], 3),
    medianUs: round(median(sorted), 3),
    p90Us: round(pct(sorted, 90), 3),
    p99Us: round(pct(sorted, 99), 3),
    p999Us: round(pct(sorted, 99.9), 3),
    maxUs: round(sorted[sorted.length - 1], 3),
    ...(calls <= 10_000 ? { samplesUs: Array.from(samples, (x) => round(x, 3)) } : {}),
  };
}

/** Time `calls` sequential tool calls after `warmup` untimed ones (see measureLatency). */
export async function measureCalls(host, tool, args, warmup, calls) {
  const expected = JSON.stringify(await host.callTool(tool, args));
  return { tool, args, result: JSON.parse(expected), ...(await measureLatency(() => host.callTool(tool, args), warmup, calls)) };
}
