import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '@airlock/test-utils';
import { createTestHost, type TestHost } from '@airlock/plugin-kit/testing';

const plugin = new URL('..', import.meta.url);

const documents = [
  { source: 'keys/rotate.md', text: 'Rotate the API key from the settings page: choose Keys, then Rotate.' },
  { source: 'keys/scopes.md', text: 'Each API key has scopes.' },
  { source: 'billing.md', text: 'Invoices are sent on the first day of the month.' },
  // Shares every query word, so ranks first, but takes ~500 tokens.
  { source: 'keys/handbook.md', text: `How to rotate an API key safely. ${'Background on key management. '.repeat(65)}` },
];

let t: TestHost;

beforeAll(async () => {
  t = await createTestHost({ plugin, grant: { storage: {} }, config: { documents } });
});

afterAll(async () => {
  await t.close();
});

describe('notes-context plugin in a real host', () => {
  it('stores the configured documents at start', async () => {
    expect((await t.storage.keys('doc:')).sort()).toEqual(['doc:billing.md', 'doc:keys/handbook.md', 'doc:keys/rotate.md', 'doc:keys/scopes.md']);
  });

  it('answers best first, with only the notes that share words with the query', async () => {
    const result = await t.host.context('rotate api key', { budgetTokens: 10_000 });
    expect(result.failures).toEqual([]);
    expect(result.items.map((i) => i.source)).toEqual(['keys/handbook.md', 'keys/rotate.md', 'keys/scopes.md']);
    expect(result.items.every((i) => i.plugin === 'notes-context')).toBe(true);
    expect(result.items[0]!.score).toBe(1);
    expect(result.items[2]!.score).toBeCloseTo(2 / 3);
    expect(result.tokens).toBe(result.items.reduce((n, i) => n + Math.ceil(Buffer.byteLength(i.text) / 4), 0));
    expect(result.dropped).toBe(0);
  });

  it('keeps to the budget even though the plugin returns more, skipping what does not fit for smaller notes', async () => {
    const result = await t.host.context('rotate api key', { budgetTokens: 30 });
    // The handbook ranks first but does not fit; the two short notes after it do.
    expect(result.items.map((i) => i.source)).toEqual(['keys/rotate.md', 'keys/scopes.md']);
    expect(result.tokens).toBeLessThanOrEqual(30);
    expect(result.dropped).toBe(1);
    const tight = await t.host.context('rotate api key', { budgetTokens: 10 });
    expect(tight.items.map((i) => i.source)).toEqual(['keys/scopes.md']);
  });

  it('keeps at most maxItems', async () => {
    const result = await t.host.context('rotate api key', { budgetTokens: 10_000, maxItems: 2 });
    expect(result.items.map((i) => i.source)).toEqual(['keys/handbook.md', 'keys/rotate.md']);
  });

  it('refuses malformed requests with a hint', async () => {
    const e = await rejection(t.host.context('rotate', { budgetTokens: 0 }));
    expect(e.code).toBe('CONTEXT_REQUEST_INVALID');
    expect(e.hint).toContain('budgetTokens');
    expect((await rejection(t.host.context('rotate', { budgetTokens: 10, plugins: ['nope'] }))).code).toBe('PLUGIN_NOT_FOUND');
  });

  it('refuses to load without the storage grant its manifest asks for', async () => {
    const err = await rejection(createTestHost({ plugin, grant: {} }));
    expect(err.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(err.message).toContain('storage');
  });
});
