import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '@airlock/plugin-kit/testing';

let t: TestHost;

// Builds the plugin when its component is missing or older than the sources,
// then loads it into a real Airlock host.
beforeAll(async () => {
  t = await createTestHost({ plugin: new URL('..', import.meta.url) });
});
afterAll(() => t?.close());

describe('{{id}}', () => {
  it('answers with the notes that share words with the query, best first', async () => {
    const { items, failures } = await t.host.context('how do I install the cli', { budgetTokens: 1000 });
    expect(failures).toEqual([]);
    expect(items[0]).toMatchObject({ source: 'faq/install.md', plugin: '{{id}}' });
    expect(items.map((i) => i.score)).toEqual([...items.map((i) => i.score)].sort((a, b) => b - a));
  });

  it('gets no more than the budget and maxItems allow', async () => {
    const { items, tokens } = await t.host.context('the cli plugin support', { budgetTokens: 25, maxItems: 2 });
    expect(items.length).toBeLessThanOrEqual(2);
    expect(tokens).toBeLessThanOrEqual(25);
  });
});
