import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHost } from '../../src/index.js';

const fixture = new URL('../fixtures/home-0.1.0/', import.meta.url);
const json = (bytes: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(bytes)) as unknown;

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-home-compat-'));
  await cp(fixture, home, { recursive: true });
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('a home written by host 0.1.0', () => {
  it('opens, and reads back what was installed and stored', async () => {
    const host = await createHost({ home, logger: () => {} });
    try {
      const installed = host.registry.list();
      expect(installed.map((p) => [p.id, p.version, p.kind, p.enabled])).toEqual([
        ['notes', '0.1.0', 'tool', true],
        ['provider-openai', '0.1.0', 'provider', false],
      ]);
      expect(installed[0]).toMatchObject({
        source: '/srv/example/notes',
        grant: { storage: { quotaBytes: 1048576 } },
        signature: { status: 'unsigned' },
        componentSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(installed[1]).toMatchObject({
        grant: { http: ['https://llm.example.com'], env: ['OPENAI_API_KEY'], credentials: ['auth-device-flow'] },
        config: { baseUrl: 'https://llm.example.com/v1', defaultModel: 'local-7b' },
      });

      const notes = host.storageOf('notes');
      expect(await notes.keys()).toEqual(['meta:last-id', 'note:0000000001', 'note:0000000002']);
      expect(json(await notes.get('meta:last-id'))).toBe(2);
      expect(json(await notes.get('note:0000000001'))).toMatchObject({ id: 1, title: 'Written by host 0.1.0', tags: ['migration'] });
      expect(json(await notes.get('note:0000000002'))).toMatchObject({ body: 'ünïcödé ✓' });
      expect(await notes.usage()).toBe(287);
    } finally {
      await host.close();
    }
  });

  it('keeps accepting writes under the old quota accounting, across a reopen', async () => {
    const first = await createHost({ home, logger: () => {} });
    await first.storageOf('notes').set('note:0000000003', new TextEncoder().encode('"third"'));
    await first.close();
    const second = await createHost({ home, logger: () => {} });
    try {
      const notes = second.storageOf('notes');
      expect(await notes.usage()).toBe(287 + 'note:0000000003'.length + '"third"'.length);
      expect(json(await notes.get('note:0000000003'))).toBe('third');
      expect(second.registry.get('notes')?.grant).toEqual({ storage: { quotaBytes: 1048576 } });
    } finally {
      await second.close();
    }
  });
});
