// A plugin author outside this repository, end to end: the workspace's packages
// are published to a real npm registry on loopback with changesets, then the
// README's commands run in an empty directory outside the workspace, one
// project per kind.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '@airlock/host';
import { publishWorkspace, startRegistry, type Registry } from '@airlock/registry';
import { authorFlow, outsideWorkspace, passedTests, run, workspaceRoot, type Run } from '../src/index.js';

let base: string;
let registry: Registry;

// Publishing packs every public package (each builds in its prepack): minutes on a busy
// 2-core machine, and more as the workspace grows, so its deadline is one no busy machine reaches.
beforeAll(async () => {
  base = await outsideWorkspace('airlock-author-');
  expect(relative(workspaceRoot, base).startsWith('..')).toBe(true);
  registry = await startRegistry();
  await publishWorkspace(registry.url);
}, 900_000);
afterAll(async () => {
  await registry?.close();
  await rm(base, { recursive: true, force: true });
});

const explain = (r: Run | undefined) => (r ? `exit ${r.code}\n${r.stdout}\n${r.stderr}` : 'did not run');
const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** The `build/config.gypi` files node-gyp writes when it compiles an addon, anywhere under `dir`. */
async function nativeBuilds(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name === 'config.gypi').map((e) => join(e.parentPath, e.name));
}

describe('the registry', () => {
  it('serves every public package of the workspace under its own version, and nothing under those names from upstream', async () => {
    for (const name of ['@airlock/sdk', '@airlock/plugin-kit', '@airlock/host', '@airlock/wit', '@airlock/cli', 'create-airlock-plugin']) {
      const res = await fetch(new URL(name.replace('/', '%2f'), registry.url));
      expect(res.status, name).toBe(200);
      const doc = (await res.json()) as { 'dist-tags': { latest: string }; versions: Record<string, { dependencies?: Record<string, string> }> };
      expect(Object.keys(doc.versions), name).toEqual([doc['dist-tags'].latest]);
      // pnpm's publish rewrote the workspace and catalog ranges.
      for (const range of Object.values(doc.versions[doc['dist-tags'].latest]!.dependencies ?? {})) expect(range, name).not.toMatch(/^(workspace|catalog):/);
    }
    expect((await fetch(new URL('@airlock%2fnot-published', registry.url))).status).toBe(404);
  });

  it('serves an airlock CLI that installs with npm and runs', async () => {
    const dir = await outsideWorkspace('airlock-cli-');
    try {
      await writeFile(join(dir, '.npmrc'), `@airlock:registry=${registry.url}\n`);
      await writeFile(join(dir, 'package.json'), '{ "name": "uses-airlock", "private": true }\n');
      const install = await run('npm', ['install', '@airlock/cli'], dir);
      expect(install.code, explain(install)).toBe(0);
      const airlock = join(dir, 'node_modules', '.bin', 'airlock');
      const version = await run(airlock, ['--version'], dir);
      expect(version.code, explain(version)).toBe(0);
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      const list = await run(airlock, ['plugin', 'list', '--home', join(dir, 'no-home'), '--json'], dir);
      expect(list.code).toBe(1);
      expect(JSON.parse(list.stdout).error.code).toBe('HOME_NOT_FOUND');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 600_000);

  it('keeps the guest SDK light: plugin code pulls in only the contract package', async () => {
    const doc = (await (await fetch(new URL('@airlock%2fsdk', registry.url))).json()) as { versions: Record<string, { dependencies?: Record<string, string> }> };
    const sdk = Object.values(doc.versions);
    expect(sdk).toHaveLength(1);
    expect(Object.keys(sdk[0]!.dependencies ?? {})).toEqual(['@airlock/wit']);
    const wit = (await (await fetch(new URL('@airlock%2fwit', registry.url))).json()) as { versions: Record<string, { dependencies?: Record<string, string> }> };
    expect(Object.values(wit.versions)[0]!.dependencies ?? {}).toEqual({});
  });
});

// The three projects run at once: most of each is npm and the network, and one at a time they take minutes.
describe.concurrent.each(['tool', 'auth', 'provider'] as const)('the README\'s steps for a new %s plugin', (kind) => {
  it('is created, installs without building anything native, passes its own tests, rebuilds after a one-line edit, and installs into a host', async () => {
    const parent = await outsideWorkspace(`airlock-${kind}-`);
    try {
      const p = await authorFlow({ registry: registry.url, kind, parent, createCache: join(base, `create-cache-${kind}`) });
      expect(p.create?.code, explain(p.create)).toBe(0);
      expect(await readFile(join(p.dir, '.npmrc'), 'utf8')).toContain(`@airlock:registry=${registry.url}`);
      expect(p.install?.code, explain(p.install)).toBe(0);
      expect(`${p.install!.stdout}${p.install!.stderr}`).not.toMatch(/gyp|prebuild-install|node-pre-gyp/);
      expect(await nativeBuilds(join(p.dir, 'node_modules'))).toEqual([]);
      expect(existsSync(join(p.dir, 'node_modules/better-sqlite3'))).toBe(false);

      expect(p.test?.code, explain(p.test)).toBe(0);
      expect(passedTests(p.test!.stdout)).toBeGreaterThanOrEqual(5);
      expect(p.build?.code, explain(p.build)).toBe(0);
      expect(p.build!.stderr).toMatch(new RegExp(`built my-${kind} \\(${kind}\\)`));
      expect(p.testedComponent).toMatch(/^[0-9a-f]{64}$/);
      expect(await sha256(join(p.dir, 'dist/plugin.wasm')), 'the edit changed the component').not.toBe(p.testedComponent);

      // Published as its README says (a tarball), it installs into a host and loads.
      const packed = await run('npm', ['pack'], p.dir);
      expect(packed.code, explain(packed)).toBe(0);
      const tgz = (await readdir(p.dir)).find((f) => f.endsWith('.tgz'))!;
      const host = await createHost({ home: join(parent, 'home'), logger: () => {} });
      try {
        expect(await host.registry.install(join(p.dir, tgz), { grant: 'manifest' })).toMatchObject({ id: `my-${kind}`, version: '0.1.0' });
        const { loaded, failed } = await host.loadInstalled();
        expect(failed).toEqual([]);
        expect(loaded.map((l) => [l.id, l.kind])).toEqual([[`my-${kind}`, kind]]);
      } finally {
        await host.close();
      }
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  }, 900_000);
});
