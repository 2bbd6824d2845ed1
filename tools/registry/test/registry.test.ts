import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicPackages, publisherConfig, startRegistry, type Registry } from '../src/index.js';

let registry: Registry;
let work: string;
beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'airlock-registry-test-'));
});
afterAll(async () => {
  await registry?.close();
  await rm(work, { recursive: true, force: true });
});

const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    execFile('npm', args, { cwd, env: { ...process.env, ...env } }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }));
  });

describe('startRegistry', () => {
  it('listens on loopback and passes third-party packages through from upstream', async () => {
    expect(registry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(new URL('semver', registry.url));
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { name: string; versions: Record<string, { dist: { tarball: string } }> };
    expect(doc.name).toBe('semver');
    // Tarballs are served through the local registry too.
    expect(Object.values(doc.versions)[0]!.dist.tarball.startsWith(registry.url)).toBe(true);
  });

  it('never serves the workspace\'s package names from upstream: unpublished, they are not found', async () => {
    const names = publicPackages().map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['@airlock/sdk', '@airlock/plugin-kit', 'create-airlock-plugin']));
    for (const name of names) expect((await fetch(new URL(name.replace('/', '%2f'), registry.url))).status, name).toBe(404);
  });

  it('takes a publish from the registered publisher, and refuses an anonymous one', async () => {
    const pkg = join(work, 'pkg');
    await mkdir(pkg);
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: '@airlock/registry-probe', version: '1.0.0' }));
    // The registry is given in the environment too: a test run by pnpm inherits pnpm's npm_config_registry.
    const anonymous = await npm(['publish'], pkg, { npm_config_userconfig: join(work, 'none.npmrc'), npm_config_registry: registry.url });
    expect(anonymous.code).not.toBe(0);
    const userconfig = await publisherConfig(registry.url, work);
    const published = await npm(['publish'], pkg, { npm_config_userconfig: userconfig, npm_config_registry: registry.url });
    expect(published.code, published.out).toBe(0);
    const doc = (await (await fetch(new URL('@airlock%2fregistry-probe', registry.url))).json()) as { 'dist-tags': Record<string, string> };
    expect(doc['dist-tags']).toEqual({ latest: '1.0.0' });
  });
});
