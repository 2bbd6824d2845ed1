import { rm } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outsideWorkspace, packWorkspace, passedTests, scaffoldAndTest, type Run } from '../src/index.js';

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
  }, 600_000);
});
