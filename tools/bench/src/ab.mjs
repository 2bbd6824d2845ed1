/**
 * `pnpm bench --baseline <ref>`: the comparable measurements of this tree and
 * of another commit, on this machine, in the same minutes.
 *
 * The baseline commit is checked out into a git worktree under
 * node_modules/.cache/airlock/baseline/<sha>, installed and built there, and
 * kept (with a record of its finished build beside it) for the next A/B
 * against the same commit. Each tree builds the fixture plugins with its own
 * plugin-kit. Then every round runs each measurement once per tree, one
 * right after the other (the baseline first in odd rounds, the current tree in
 * even ones), each in a fresh process running that tree's own *-once.mjs
 * script, packages and Node. Prints a table (or, with --json, the JSON) and
 * writes results/compare.json. compare.mjs holds the parts that do no I/O.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BaselineError, MEASUREMENTS, baselinePaths, compare, formatTable, readMetric, resolveRef, roundOrder } from './compare.mjs';

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const compareFile = join(benchDir, 'results', 'compare.json');

// Moderate: a round takes about 40 s on a 2-core machine, so 7 rounds and the baseline's build take 5–10 minutes.
const WARMUP_CALLS = 2_000;
const ECHO_CALLS = 20_000;
const FLOOR_CALLS = 20_000;
const RSS_PLUGINS = 4;
const STREAM_CHUNKS = 2_500;
const STREAM_RUNS = 3;
const HOOK_CALLS = 3_000;

const fmtDuration = (s) => (s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`);
const progress = (msg) => process.stderr.write(`bench: ${msg}\n`);

// ---------------------------------------------------------------- processes

/** Run a command; resolve with its exit code and output (code null and `error` when it could not start). */
function exec(cmd, args, { cwd, env = process.env, input } = {}) {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { cwd, env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (error) => resolvePromise({ code: null, error, stdout, stderr }));
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 1 : 0), stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
  });
}

const git = (args, cwd) => exec('git', args, { cwd });

/** The last lines of a command's output, for an error message. */
const tail = (r, lines = 25) =>
  `${r.stdout}\n${r.stderr}`
    .split('\n')
    .filter((l) => l.trim())
    .slice(-lines)
    .join('\n');

/**
 * The environment for commands in another tree: without what the pnpm script
 * running this bench set for this package, and with that tree's Node first on
 * the PATH once it is installed.
 */
function treeEnv(dir) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_package_|npm_lifecycle_|TURBO_)/.test(k) && k !== 'INIT_CWD' && k !== 'PNPM_SCRIPT_SRC_DIR'));
  const nodeBin = join(dir, 'node_modules', 'node', 'bin');
  if (existsSync(nodeBin)) env.PATH = `${nodeBin}${process.platform === 'win32' ? ';' : ':'}${env.PATH ?? ''}`;
  return env;
}

/** Run a step of the baseline's build, with a line on stderr now and then while it runs. */
async function step(label, cmd, args, cwd) {
  progress(`${label}…`);
  const t = performance.now();
  const ticker = setInterval(() => progress(`${label}: still running (${Math.round((performance.now() - t) / 1000)} s)`), 30_000);
  let r;
  try {
    r = await exec(cmd, args, { cwd, env: treeEnv(cwd) });
  } finally {
    clearInterval(ticker);
  }
  if (r.error) {
    const hint = r.error.code === 'ENOENT' ? `${cmd} is not on the PATH (install it, or run the bench through pnpm bench)` : r.error.message;
    throw new BaselineError(`${label}: cannot start \`${cmd}\`: ${hint}`);
  }
  if (r.code === 0) progress(`${label}: done in ${Math.round((performance.now() - t) / 1000)} s`);
  return r;
}

// ---------------------------------------------------------------- the baseline worktree

async function isWorktree(root, dir) {
  const list = await git(['worktree', 'list', '--porcelain'], root);
  return list.stdout.split('\n').some((l) => l === `worktree ${dir}`);
}

/** Remove a kept baseline worktree, registered or not, and its build record. */
async function removeBaseline(root, dir, stamp) {
  if (await isWorktree(root, dir)) await git(['worktree', 'remove', '--force', dir], root);
  await rm(dir, { recursive: true, force: true });
  await rm(stamp, { force: true });
  await git(['worktree', 'prune'], root);
}

/** `--baseline-clean` alone: remove every kept baseline worktree. */
export async function cleanBaselines() {
  const top = await git(['rev-parse', '--show-toplevel'], benchDir);
  if (top.code !== 0) throw new BaselineError(`${benchDir} is not in a git checkout, so it has no baseline worktrees to remove`);
  const root = top.stdout.trim();
  const { parent } = baselinePaths(root, '');
  const shas = existsSync(parent) ? (await readdir(parent)).filter((f) => /^[0-9a-f]{40,64}$/.test(f)) : [];
  for (const sha of shas) {
    const { dir, stamp } = baselinePaths(root, sha);
    await removeBaseline(root, dir, stamp);
    progress(`removed the baseline worktree ${relative(root, dir)}`);
  }
  await rm(parent, { recursive: true, force: true });
  await git(['worktree', 'prune'], root);
  progress(shas.length ? `removed ${shas.length} baseline worktree${shas.length === 1 ? '' : 's'}` : 'no baseline worktrees to remove');
}

/**
 * The baseline commit checked out, installed and built, reusing the kept
 * worktree when its build finished. A worktree made in this run that fails to
 * build is removed again; so is a kept one whose build never finished.
 */
async function prepareBaseline({ root, sha, short, clean }) {
  const { dir, stamp } = baselinePaths(root, sha);
  const label = `baseline ${short}`;
  if (clean && (existsSync(dir) || existsSync(stamp))) {
    progress(`${label}: removing the kept worktree (--baseline-clean)`);
    await removeBaseline(root, dir, stamp);
  }
  if (existsSync(stamp) && existsSync(dir)) {
    const record = JSON.parse(await readFile(stamp, 'utf8').catch(() => '{}'));
    const head = (await git(['rev-parse', 'HEAD'], dir)).stdout.trim();
    if (record.sha === sha && head === sha && existsSync(join(dir, 'node_modules'))) {
      progress(`${label}: reusing the worktree built ${record.builtAt} (${relative(root, dir)}; --baseline-clean rebuilds it)`);
      return dir;
    }
  }
  if (existsSync(dir) || existsSync(stamp)) {
    progress(`${label}: the kept worktree's build did not finish; removing it`);
    await removeBaseline(root, dir, stamp);
  }
  await mkdir(dirname(dir), { recursive: true });
  const added = await git(['worktree', 'add', '--detach', dir, sha], root);
  if (added.code !== 0) throw new BaselineError(`cannot check ${short} out into ${dir}: ${tail(added)}`);
  progress(`${label}: checked out into ${relative(root, dir)}`);
  try {
    let install = await step(`${label}: pnpm install --frozen-lockfile --offline`, 'pnpm', ['install', '--frozen-lockfile', '--offline'], dir);
    if (install.code !== 0) {
      progress(`${label}: the offline install failed (${tail(install, 1)}); installing from the registry`);
      install = await step(`${label}: pnpm install --frozen-lockfile`, 'pnpm', ['install', '--frozen-lockfile'], dir);
      if (install.code !== 0) throw new BaselineError(`${label}: pnpm install failed in ${dir}:\n${tail(install)}`);
    }
    const witPkg = join(dir, 'packages', 'wit', 'package.json');
    if (existsSync(witPkg) && JSON.parse(await readFile(witPkg, 'utf8')).scripts?.generate) {
      const gen = await step(`${label}: generating packages/wit`, 'pnpm', ['run', 'generate'], join(dir, 'packages', 'wit'));
      if (gen.code !== 0) throw new BaselineError(`${label}: pnpm run generate failed in ${join(dir, 'packages', 'wit')}:\n${tail(gen)}`);
    }
    const build = await step(`${label}: building its packages and tools (turbo; components take 10–35 s each)`, 'pnpm', ['turbo', 'run', 'build', '--filter=./packages/*', '--filter=./tools/*'], dir);
    if (build.code !== 0) throw new BaselineError(`${label}: the build failed in ${dir}:\n${tail(build)}`);
  } catch (err) {
    progress(`${label}: removing the worktree made for it`);
    await removeBaseline(root, dir, stamp).catch(() => {});
    throw err;
  }
  await writeFile(stamp, JSON.stringify({ sha, builtAt: new Date().toISOString() }, null, 2) + '\n');
  return dir;
}

// ---------------------------------------------------------------- the trees

const FIXTURE_BUILDER = `
import { buildPlugin } from '@airlock/plugin-kit/build';
for (const dir of JSON.parse(process.env.AIRLOCK_BENCH_FIXTURES)) {
  const t = performance.now();
  const b = await buildPlugin({ dir, onProgress: () => {} });
  process.stdout.write(JSON.stringify({ dir, id: b.id, cached: b.cached ?? false, ms: performance.now() - t }) + '\\n');
}
`;

/**
 * One side of the A/B: its directory, Node, scripts and fixture plugins. The
 * bench's own fixtures are built with the tree's plugin-kit (from its build
 * cache when unchanged); the sample plugins come from the tree's build, and are
 * built here only when their component is missing.
 */
async function openTree({ name, dir, sha, short }) {
  const bench = join(dir, 'tools', 'bench');
  if (!existsSync(join(bench, 'package.json'))) throw new BaselineError(`${name} ${short} has no tools/bench: the commit predates the bench, so there is nothing to compare; choose a later --baseline`);
  const ownNode = join(dir, 'node_modules', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  const node = existsSync(ownNode) ? ownNode : process.execPath;
  const version = (await exec(node, ['--version'])).stdout.trim();
  const fixtures = {
    echo: join(bench, 'fixtures', 'echo'),
    allowHook: join(bench, 'fixtures', 'allow-hook'),
    redactHook: join(dir, 'plugins', 'redact-hook'),
    provider: join(dir, 'plugins', 'provider-openai'),
  };
  const scripts = Object.fromEntries(MEASUREMENTS.map((m) => [m.id, existsSync(join(bench, 'src', m.script)) ? join(bench, 'src', m.script) : undefined]));
  const tree = { name, dir, bench, sha, short, node, nodeVersion: version, fixtures, scripts };

  const wanted = new Set([fixtures.echo]);
  if (scripts.hooks && existsSync(fixtures.allowHook)) wanted.add(fixtures.allowHook);
  for (const d of [fixtures.redactHook, fixtures.provider]) if (existsSync(join(d, 'package.json')) && !existsSync(join(d, 'dist', 'plugin.wasm'))) wanted.add(d);
  progress(`${name} ${short}: building ${[...wanted].map((d) => relative(dir, d)).join(', ')} with its own plugin-kit`);
  const t = performance.now();
  const r = await exec(node, ['--input-type=module', '-e', FIXTURE_BUILDER], { cwd: bench, env: { ...treeEnv(dir), AIRLOCK_BENCH_FIXTURES: JSON.stringify([...wanted]) } });
  if (r.code !== 0) throw new BaselineError(`${name} ${short}: building the fixture plugins with ${relative(dir, bench)}'s @airlock/plugin-kit/build failed:\n${tail(r)}`);
  const built = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  progress(`${name} ${short}: fixtures ready in ${Math.round((performance.now() - t) / 1000)} s (${built.map((b) => `${b.id}${b.cached ? ' cached' : ''}`).join(', ')})`);
  return tree;
}

/** Node's flags and the script's arguments for a measurement in a tree; `homes` are that tree's host homes. */
function argsFor(id, tree, homes) {
  const f = tree.fixtures;
  switch (id) {
    case 'load':
      return { flags: [], args: [homes.warm, f.echo] };
    case 'calls':
      return { flags: [], args: [homes.warm, f.echo, '{}', 'echo', '{"value":1}', String(WARMUP_CALLS), String(ECHO_CALLS)] };
    case 'floor':
      return { flags: [], args: [homes.warm, f.echo, String(WARMUP_CALLS), String(FLOOR_CALLS)] };
    case 'rss':
      return { flags: ['--expose-gc'], args: [homes.warm, ...homes.rssCopies] };
    case 'stream':
      return { flags: [], args: [homes.stream, f.provider, String(STREAM_CHUNKS), String(STREAM_RUNS)] };
    case 'hooks':
      return { flags: [], args: [homes.hooks, f.echo, f.allowHook, f.redactHook, String(WARMUP_CALLS), String(HOOK_CALLS)] };
  }
  throw new Error(`no arguments for measurement ${id}`);
}

/** Run one measurement in a fresh process of the tree's Node; resolve with its report. */
async function runOnce(tree, id, homes) {
  const { flags, args } = argsFor(id, tree, homes);
  const r = await exec(tree.node, [...flags, tree.scripts[id], ...args], { cwd: tree.bench, env: treeEnv(tree.dir) });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let report;
  try {
    report = JSON.parse(last);
  } catch {
    report = undefined;
  }
  if (r.code === 0 && report?.ok) return report;
  throw new Error(`\`node ${relative(tree.dir, tree.scripts[id])}\` in ${tree.dir} failed (exit ${r.code}):\n${tail(r)}`);
}

/** A report without its per-call arrays (thousands of numbers), for the JSON. */
function slim(report) {
  return JSON.parse(JSON.stringify(report, (k, v) => (k === 'samplesUs' || k === 'gapsUs' ? undefined : v)));
}

/** The tree's host homes, a warm transpile cache, and the copies of its echo plugin for the memory measurement. */
async function prepareHomes(tree, base) {
  const root = join(base, tree.name);
  const homes = { warm: join(root, 'warm'), stream: join(root, 'stream'), hooks: join(root, 'hooks'), rssCopies: [] };
  const manifest = JSON.parse(await readFile(join(tree.fixtures.echo, 'package.json'), 'utf8'));
  for (let i = 1; i <= RSS_PLUGINS; i++) {
    const dir = join(root, 'rss', `echo-${i}`);
    await mkdir(join(dir, 'dist'), { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ ...manifest, name: `bench-echo-${i}`, airlock: { ...manifest.airlock, id: `bench-echo-${i}` } }, null, 2));
    await copyFile(join(tree.fixtures.echo, 'dist', 'plugin.wasm'), join(dir, 'dist', 'plugin.wasm'));
    homes.rssCopies.push(dir);
  }
  // Untimed: a first load fills the warm home's transpile cache.
  await runOnce(tree, 'load', homes);
  return homes;
}

// ---------------------------------------------------------------- the A/B

export async function runAB({ baseline: ref, rounds, json, baselineClean }) {
  const started = performance.now();
  const resolved = await resolveRef(ref, { cwd: benchDir, git });
  const { root, sha, head, dirty } = resolved;
  const short = sha.slice(0, 7);
  const currentShort = head.slice(0, 7);
  progress(`A/B: baseline ${ref} = ${short}, current ${currentShort}${dirty ? ' with uncommitted changes' : ''}; ${rounds} round${rounds === 1 ? '' : 's'}`);
  if (sha === head) progress(`the baseline is the current commit${dirty ? ' (without the uncommitted changes)' : ': an A/A run, which shows the noise'}`);

  const baselineDir = await prepareBaseline({ root, sha, short, clean: baselineClean });
  const trees = [await openTree({ name: 'baseline', dir: baselineDir, sha, short }), await openTree({ name: 'current', dir: root, sha: head, short: currentShort })];
  if (trees[0].nodeVersion !== trees[1].nodeVersion) progress(`note: the baseline runs on Node ${trees[0].nodeVersion}, the current tree on ${trees[1].nodeVersion} (each tree's own)`);

  // A measurement runs only when both trees have its script (and, for hooks, the allow-hook fixture).
  const status = { baseline: {}, current: {} };
  for (const tree of trees) {
    for (const m of MEASUREMENTS) {
      const lacks = !tree.scripts[m.id] || (m.id === 'hooks' && !existsSync(join(tree.fixtures.allowHook, 'dist', 'plugin.wasm')));
      if (lacks) status[tree.name][m.id] = 'missing';
    }
  }
  const runnable = MEASUREMENTS.filter((m) => !status.baseline[m.id] && !status.current[m.id]);
  for (const m of MEASUREMENTS) if (!runnable.includes(m)) progress(`${m.script}: not in both trees, not compared`);

  const base = await mkdtemp(join(os.tmpdir(), 'airlock-bench-ab-'));
  const samples = { baseline: {}, current: {} };
  const raw = [];
  try {
    const homes = {};
    for (const tree of trees) {
      progress(`${tree.name} ${tree.short}: warming its transpile cache`);
      homes[tree.name] = await prepareHomes(tree, base);
    }
    for (let round = 1; round <= rounds; round++) {
      const order = roundOrder(round).map((name) => trees.find((t) => t.name === name));
      const entry = { round, first: order[0].name, baseline: {}, current: {} };
      for (const m of runnable) {
        for (const tree of order) {
          if (status[tree.name][m.id]) continue;
          progress(`round ${round}/${rounds}: ${m.what}, ${tree.name} ${tree.short}`);
          try {
            const report = await runOnce(tree, m.id, homes[tree.name]);
            entry[tree.name][m.id] = slim(report);
            for (const metric of m.metrics) (samples[tree.name][metric.id] ??= []).push(readMetric(metric, report) ?? null);
          } catch (err) {
            status[tree.name][m.id] = err.message;
            progress(`${m.script} failed in the ${tree.name} tree; not run again:\n${err.message}`);
          }
        }
      }
      raw.push(entry);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }

  const rows = compare(MEASUREMENTS, samples, status);
  const cpus = os.cpus();
  const result = {
    meta: {
      date: new Date().toISOString(),
      node: { baseline: trees[0].nodeVersion, current: trees[1].nodeVersion },
      platform: `${process.platform} ${process.arch}`,
      cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
      cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
      totalMemBytes: os.totalmem(),
      loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
      rounds,
      durationS: Math.round((performance.now() - started) / 1000),
      settings: { warmupCalls: WARMUP_CALLS, echoCalls: ECHO_CALLS, floorCalls: FLOOR_CALLS, rssPlugins: RSS_PLUGINS, streamChunks: STREAM_CHUNKS, streamRunsPerRound: STREAM_RUNS, hookCalls: HOOK_CALLS },
    },
    baseline: { ref, sha, dir: relative(root, baselineDir) },
    current: { sha: head, dirty },
    comparison: rows,
    samples,
    status,
    rounds: raw,
  };
  await mkdir(dirname(compareFile), { recursive: true });
  await writeFile(compareFile, JSON.stringify(result, null, 2) + '\n');

  if (json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    const m = result.meta;
    console.log(`Airlock bench A/B — ${m.date}`);
    console.log(`Node ${m.node.current}${m.node.baseline !== m.node.current ? ` (baseline: ${m.node.baseline})` : ''} · ${m.platform} · ${m.cpuModel} · ${m.cores} cores · ${(m.totalMemBytes / 1024 ** 3).toFixed(1)} GB RAM`);
    console.log(`Baseline ${ref} = ${short} · current ${currentShort}${dirty ? ' with uncommitted changes' : ''} · ${rounds} rounds, ${fmtDuration(m.durationS)} in all, builds included`);
    console.log('');
    console.log(formatTable(rows, { baseline: { shortSha: short, ref }, current: { shortSha: currentShort, dirty }, rounds }));
    console.log('');
    console.log(`Raw numbers: ${relative(process.cwd(), compareFile) || compareFile}`);
  }
  if (Object.values(status).some((s) => Object.values(s).some((v) => v !== 'missing'))) process.exitCode = 1;
}
