import { readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '@airlock/host';
import { outsideWorkspace, packWorkspace, passedTests, run, scaffoldAndTest, type Run } from '../src/index.js';

const workspaceRoot = fileURLToPath(new URL('../../../', import.meta.url));
let base: string;
let tarballs: Record<string, string>;

beforeAll(async () => {
  base = await outsideWorkspace('airlock-scaffolded-');
  expect(relative(workspaceRoot, base).startsWith('..')).toBe(true);
  tarballs = await packWorkspace(`${base}/packs`);
});
afterAll(() => rm(base, { recursive: true, force: true }));

const explain = (r: Run | undefined) => (r ? `exit ${r.code}\n${r.stdout}\n${r.stderr}` : 'did not run');

describe.each(['tool', 'auth', 'provider'] as const)('a scaffolded %s project', (kind) => {
  it('installs, builds and passes its own tests out of the box', async () => {
    const p = await scaffoldAndTest(kind, base, tarballs);
    expect(p.install?.code, explain(p.install)).toBe(0);
    expect(p.build?.code, explain(p.build)).toBe(0);
    expect(p.build!.stderr).toMatch(/built my-\w+-plugin/);
    expect(p.test?.code, explain(p.test)).toBe(0);
    expect(passedTests(p.test!.stdout)).toBeGreaterThanOrEqual(5);

    // Published as its README says (a tarball), it installs into a host and loads.
    const packed = await run('pnpm', ['pack'], p.dir);
    expect(packed.code, explain(packed)).toBe(0);
    const tgz = (await readdir(p.dir)).find((f) => f.endsWith('.tgz'))!;
    const host = await createHost({ home: join(base, `home-${kind}`), logger: () => {} });
    try {
      const installed = await host.registry.install(join(p.dir, tgz), { grant: 'manifest' });
      expect(installed).toMatchObject({ id: `my-${kind}-plugin`, version: '0.1.0' });
      const { loaded, failed } = await host.loadInstalled();
      expect(failed).toEqual([]);
      expect(loaded.map((l) => [l.id, l.kind])).toEqual([[`my-${kind}-plugin`, kind]]);
    } finally {
      await host.close();
    }
  }, 600_000);
});
