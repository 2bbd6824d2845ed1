// Runs the real generator as a child process. Drift is always provoked in a
// temporary copy of the generated files, never in the package itself.
import { execFile } from 'node:child_process';
import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const pkgDir = join(import.meta.dirname, '..');
const COMMAND = 'pnpm --filter @airlock/wit generate';

function generate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--import', join(pkgDir, 'scripts/preopens.mjs'), join(pkgDir, 'scripts/generate.mjs'), ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { cwd: pkgDir }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

it('--check passes on the committed state', async () => {
  const result = await generate('--check');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/generated files are up to date/);
});

describe('in a temporary copy', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-wit-generate-'));
    for (const sub of ['wit', 'types', 'src/generated']) await cp(join(pkgDir, sub), join(dir, sub), { recursive: true });
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const check = () => generate('--check', '--dir', dir);

  it('passes while the copy is untouched', async () => {
    expect((await check()).code).toBe(0);
  });

  // One generator run for all of them (each run loads jco: seconds): every edited file is named, and nothing else.
  it('fails when generated or copied files are modified, naming each and the fix', async () => {
    const files = ['types/guest/interfaces/airlock-plugin-tool.d.ts', 'types/host/tool-plugin.d.ts', 'types/guest/index.d.ts', 'src/generated/contract.ts', 'wit/tool.wit'];
    for (const file of files) await appendFile(join(dir, file), '\n// edited by hand\n');
    const result = await check();
    expect(result.code).toBe(1);
    for (const file of files) expect(result.stderr).toContain(`modified  ${file}`);
    expect(result.stderr).toContain(COMMAND);
    expect(result.stderr.match(/modified|missing|stale/g)).toHaveLength(files.length);
  });

  it('fails on a missing generated file and on a stale extra one', async () => {
    await rm(join(dir, 'types/host/provider-plugin.d.ts'));
    await writeFile(join(dir, 'types/guest/old-plugin.d.ts'), '');
    const result = await check();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('missing   types/host/provider-plugin.d.ts');
    expect(result.stderr).toContain('stale     types/guest/old-plugin.d.ts');
  });

  it('recreates a missing wit/ copy instead of failing', async () => {
    await rm(join(dir, 'wit'), { recursive: true });
    const result = await check();
    expect(result.code).toBe(0);
    expect(await readFile(join(dir, 'wit/worlds.wit'), 'utf8')).toBe(await readFile(join(pkgDir, '../../wit/worlds.wit'), 'utf8'));
  });

  it('fails when the WIT source changes, and generate brings the copy back in line', async () => {
    const wit = join(dir, 'wit-source');
    await cp(join(pkgDir, '../../wit'), wit, { recursive: true });
    const tool = join(wit, 'tool.wit');
    await writeFile(tool, (await readFile(tool, 'utf8')).replace(/\n}\s*$/, '\n  describe-tool: func(name: string) -> string;\n}\n'));

    const drift = await generate('--check', '--dir', dir, '--wit', wit);
    expect(drift.code).toBe(1);
    for (const file of ['wit/tool.wit', 'types/guest/interfaces/airlock-plugin-tool.d.ts', 'types/host/interfaces/airlock-plugin-tool.d.ts']) {
      expect(drift.stderr).toContain(`modified  ${file}`);
    }
    expect(drift.stderr).not.toContain('contract.ts');

    await writeFile(join(dir, 'types/guest/old-plugin.d.ts'), '');
    expect((await generate('--dir', dir, '--wit', wit)).code).toBe(0);
    expect(existsSync(join(dir, 'types/guest/old-plugin.d.ts'))).toBe(false);
    expect(await readFile(join(dir, 'types/guest/interfaces/airlock-plugin-tool.d.ts'), 'utf8')).toContain(
      'export function describeTool(name: string): string;',
    );
    expect((await generate('--check', '--dir', dir, '--wit', wit)).code).toBe(0);
  });

  it('derives the contract constants from the WIT', async () => {
    const wit = join(dir, 'wit-source');
    await cp(join(pkgDir, '../../wit'), wit, { recursive: true });
    for (const f of ['auth.wit', 'host.wit', 'lifecycle.wit', 'provider.wit', 'tool.wit', 'worlds.wit']) {
      const path = join(wit, f);
      await writeFile(path, (await readFile(path, 'utf8')).replace(/@0\.1\.\d+;/, '@0.2.0;'));
    }
    expect((await generate('--dir', dir, '--wit', wit)).code).toBe(0);
    const contract = await readFile(join(dir, 'src/generated/contract.ts'), 'utf8');
    expect(contract).toContain("export const CONTRACT_VERSION = '0.2.0';");
    expect(await readFile(join(dir, 'types/guest/tool-plugin.d.ts'), 'utf8')).toContain("declare module 'airlock:plugin/tool-plugin@0.2.0'");
  });
});

it('every generated file starts with the do-not-edit header', async () => {
  const { readdir } = await import('node:fs/promises');
  const files = (await readdir(join(pkgDir, 'types'), { recursive: true })).filter((f) => f.endsWith('.d.ts'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of [...files.map((f) => join('types', f)), 'src/generated/contract.ts']) {
    const first = (await readFile(join(pkgDir, file), 'utf8')).split('\n')[0];
    expect(first, file).toBe(`// Generated by \`${COMMAND}\` from the repository's wit/*.wit. Do not edit.`);
  }
});
