import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const demo = new URL('../demo.mjs', import.meta.url).pathname;
let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-demo-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

it('runs the README main job: device-flow sign-in, then a streamed chat that calls a tool', async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [demo, '--home', home], { env: { ...process.env, NO_COLOR: '1' } });
  const out = stdout + stderr;
  expect(out).toMatch(/Open http:\/\/127\.0\.0\.1:\d+\/device\?user_code=([A-Z]{4}-[A-Z]{4}) and check that it shows the code \1/);
  expect(out).toContain('✔ Signed in to auth-device-flow as demo-user');
  expect(out).toContain('auth-device-flow: signed in as demo-user');
  expect(out).toContain('→ count_words {"text":"Airlock runs every plugin in its own sandbox"}');
  expect(out).toContain('← {"words":8,"characters":44,"lines":1}');
  expect(stdout).toContain('The tool returned: {"words":8,"characters":44,"lines":1}');
  expect(out).toMatch(/\d+ prompt \+ \d+ completion tokens · stop · 2 rounds/);
}, 120_000);
