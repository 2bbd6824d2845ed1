/**
 * The dev loop as an author lives it: `airlock-plugin dev` on a project, a
 * line saved, the plugin reloaded. bench.mjs runs it on the tool project it
 * scaffolds; alone: `node src/dev-loop.mjs <project dir>` (a project made by
 * `npm create airlock-plugin` with its packages installed) prints the JSON.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { userEnv } from '@airlock/authoring-tests';
import { median, round, sortNum } from './stats.mjs';

/** Saves timed in the dev loop. */
const DEV_SAVES = 7;

/**
 * `airlock-plugin dev --no-repl` in the project, as an author runs it: the
 * time to the first load (its first development build componentizes the
 * engine, once per kind), then DEV_SAVES one-line edits of src/index.ts, each
 * timed from the write to the line saying the plugin was reloaded (the file
 * watcher's wait for more changes, 100 ms, included).
 */
export async function timeDevLoop(dir, home) {
  const file = join(dir, 'src', 'index.ts');
  const original = await readFile(file, 'utf8');
  const line = /description: '[^']*'/;
  if (!line.test(original)) throw new Error('the tool template no longer has a description line to edit');
  const bin = join(dir, 'node_modules', '.bin', 'airlock-plugin');
  const t0 = performance.now();
  const child = spawn(bin, ['dev', '--no-repl', '--home', home], { cwd: dir, env: userEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let seen = () => {};
  child.stderr.on('data', (d) => {
    stderr += d;
    seen();
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const waitFor = async (pattern, from) => {
    for (;;) {
      const m = pattern.exec(stderr.slice(from));
      if (m) return m;
      if (child.exitCode !== null) throw new Error(`airlock-plugin dev exited (${child.exitCode}):\n${stderr}`);
      await new Promise((r) => (seen = r));
    }
  };
  const ms = (text) => (text.endsWith(' ms') ? Number(text.slice(0, -3)) : Number(text.slice(0, -2)) * 1000);
  try {
    await waitFor(/loaded \S+ into a dev host/, 0);
    const firstLoadMs = performance.now() - t0;
    const saves = [];
    for (let i = 0; i < DEV_SAVES; i++) {
      const mark = stderr.length;
      const t = performance.now();
      await writeFile(file, original.replace(line, `description: 'Turn a title into a URL slug (edit ${i})'`));
      const m = await waitFor(/rebuilt in ([\d.]+ m?s) \(([^)]*)\), reloaded in ([\d.]+ m?s)/, mark);
      saves.push({ ms: round(performance.now() - t), buildMs: ms(m[1]), reloadMs: ms(m[3]), how: m[2] });
    }
    const sorted = (key) => sortNum(saves.map((x) => x[key]));
    return { firstLoadMs: round(firstLoadMs), saves, medianMs: median(sorted('ms')), buildMs: median(sorted('buildMs')), reloadMs: median(sorted('reloadMs')), how: saves[0].how };
  } finally {
    child.kill('SIGTERM');
    await exited;
    await writeFile(file, original);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (!process.argv[2]) {
    process.stderr.write('usage: node src/dev-loop.mjs <project dir>\n');
    process.exit(2);
  }
  const home = await mkdtemp(join(os.tmpdir(), 'airlock-dev-loop-'));
  try {
    process.stdout.write(JSON.stringify(await timeDevLoop(resolve(process.argv[2]), home)) + '\n');
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
