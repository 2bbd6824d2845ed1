// The repository runs on the Node it installs (the root devDependency `node`),
// whatever Node the machine has: this test process, and a `node` found on the
// PATH the way scripts and child processes find it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const root = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { devDependencies: { node: string } };

it('runs on the Node the repository installs, in this process and on the PATH', () => {
  expect(process.version).toBe(`v${root.devDependencies.node}`);
  expect(execFileSync('node', ['-p', 'process.version'], { encoding: 'utf8' }).trim()).toBe(`v${root.devDependencies.node}`);
});
