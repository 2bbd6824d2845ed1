import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackMapper, mapErrorStacks } from '../src/source-map.js';
import { PluginError } from '../src/errors.js';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-source-map-'));
  file = join(dir, 'source-map.json');
  // Bundle line 1, column 0 ← src/index.ts 1:0; bundle line 2, column 4 ← src/index.ts 10:2.
  await writeFile(file, JSON.stringify({ version: 3, sources: ['src/index.ts'], names: [], mappings: 'AAAA;IASE' }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('StackMapper', () => {
  it('replaces the bundle locations it can resolve with source locations, 1-based as SpiderMonkey prints them', () => {
    const stacks = new StackMapper(file);
    expect(stacks.map('run@plugin.js:2:5\n@plugin.js:1:1')).toBe('run@src/index.ts:10:3\n@src/index.ts:1:1');
  });

  it('leaves what it cannot resolve, and other files, as written', () => {
    const stacks = new StackMapper(file);
    expect(stacks.map('x@plugin.js:7:1 and y@other-plugin.js:2:5 and z@glue/plugin.js:2:5')).toBe('x@plugin.js:7:1 and y@other-plugin.js:2:5 and z@glue/plugin.js:2:5');
  });

  it('maps nothing, and throws nothing, when the map is missing or damaged', async () => {
    expect(new StackMapper(join(dir, 'missing.json')).map('run@plugin.js:2:5')).toBe('run@plugin.js:2:5');
    await writeFile(join(dir, 'damaged.json'), '{ not json');
    expect(new StackMapper(join(dir, 'damaged.json')).map('run@plugin.js:2:5')).toBe('run@plugin.js:2:5');
  });

  it('maps an error\'s message and the plugin\'s details in place', () => {
    const err = new PluginError('TOOL_FAILED', 'notes', 'boom', 'failed at plugin.js:2:5', 'run@plugin.js:2:5');
    expect(mapErrorStacks(err, new StackMapper(file))).toBe(err);
    expect(err.message).toBe('plugin `notes` failed: failed at src/index.ts:10:3');
    expect(err.details).toBe('run@src/index.ts:10:3');
    expect(mapErrorStacks('not an error', new StackMapper(file))).toBe('not an error');
  });
});
