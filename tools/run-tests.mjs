#!/usr/bin/env node
/**
 * `pnpm test`: every package's tests through turbo, which keeps going when a
 * suite fails (`--continue`), then one closing summary: the totals, and each
 * failed package with its failed tests. Each vitest run writes its results as
 * JSON (see vitest.shared.ts) into the package's node_modules/.vitest/, which
 * turbo caches with the task, so a suite served from cache still counts.
 * Arguments are passed on to `turbo run test` (e.g. `--filter @airlock/host`,
 * or `--force` to run every suite whatever turbo has cached). The summary is
 * also written to node_modules/.cache/airlock/test-run.json, which `pnpm
 * bench` reports. Exits with turbo's code.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join('node_modules', '.vitest', 'results.json');
const color = !!process.stdout.isTTY && !process.env.NO_COLOR && !process.env.CI;
const paint = (code) => (text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const red = paint(31);
const green = paint(32);
const bold = paint(1);

/** Workspace packages: name → directory. */
function workspacePackages() {
  const out = new Map();
  for (const group of ['packages', 'plugins', 'tools']) {
    for (const entry of readdirSync(join(root, group))) {
      const file = join(root, group, entry, 'package.json');
      if (existsSync(file)) out.set(JSON.parse(readFileSync(file, 'utf8')).name, join(root, group, entry));
    }
  }
  return out;
}

/** The newest turbo run summary written since `since` (ms). */
function turboSummary(since) {
  const dir = join(root, '.turbo', 'runs');
  if (!existsSync(dir)) return undefined;
  const newest = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= since)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  return newest ? JSON.parse(readFileSync(newest, 'utf8')) : undefined;
}

// pnpm checks packages' engines against `nodeVersion`; it must be the Node the scripts run on.
const runtime = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies?.node;
const checked = /^nodeVersion:\s*(\S+)/m.exec(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8'))?.[1];
if (runtime !== checked) {
  process.stderr.write(`error: package.json installs node ${runtime}, but pnpm-workspace.yaml checks engines against nodeVersion ${checked}; make them the same\n`);
  process.exit(1);
}

const packages = workspacePackages();
// Results of an earlier run must not stand in for this one: turbo restores a cached task's file.
for (const dir of packages.values()) rmSync(join(dir, RESULTS), { force: true });

const started = Date.now();
const code = await new Promise((resolve) => {
  const child = spawn('turbo', ['run', 'test', '--continue', '--summarize', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
  child.on('exit', (exit, signal) => resolve(exit ?? (signal ? 1 : 0)));
  child.on('error', (err) => {
    process.stderr.write(`error: cannot start turbo (${err.message}); run the tests with \`pnpm test\`, which puts it on the PATH\n`);
    resolve(1);
  });
});

const summary = turboSummary(started);
const tasks = (summary?.tasks ?? []).filter((t) => t.task === 'test');
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const task of tasks) {
  const name = task.package;
  const file = join(packages.get(name) ?? '', RESULTS);
  const exitCode = task.execution?.exitCode ?? 0;
  const results = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
  passed += results?.numPassedTests ?? 0;
  failed += results?.numFailedTests ?? 0;
  skipped += (results?.numPendingTests ?? 0) + (results?.numTodoTests ?? 0);
  if (exitCode === 0) continue;
  const tests = (results?.testResults ?? []).flatMap((file) =>
    (file.assertionResults ?? []).filter((a) => a.status === 'failed').map((a) => `${file.name.slice(packages.get(name).length + 1)} > ${a.fullName}`),
  );
  const suites = (results?.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'));
  failures.push({
    name,
    lines: [
      ...tests,
      ...suites.map((f) => `${f.name.slice(packages.get(name).length + 1)} (the file failed before its tests ran: ${String(f.message ?? '').split('\n')[0]})`),
      ...(tests.length === 0 && suites.length === 0 ? [`exit code ${exitCode}; no failed test was reported (see its output above)`] : []),
    ],
  });
}

const durationMs = Date.now() - started;
const cachedPackages = tasks.filter((t) => t.cache?.status === 'HIT').length;
mkdirSync(join(root, 'node_modules', '.cache', 'airlock'), { recursive: true });
writeFileSync(
  join(root, 'node_modules', '.cache', 'airlock', 'test-run.json'),
  `${JSON.stringify({ date: new Date(started).toISOString(), durationMs, passed, failed, skipped, packages: tasks.length, cachedPackages, failedPackages: failures.map((f) => f.name) }, null, 2)}\n`,
);

const totalSeconds = Math.round(durationMs / 1000);
const minutes = Math.floor(totalSeconds / 60);
const seconds = totalSeconds % 60;
process.stdout.write(
  `\n${bold('Test summary')}: ${green(`${passed} passed`)}, ${failed ? red(`${failed} failed`) : '0 failed'}${skipped ? `, ${skipped} skipped` : ''} ` +
    `in ${tasks.length} packages${cachedPackages ? ` (${cachedPackages} from turbo's cache)` : ''}, ${minutes} min ${seconds} s\n`,
);
if (!summary) process.stdout.write(red('turbo wrote no run summary; see its output above\n'));
for (const f of failures) {
  process.stdout.write(`${red('FAILED')} ${bold(f.name)}\n${f.lines.map((l) => `  ${l}\n`).join('')}`);
}
process.exitCode = code !== 0 ? code : failures.length ? 1 : 0;
