/**
 * The pure half of `pnpm bench --baseline <ref>`, the A/B against another
 * commit: the command line, which measurements are compared and how each number
 * is read from a child's report, the comparison (median, spread, ratio), the
 * table, and resolving the ref (git is passed in). ab.mjs does the rest: the
 * baseline's worktree, its build, and the interleaved rounds.
 */
import { join } from 'node:path';
import { median, round } from './stats.mjs';

export const DEFAULT_ROUNDS = 7;
export const MAX_ROUNDS = 50;

export const USAGE = `Usage: node src/bench.mjs [options]     (or, from the repository root: pnpm bench [options])

With no options, runs the full bench: prints a table, writes results/latest.json.

A/B against another commit, on this machine, in the same minutes:
  --baseline <ref>    check <ref> (a branch, tag, sha or e.g. main~5) out into a git worktree
                      under node_modules/.cache/airlock/baseline/<sha>, install and build it
                      there (kept for the next A/B against the same commit), then run the
                      comparable measurements from both trees, interleaved, each in a fresh
                      process with its own tree's scripts and packages; prints a table and
                      writes results/compare.json
  --rounds <n>        rounds of the A/B (default ${DEFAULT_ROUNDS}, at most ${MAX_ROUNDS}); each round runs every
                      measurement once per tree, back to back (the baseline first in
                      odd rounds, the current tree in even ones)
  --json              print the A/B's JSON (as written to results/compare.json), not the table
  --baseline-clean    remove the kept baseline worktree(s): with --baseline, that commit's
                      before building it afresh; alone, all of them
  -h, --help          show this help

Example: pnpm bench --baseline main~5 --rounds 3`;

/** A command line the bench cannot run; its message says what to change. */
export class UsageError extends Error {
  constructor(message) {
    super(`${message}\n(node src/bench.mjs --help lists the options)`);
    this.name = 'UsageError';
  }
}

/**
 * The bench's arguments. `mode` is `help`, `bench` (the full bench, as without
 * arguments), `ab` (`--baseline`) or `clean` (`--baseline-clean` alone).
 */
export function parseArgs(argv) {
  const opts = { mode: 'bench', baseline: undefined, rounds: undefined, json: false, baselineClean: false };
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') continue;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const value = (what) => {
      const v = inline ?? argv[i + 1];
      if (v === undefined || v === '' || (inline === undefined && v.startsWith('-'))) throw new UsageError(`${flag} needs ${what}`);
      if (inline === undefined) i++;
      return v;
    };
    const noValue = () => {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value (got ${arg})`);
    };
    switch (flag) {
      case '-h':
      case '--help':
        noValue();
        help = true;
        break;
      case '--baseline':
        opts.baseline = value('a git ref, e.g. --baseline main~5');
        if (opts.baseline.startsWith('-')) throw new UsageError(`--baseline ${opts.baseline}: a git ref cannot start with "-"`);
        break;
      case '--rounds': {
        const v = value(`a number of rounds, e.g. --rounds ${DEFAULT_ROUNDS}`);
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > MAX_ROUNDS) throw new UsageError(`--rounds ${v}: give a whole number from 1 to ${MAX_ROUNDS}`);
        opts.rounds = n;
        break;
      }
      case '--json':
        noValue();
        opts.json = true;
        break;
      case '--baseline-clean':
        noValue();
        opts.baselineClean = true;
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (help) return { ...opts, mode: 'help' };
  if (opts.baseline !== undefined) return { ...opts, mode: 'ab', rounds: opts.rounds ?? DEFAULT_ROUNDS };
  if (opts.rounds !== undefined) throw new UsageError('--rounds applies to an A/B: add --baseline <ref>');
  if (opts.json) throw new UsageError('--json applies to an A/B: add --baseline <ref> (the full bench writes its JSON to results/latest.json)');
  if (opts.baselineClean) return { ...opts, mode: 'clean' };
  return opts;
}

// ---------------------------------------------------------------- what is compared

const MiB = 1024 * 1024;

/**
 * The measurements of an A/B, in the order a round runs them. Each is one run
 * of `script` (from the tree's tools/bench/src) in a fresh process; `metrics`
 * read its one-line JSON report. ab.mjs supplies the arguments. A metric whose
 * `read` finds nothing (an older script's report) counts as missing.
 */
export const MEASUREMENTS = [
  {
    id: 'load',
    script: 'load-once.mjs',
    what: 'load → first call, warm transpile cache',
    metrics: [{ id: 'loadWarmMs', label: 'Load → first call, warm cache', unit: 'ms', better: 'lower', read: (r) => r.totalMs }],
  },
  {
    id: 'calls',
    script: 'calls-once.mjs',
    what: 'trivial call latency (echo)',
    metrics: [
      { id: 'echoMedianUs', label: 'Trivial call (echo): median', unit: 'µs', better: 'lower', read: (r) => r.measurement?.medianUs },
      { id: 'echoP99Us', label: 'Trivial call (echo): p99', unit: 'µs', better: 'lower', read: (r) => r.measurement?.p99Us },
    ],
  },
  {
    id: 'floor',
    script: 'floor-once.mjs',
    what: 'the floor under a call (host.ping)',
    metrics: [
      { id: 'floorMedianUs', label: 'Floor (host.ping): median', unit: 'µs', better: 'lower', read: (r) => r.measurement?.floor?.medianUs },
      { id: 'echoAboveFloorUs', label: 'Trivial call above the floor: median', unit: 'µs', better: 'lower', read: (r) => r.measurement?.aboveFloorUs },
    ],
  },
  {
    id: 'rss',
    script: 'rss-once.mjs',
    what: 'memory per loaded plugin',
    metrics: [
      {
        id: 'rssPerFurtherPluginMB',
        label: 'RSS per further plugin',
        unit: 'MB',
        better: 'lower',
        read: (r) => (r.plugins > 1 ? (r.rssAfterBytes - r.rssAfterFirstBytes) / (r.plugins - 1) / MiB : undefined),
      },
      { id: 'rssFirstPluginMB', label: 'RSS: first plugin', unit: 'MB', better: 'lower', read: (r) => (r.rssAfterFirstBytes - r.rssBeforeBytes) / MiB },
    ],
  },
  {
    id: 'stream',
    script: 'stream-once.mjs',
    what: 'streaming through provider-openai',
    metrics: [
      { id: 'streamPluginChunksPerSec', label: 'Streaming through provider-openai', unit: 'chunks/s', better: 'higher', read: (r) => r.plugin?.chunksPerSec },
      { id: 'streamPluginFirstChunkMs', label: 'Streaming: first chunk', unit: 'ms', better: 'lower', read: (r) => r.plugin?.medianFirstChunkMs },
      // The same server and request without a plugin: a change in the tree should not move it, so it shows the machine's drift.
      { id: 'streamDirectChunksPerSec', label: 'Streaming, Node fetch directly (control)', unit: 'chunks/s', better: 'higher', read: (r) => r.direct?.chunksPerSec },
    ],
  },
  {
    id: 'hooks',
    script: 'hooks-once.mjs',
    what: 'hook overhead',
    metrics: [
      { id: 'hookAddedPerCallUs', label: 'Added per hook call: median', unit: 'µs', better: 'lower', read: (r) => r.measurement?.addedPerHookCallUs },
      { id: 'hookedEchoMedianUs', label: 'Trivial call, trivial hook plugin: median', unit: 'µs', better: 'lower', read: (r) => r.measurement?.allow?.medianUs },
    ],
  },
];

/** A metric's value in one report, or undefined when the report lacks it. */
export function readMetric(metric, report) {
  let v;
  try {
    v = metric.read(report ?? {});
  } catch {
    return undefined;
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

// ---------------------------------------------------------------- the comparison

/** Median and spread (min–max) of one side's samples; null when there are none. */
export function spread(samples) {
  const xs = samples.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (xs.length === 0) return null;
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * current / baseline of the medians, when that means something: both positive.
 * (A difference such as "added per hook call" can be zero or negative by noise.)
 */
export function ratio(baseline, current) {
  if (!baseline || !current || !(baseline.median > 0) || !(current.median > 0)) return null;
  return current.median / baseline.median;
}

/** Fewer rounds than this on either side, and the spreads say nothing either way. */
export const MIN_ROUNDS_TO_READ = 3;
/** Paired rounds that must all agree before a change inside the spreads is read as one (a sign test: 1 in 16 by chance at 5). */
export const MIN_PAIRS_TO_READ = 5;

/**
 * Which tree runs a measurement first in a round (1-based): the baseline in odd
 * rounds, the current tree in even ones, so that going second (a warmer page
 * cache, a CPU already clocked up) favours neither tree in the pairs below.
 */
export const roundOrder = (round) => (round % 2 === 1 ? ['baseline', 'current'] : ['current', 'baseline']);

/**
 * The rounds as pairs: in round i, the two trees ran a measurement back to
 * back, so drift of the machine between rounds cancels within a pair. How many
 * pairs the current tree won and lost, by the metric's direction.
 */
export function pairs(metric, baselineSamples = [], currentSamples = []) {
  let better = 0;
  let worse = 0;
  let of = 0;
  for (let i = 0; i < Math.min(baselineSamples.length, currentSamples.length); i++) {
    const b = baselineSamples[i];
    const c = currentSamples[i];
    if (!Number.isFinite(b) || !Number.isFinite(c)) continue;
    of++;
    if (c !== b) ((c < b) === (metric.better === 'lower') ? better++ : worse++);
  }
  return { better, worse, of };
}

/**
 * What the rounds say: `better` or `worse` when the two spreads do not overlap
 * (every round of one side beat every round of the other); `better in every
 * round` or `worse in every round` when they overlap but each of at least
 * MIN_PAIRS_TO_READ paired rounds went the same way; else `within noise`.
 * `too few rounds` under MIN_ROUNDS_TO_READ, `n/a` without both sides.
 */
export function reading(metric, baseline, current, paired = { better: 0, worse: 0, of: 0 }) {
  if (!baseline || !current) return 'n/a';
  if (baseline.n < MIN_ROUNDS_TO_READ || current.n < MIN_ROUNDS_TO_READ) return 'too few rounds';
  const apart = current.max < baseline.min || current.min > baseline.max;
  if (apart) return (current.median < baseline.median) === (metric.better === 'lower') ? 'better' : 'worse';
  if (paired.of >= MIN_PAIRS_TO_READ && paired.better === paired.of) return 'better in every round';
  if (paired.of >= MIN_PAIRS_TO_READ && paired.worse === paired.of) return 'worse in every round';
  return 'within noise';
}

/**
 * One row per metric. `samples[side][metric.id]` are the per-round values;
 * `status[side][measurement.id]`, when set, says why a side has none
 * (`missing`: the tree has no such script; otherwise the failure).
 */
export function compare(measurements, samples, status = { baseline: {}, current: {} }) {
  const rows = [];
  for (const m of measurements) {
    for (const metric of m.metrics) {
      const b = spread(samples.baseline?.[metric.id] ?? []);
      const c = spread(samples.current?.[metric.id] ?? []);
      const r = ratio(b, c);
      const paired = pairs(metric, samples.baseline?.[metric.id], samples.current?.[metric.id]);
      rows.push({
        measurement: m.id,
        metric: metric.id,
        label: metric.label,
        unit: metric.unit,
        better: metric.better,
        baseline: b && roundSpread(b),
        current: c && roundSpread(c),
        baselineStatus: status.baseline?.[m.id],
        currentStatus: status.current?.[m.id],
        ratio: r === null ? null : round(r, 3),
        pairs: paired,
        reading: reading(metric, b, c, paired),
      });
    }
  }
  return rows;
}

const roundSpread = (s) => ({ n: s.n, median: round(s.median, 3), min: round(s.min, 3), max: round(s.max, 3) });

// ---------------------------------------------------------------- the table

/** A number in a unit, as the bench's main table writes it. */
export function fmtValue(x, unit) {
  if (unit === 'ms') return x >= 100 ? `${Math.round(x).toLocaleString('en-US')} ms` : `${x.toFixed(1)} ms`;
  if (unit === 'µs') return x >= 1000 ? `${Math.round(x).toLocaleString('en-US')} µs` : `${x.toFixed(1)} µs`;
  if (unit === 'MB') return `${x.toFixed(Math.abs(x) >= 10 ? 1 : 2)} MB`;
  if (unit === 'chunks/s') return `${Math.round(x).toLocaleString('en-US')} /s`;
  return `${x}`;
}

/** The spread as `min–max`, in the same precision as the value, without the unit. */
export function fmtSpread(s, unit) {
  const bare = (x) => fmtValue(x, unit).replace(/ \S+$/, '');
  return `${bare(s.min)}–${bare(s.max)}`;
}

export const fmtRatio = (r) => (r === null ? 'n/a' : `${r.toFixed(r >= 10 ? 1 : 2)}×`);

const statusText = (status) => (status === 'missing' ? 'n/a' : status ? 'failed' : 'n/a');

/**
 * The A/B table: measurement | better | baseline (median, spread) | current
 * (median, spread) | current/baseline | rounds won | reading, and notes for
 * anything n/a.
 * `head` is { baseline: { shortSha, ref }, current: { shortSha, dirty }, rounds }.
 */
export function formatTable(rows, head) {
  const bName = `Baseline ${head.baseline.shortSha}`;
  const cName = `Current ${head.current.shortSha}${head.current.dirty ? '+' : ''}`;
  const cells = rows.map((r) => [
    r.label,
    r.better,
    r.baseline ? fmtValue(r.baseline.median, r.unit) : statusText(r.baselineStatus),
    r.baseline ? fmtSpread(r.baseline, r.unit) : '',
    r.current ? fmtValue(r.current.median, r.unit) : statusText(r.currentStatus),
    r.current ? fmtSpread(r.current, r.unit) : '',
    fmtRatio(r.ratio),
    r.pairs?.of ? `${r.pairs.better}/${r.pairs.of}` : '',
    r.reading,
  ]);
  const header = ['Measurement', 'Better', bName, 'spread', cName, 'spread', 'Current/baseline', 'Won', 'Reading'];
  const right = [false, false, true, true, true, true, true, true, false];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `  ${c.map((x, i) => (right[i] ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ')}`.trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];

  const notes = [];
  const seen = new Set();
  for (const r of rows) {
    for (const [side, status, name] of [
      ['baseline', r.baselineStatus, bName],
      ['current', r.currentStatus, cName],
    ]) {
      const key = `${side}:${r.measurement}`;
      if (!status || seen.has(key)) continue;
      seen.add(key);
      const m = MEASUREMENTS.find((x) => x.id === r.measurement);
      notes.push(status === 'missing' ? `${m?.script ?? r.measurement}: not in the ${side} tree (${name}), so not compared` : `${m?.script ?? r.measurement} failed in the ${side} tree: ${firstLine(status)}`);
    }
  }
  out.push(
    '',
    `  Medians over ${head.rounds} round${head.rounds === 1 ? '' : 's'}; spread is min–max over the rounds. Each round runs every measurement once per tree,`,
    '  back to back (the baseline first in odd rounds), each in a fresh process. Current/baseline below 1× is better where lower',
    '  is better, above 1× where higher is. Won: the rounds in which the current tree beat the baseline. Reading: better or worse when',
    `  the spreads do not overlap (from ${MIN_ROUNDS_TO_READ} rounds on), better or worse in every round when all of at least ${MIN_PAIRS_TO_READ} rounds agree,`,
    '  else within noise.',
  );
  if (head.current.dirty) out.push(`  ${cName}: ${head.current.shortSha} with uncommitted changes.`);
  for (const n of notes) out.push(`  ${n}`);
  return out.join('\n');
}

const firstLine = (s) => String(s).split('\n').find((l) => l.trim()) ?? String(s);

// ---------------------------------------------------------------- the ref

/** Why an A/B cannot start: what, where, and how to fix it. */
export class BaselineError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BaselineError';
  }
}

/**
 * Resolve `ref` in the checkout holding `cwd`. `git(args, cwd)` runs git and
 * resolves with { code, stdout, stderr } (code null and `error` set when git
 * could not start). Resolves with the checkout's root, the commit, and what the
 * current tree is (HEAD, and whether tracked files have uncommitted changes).
 */
export async function resolveRef(ref, { cwd, git }) {
  const top = await git(['rev-parse', '--show-toplevel'], cwd);
  if (top.error) {
    throw new BaselineError(
      top.error.code === 'ENOENT' ? 'git is not on the PATH: --baseline needs git to check the baseline commit out; install git and run again' : `cannot run git (${top.error.message})`,
    );
  }
  if (top.code !== 0) {
    throw new BaselineError(
      `${cwd} is not in a git checkout (git: ${firstLine(top.stderr || 'rev-parse --show-toplevel failed')}); --baseline checks another commit out beside this one, so run it in a clone of the repository (git clone), not in a copy of its files`,
    );
  }
  const root = top.stdout.trim();
  const resolved = await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], root);
  const sha = resolved.stdout?.trim();
  if (resolved.code !== 0 || !/^[0-9a-f]{40,64}$/.test(sha ?? '')) {
    const shallow = (await git(['rev-parse', '--is-shallow-repository'], root)).stdout?.trim() === 'true';
    throw new BaselineError(
      [
        `--baseline ${ref}: no such commit in ${root}.`,
        'Give a branch, a tag, a commit sha or an expression such as main~5 (git log --oneline lists the commits);',
        `a branch that lives only on a remote is origin/<branch>, or fetch it first (git fetch origin ${ref}).`,
        shallow ? 'This clone is shallow, so older commits are not here: git fetch --unshallow.' : '',
      ]
        .filter(Boolean)
        .join(' '),
    );
  }
  const head = (await git(['rev-parse', 'HEAD'], root)).stdout?.trim() ?? '';
  const status = await git(['status', '--porcelain', '--untracked-files=no'], root);
  return { root, ref, sha, head, dirty: status.code === 0 && status.stdout.trim() !== '' };
}

/** Where the baseline worktree for `sha` is kept, and the record of its finished build beside it. */
export function baselinePaths(root, sha) {
  const dir = join(root, 'node_modules', '.cache', 'airlock', 'baseline', sha);
  return { parent: join(root, 'node_modules', '.cache', 'airlock', 'baseline'), dir, stamp: `${dir}.json` };
}
