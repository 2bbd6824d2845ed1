// Compiles the fixtures the way a consumer would: from a separate project that
// has @airlock/wit in node_modules, so the exports map and the ambient module
// declarations are exercised for real.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkgDir = join(import.meta.dirname, '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const baseOptions = {
  target: 'ES2022',
  lib: ['ES2023'],
  strict: true,
  noEmit: true,
  verbatimModuleSyntax: true,
  skipLibCheck: false,
  types: [] as string[],
};

let project: string;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'airlock-wit-types-'));
  await mkdir(join(project, 'node_modules/@airlock'), { recursive: true });
  await symlink(pkgDir, join(project, 'node_modules/@airlock/wit'), 'dir');
  await cp(join(pkgDir, 'test/fixtures'), project, { recursive: true });
  await writeFile(join(project, 'package.json'), JSON.stringify({ type: 'module' }));
});

afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

async function compile(name: string, files: string[], options: Record<string, unknown>) {
  const config = join(project, `tsconfig.${name}.json`);
  await writeFile(config, JSON.stringify({ compilerOptions: { ...baseOptions, ...options }, files }));
  try {
    await run(process.execPath, [tsc, '-p', config], { cwd: project });
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout || error);
  }
}

describe.each([
  { resolution: 'NodeNext', module: 'NodeNext' },
  { resolution: 'Bundler', module: 'ESNext' },
])('with moduleResolution $resolution', ({ resolution, module }) => {
  const options = { module, moduleResolution: resolution };

  it('guest plugins type-check against `/// <reference types="@airlock/wit/guest" />`', async () => {
    const files = ['guest/tool-plugin.ts', 'guest/provider-plugin.ts'];
    expect(await compile(`guest-${resolution}`, files, options)).toBe('');
  });

  it('one world can be referenced on its own through @airlock/wit/guest/<world>', async () => {
    expect(await compile(`world-${resolution}`, ['guest/world-only.ts'], options)).toBe('');
  });

  it('the guest types also load through the `types` compiler option', async () => {
    const opts = { ...options, types: ['@airlock/wit/guest'] };
    expect(await compile(`types-${resolution}`, ['guest/types-option.ts'], opts)).toBe('');
  });

  it('hosts type-check against @airlock/wit/host/*', async () => {
    // Host resources implement `Disposable`: hosts need that lib (or @types/node).
    const opts = { ...options, lib: ['ES2023', 'ESNext.Disposable'] };
    expect(await compile(`host-${resolution}`, ['host/host.ts'], opts)).toBe('');
  });
});

it('reports errors, so the checks above can fail', async () => {
  // Without the guest types the ambient modules do not exist.
  const out = await compile('negative', ['guest/types-option.ts'], { module: 'NodeNext', moduleResolution: 'NodeNext' });
  expect(out).toContain("Cannot find module 'airlock:plugin/auth@0.2.0'");
});
