import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ROUNDS,
  MEASUREMENTS,
  UsageError,
  baselinePaths,
  compare,
  fmtRatio,
  fmtSpread,
  fmtValue,
  formatTable,
  pairs,
  parseArgs,
  roundOrder,
  ratio,
  reading,
  readMetric,
  resolveRef,
  spread,
} from '../src/compare.mjs';

describe('parseArgs', () => {
  it('runs the full bench without arguments', () => {
    expect(parseArgs([])).toMatchObject({ mode: 'bench', baseline: undefined });
  });

  it('reads --baseline, --rounds, --json and --baseline-clean, spaced or with =', () => {
    expect(parseArgs(['--baseline', 'main~5'])).toMatchObject({ mode: 'ab', baseline: 'main~5', rounds: DEFAULT_ROUNDS, json: false, baselineClean: false });
    expect(parseArgs(['--baseline=v1.2.0', '--rounds=3', '--json', '--baseline-clean'])).toMatchObject({ mode: 'ab', baseline: 'v1.2.0', rounds: 3, json: true, baselineClean: true });
    // pnpm may pass a lone `--` through.
    expect(parseArgs(['--', '--baseline', 'HEAD~3', '--rounds', '7'])).toMatchObject({ mode: 'ab', baseline: 'HEAD~3', rounds: 7 });
  });

  it('--help wins over everything else', () => {
    expect(parseArgs(['--baseline', 'main', '-h']).mode).toBe('help');
    expect(parseArgs(['--help']).mode).toBe('help');
  });

  it('--baseline-clean alone removes the kept worktrees', () => {
    expect(parseArgs(['--baseline-clean']).mode).toBe('clean');
  });

  it('refuses what it cannot run, saying what to change', () => {
    const refused = (argv: string[]) => {
      try {
        parseArgs(argv);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error(`parseArgs(${JSON.stringify(argv)}) did not throw`);
    };
    expect(refused(['--baseline'])).toMatch(/--baseline needs a git ref, e\.g\. --baseline main~5/);
    expect(refused(['--baseline', '--json'])).toMatch(/--baseline needs a git ref/);
    expect(refused(['--baseline=-x'])).toMatch(/cannot start with "-"/);
    expect(refused(['--baseline', 'main', '--rounds', '0'])).toMatch(/--rounds 0: give a whole number from 1 to 50/);
    expect(refused(['--baseline', 'main', '--rounds', '2.5'])).toMatch(/whole number/);
    expect(refused(['--baseline', 'main', '--rounds', '51'])).toMatch(/from 1 to 50/);
    expect(refused(['--rounds', '3'])).toMatch(/--rounds applies to an A\/B: add --baseline <ref>/);
    expect(refused(['--json'])).toMatch(/--json applies to an A\/B/);
    expect(refused(['--json=yes', '--baseline', 'main'])).toMatch(/--json takes no value/);
    expect(refused(['--basline', 'main'])).toMatch(/unknown argument "--basline"[\s\S]*--help lists the options/);
  });
});

describe('reading the reports', () => {
  const metric = (id: string) => MEASUREMENTS.flatMap((m) => m.metrics).find((x) => x.id === id)!;

  it("reads each metric from its script's report", () => {
    expect(readMetric(metric('loadWarmMs'), { ok: true, totalMs: 123.4 })).toBe(123.4);
    expect(readMetric(metric('echoMedianUs'), { ok: true, measurement: { medianUs: 21.5, p99Us: 90 } })).toBe(21.5);
    expect(readMetric(metric('echoP99Us'), { ok: true, measurement: { medianUs: 21.5, p99Us: 90 } })).toBe(90);
    const floor = { ok: true, measurement: { floor: { medianUs: 12.5 }, echo: { medianUs: 20 }, aboveFloorUs: 7.5 } };
    expect(readMetric(metric('floorMedianUs'), floor)).toBe(12.5);
    expect(readMetric(metric('echoAboveFloorUs'), floor)).toBe(7.5);
    const rss = { ok: true, plugins: 4, rssBeforeBytes: 100 * 2 ** 20, rssAfterFirstBytes: 160 * 2 ** 20, rssAfterBytes: 190 * 2 ** 20 };
    expect(readMetric(metric('rssPerFurtherPluginMB'), rss)).toBe(10);
    expect(readMetric(metric('rssFirstPluginMB'), rss)).toBe(60);
    expect(readMetric(metric('streamPluginChunksPerSec'), { plugin: { chunksPerSec: 15000 }, direct: { chunksPerSec: 70000 } })).toBe(15000);
    expect(readMetric(metric('streamDirectChunksPerSec'), { plugin: { chunksPerSec: 15000 }, direct: { chunksPerSec: 70000 } })).toBe(70000);
    expect(readMetric(metric('hookAddedPerCallUs'), { measurement: { addedPerHookCallUs: -1.5 } })).toBe(-1.5);
  });

  it('a report without the number (an older script) is missing, not an error', () => {
    expect(readMetric(metric('echoMedianUs'), { ok: true })).toBeUndefined();
    expect(readMetric(metric('rssPerFurtherPluginMB'), { ok: true, plugins: 1, rssAfterBytes: 1, rssAfterFirstBytes: 1 })).toBeUndefined();
    expect(readMetric(metric('loadWarmMs'), undefined)).toBeUndefined();
    expect(readMetric({ id: 'x', read: () => Number.NaN } as never, {})).toBeUndefined();
  });

  it('every measurement names a script of tools/bench/src and a direction for each metric', () => {
    for (const m of MEASUREMENTS) {
      expect(m.script).toMatch(/^[a-z]+-once\.mjs$/);
      for (const x of m.metrics) expect(['lower', 'higher']).toContain(x.better);
    }
  });
});

describe('the comparison', () => {
  const lower = { better: 'lower' };
  const higher = { better: 'higher' };

  it('spread is the median and min–max of the finite samples', () => {
    expect(spread([3, 1, 2, null as never, 10])).toEqual({ n: 4, median: 2.5, min: 1, max: 10 });
    expect(spread([])).toBeNull();
    expect(spread([null as never])).toBeNull();
  });

  it('ratio is current / baseline of the medians, when both are positive', () => {
    expect(ratio(spread([10, 10, 10]), spread([5, 5, 5]))).toBe(0.5);
    expect(ratio(spread([2]), spread([3]))).toBe(1.5);
    expect(ratio(null, spread([3]))).toBeNull();
    expect(ratio(spread([0]), spread([3]))).toBeNull();
    expect(ratio(spread([-1, -2, 4]), spread([3]))).toBeNull();
  });

  it("reads better or worse only when the spreads do not overlap, by the metric's direction", () => {
    const a = spread([10, 11, 12]);
    const b = spread([7, 8, 9]);
    expect(reading(lower, a, b)).toBe('better');
    expect(reading(lower, b, a)).toBe('worse');
    expect(reading(higher, a, b)).toBe('worse');
    expect(reading(higher, b, a)).toBe('better');
    expect(reading(lower, a, spread([9, 10, 13]))).toBe('within noise');
    expect(reading(lower, a, null)).toBe('n/a');
    expect(reading(lower, spread([10, 11]), spread([1, 2]))).toBe('too few rounds');
  });

  it('alternates which tree goes first, the baseline in the first round', () => {
    expect([1, 2, 3, 4].map(roundOrder)).toEqual([
      ['baseline', 'current'],
      ['current', 'baseline'],
      ['baseline', 'current'],
      ['current', 'baseline'],
    ]);
  });

  it('pairs each round of the current tree with the same round of the baseline', () => {
    expect(pairs(lower, [10, 20, 30, 40], [9, 21, 29, 40])).toEqual({ better: 2, worse: 1, of: 4 });
    expect(pairs(higher, [10, 20, 30, 40], [9, 21, 29, 40])).toEqual({ better: 1, worse: 2, of: 4 });
    // A round missing on either side (a failed run) is no pair; a shorter side ends the pairs.
    expect(pairs(lower, [10, null as never, 30], [9, 8, 7, 6])).toEqual({ better: 2, worse: 0, of: 2 });
    expect(pairs(lower, undefined, [1])).toEqual({ better: 0, worse: 0, of: 0 });
  });

  it('reads a change inside overlapping spreads only when at least 5 paired rounds all agree', () => {
    // Drift: both trees slow down together, so the spreads overlap, but the current tree wins every pair.
    const b = [10, 14, 18, 22, 26];
    const c = [9, 13, 17, 21, 25];
    expect(reading(lower, spread(b), spread(c), pairs(lower, b, c))).toBe('better in every round');
    expect(reading(higher, spread(b), spread(c), pairs(higher, b, c))).toBe('worse in every round');
    expect(reading(lower, spread(b.slice(0, 4)), spread(c.slice(0, 4)), pairs(lower, b.slice(0, 4), c.slice(0, 4)))).toBe('within noise');
    const mixed = [9, 15, 17, 21, 25];
    expect(reading(lower, spread(b), spread(mixed), pairs(lower, b, mixed))).toBe('within noise');
  });

  it('compares every metric, carrying why a side has no samples', () => {
    const samples = {
      baseline: { loadWarmMs: [100, 120, 110], echoMedianUs: [20, 22, 21], echoP99Us: [80, 90, 85] },
      current: { loadWarmMs: [90, 95, 92], echoMedianUs: [19, 25, 21], echoP99Us: [80, null, 82], hookAddedPerCallUs: [5, 6, 7] },
    };
    const rows = compare(MEASUREMENTS, samples, { baseline: { hooks: 'missing' }, current: { stream: 'exit 1: boom' } });
    const row = (id: string) => rows.find((r) => r.metric === id)!;
    expect(rows).toHaveLength(MEASUREMENTS.reduce((n, m) => n + m.metrics.length, 0));
    expect(row('loadWarmMs')).toMatchObject({ baseline: { n: 3, median: 110, min: 100, max: 120 }, current: { median: 92 }, ratio: 0.836, pairs: { better: 3, worse: 0, of: 3 }, reading: 'better', unit: 'ms' });
    expect(row('echoMedianUs')).toMatchObject({ ratio: 1, reading: 'within noise' });
    expect(row('echoP99Us').current).toEqual({ n: 2, median: 81, min: 80, max: 82 });
    expect(row('hookAddedPerCallUs')).toMatchObject({ baseline: null, baselineStatus: 'missing', ratio: null, reading: 'n/a' });
    expect(row('streamPluginChunksPerSec')).toMatchObject({ baseline: null, current: null, currentStatus: 'exit 1: boom', reading: 'n/a' });
  });
});

describe('the table', () => {
  it('formats values in the units of the main table', () => {
    expect(fmtValue(12.345, 'ms')).toBe('12.3 ms');
    expect(fmtValue(1234.5, 'ms')).toBe('1,235 ms');
    expect(fmtValue(21.55, 'µs')).toBe('21.6 µs');
    expect(fmtValue(1500, 'µs')).toBe('1,500 µs');
    expect(fmtValue(3.456, 'MB')).toBe('3.46 MB');
    expect(fmtValue(42.04, 'MB')).toBe('42.0 MB');
    expect(fmtValue(15234.6, 'chunks/s')).toBe('15,235 /s');
    expect(fmtSpread({ n: 3, median: 2, min: 1500, max: 2500.4 }, 'µs')).toBe('1,500–2,500');
    expect(fmtSpread({ n: 3, median: 2, min: 12.34, max: 15 }, 'ms')).toBe('12.3–15.0');
    expect(fmtRatio(0.8361)).toBe('0.84×');
    expect(fmtRatio(12.3)).toBe('12.3×');
    expect(fmtRatio(null)).toBe('n/a');
  });

  it('prints baseline and current with their spreads, the ratio, the direction and why a row is n/a', () => {
    const samples = {
      baseline: { loadWarmMs: [100, 120, 110], streamPluginChunksPerSec: [12000, 12500, 12400] },
      current: { loadWarmMs: [90, 95, 92], streamPluginChunksPerSec: [15000, 15100, 14900] },
    };
    const rows = compare(MEASUREMENTS, samples, { baseline: { hooks: 'missing' }, current: { rss: 'child `node src/rss-once.mjs` failed (exit 1):\nError: out of memory' } });
    const table = formatTable(rows, { baseline: { shortSha: '9913b0a', ref: 'HEAD~3' }, current: { shortSha: '23877bc', dirty: true }, rounds: 3 });
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^ {2}Measurement +Better +Baseline 9913b0a +spread +Current 23877bc\+ +spread +Current\/baseline +Won +Reading$/);
    expect(lines[1]).toMatch(/^ {2}-+ +-+ +-+/);
    const load = lines.find((l) => l.includes('Load → first call, warm cache'))!;
    expect(load).toMatch(/lower +110 ms +100–120 +92\.0 ms +90\.0–95\.0 +0\.84× +3\/3 +better$/);
    const stream = lines.find((l) => l.includes('Streaming through provider-openai'))!;
    expect(stream).toMatch(/higher +12,400 \/s +12,000–12,500 +15,000 \/s +14,900–15,100 +1\.21× +3\/3 +better$/);
    const hook = lines.find((l) => l.includes('Added per hook call'))!;
    expect(hook).toMatch(/lower +n\/a +n\/a +n\/a +n\/a$/);
    const rss = lines.find((l) => l.includes('RSS per further plugin'))!;
    expect(rss).toMatch(/failed/);
    expect(table).toContain('hooks-once.mjs: not in the baseline tree (Baseline 9913b0a), so not compared');
    expect(table).toContain('rss-once.mjs failed in the current tree: child `node src/rss-once.mjs` failed (exit 1):');
    expect(table).toContain('Medians over 3 rounds');
    expect(table).toContain('Current 23877bc+: 23877bc with uncommitted changes.');
    // Columns line up: every row of the table proper is as wide as the header, or narrower only by trailing blanks.
    const width = lines[0].length;
    for (const l of lines.slice(1, rows.length + 2)) expect(l.length).toBeLessThanOrEqual(width);
  });
});

describe('resolveRef', () => {
  type Call = { args: string[]; cwd: string };
  /** A git that answers from a table: the first entry whose args start with the key. */
  const fakeGit = (answers: Array<[string, { code: number | null; stdout?: string; stderr?: string; error?: NodeJS.ErrnoException }]>) => {
    const calls: Call[] = [];
    const git = async (args: string[], cwd: string) => {
      calls.push({ args, cwd });
      const hit = answers.find(([key]) => args.join(' ').startsWith(key));
      if (!hit) throw new Error(`unexpected git ${args.join(' ')}`);
      return { stdout: '', stderr: '', ...hit[1] };
    };
    return { git, calls };
  };
  const SHA = '9913b0af2ea00707e8b6c7dcf6a4563fcb060395';
  const HEAD = '23877bc0000000000000000000000000000000ab';

  it("resolves the ref to a commit, with the current tree's HEAD and whether it has changes", async () => {
    const { git, calls } = fakeGit([
      ['rev-parse --show-toplevel', { code: 0, stdout: '/repo\n' }],
      ['rev-parse --verify', { code: 0, stdout: `${SHA}\n` }],
      ['rev-parse HEAD', { code: 0, stdout: `${HEAD}\n` }],
      ['status', { code: 0, stdout: ' M tools/bench/src/bench.mjs\n' }],
    ]);
    expect(await resolveRef('HEAD~3', { cwd: '/repo/tools/bench', git })).toEqual({ root: '/repo', ref: 'HEAD~3', sha: SHA, head: HEAD, dirty: true });
    expect(calls[1]).toEqual({ args: ['rev-parse', '--verify', '--quiet', '--end-of-options', 'HEAD~3^{commit}'], cwd: '/repo' });
  });

  it('names the ref and how to fix it when it does not resolve', async () => {
    const { git } = fakeGit([
      ['rev-parse --show-toplevel', { code: 0, stdout: '/repo\n' }],
      ['rev-parse --verify', { code: 1 }],
      ['rev-parse --is-shallow-repository', { code: 0, stdout: 'false\n' }],
    ]);
    const err = await resolveRef('main~500', { cwd: '/repo', git }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('BaselineError');
    expect((err as Error).message).toMatch(/^--baseline main~500: no such commit in \/repo\. Give a branch, a tag, a commit sha or an expression such as main~5/);
    expect((err as Error).message).toContain('git fetch origin main~500');
    expect((err as Error).message).not.toContain('shallow');
  });

  it('says so when the clone is shallow', async () => {
    const { git } = fakeGit([
      ['rev-parse --show-toplevel', { code: 0, stdout: '/repo\n' }],
      ['rev-parse --verify', { code: 1 }],
      ['rev-parse --is-shallow-repository', { code: 0, stdout: 'true\n' }],
    ]);
    await expect(resolveRef('main~50', { cwd: '/repo', git })).rejects.toThrow(/This clone is shallow[^]*git fetch --unshallow/);
  });

  it('refuses outside a git checkout, saying where and what to do', async () => {
    const { git } = fakeGit([['rev-parse --show-toplevel', { code: 128, stderr: 'fatal: not a git repository (or any of the parent directories): .git\n' }]]);
    await expect(resolveRef('main', { cwd: '/tmp/airlock-copy/tools/bench', git })).rejects.toThrow(
      /^\/tmp\/airlock-copy\/tools\/bench is not in a git checkout \(git: fatal: not a git repository.*\); --baseline checks another commit out beside this one, so run it in a clone/,
    );
  });

  it('says git is missing when it cannot start', async () => {
    const error = Object.assign(new Error('spawn git ENOENT'), { code: 'ENOENT' });
    const { git } = fakeGit([['rev-parse --show-toplevel', { code: null, error }]]);
    await expect(resolveRef('main', { cwd: '/repo', git })).rejects.toThrow(/git is not on the PATH: --baseline needs git/);
  });
});

it('keeps the baseline worktree under node_modules/.cache/airlock/baseline/<sha>, its build record beside it', () => {
  expect(baselinePaths('/repo', 'abc')).toEqual({
    parent: '/repo/node_modules/.cache/airlock/baseline',
    dir: '/repo/node_modules/.cache/airlock/baseline/abc',
    stamp: '/repo/node_modules/.cache/airlock/baseline/abc.json',
  });
});
