// Merging, ranking and the budget are the host's own: driven here by fake
// context plugins, without a component.
import { describe, expect, it } from 'vitest';
import { approximateTokens, checkContextRequest, gatherContext, type ContextSource } from '../../src/kinds/context.js';
import type { CallOutcome } from '../../src/sandbox/instance.js';
import { AirlockError } from '../../src/errors.js';

/** A context plugin that answers every call with `outcome` (or throws it when it is an Error). */
const source = (id: string, outcome: CallOutcome | Error, calls: unknown[][] = []): ContextSource => ({
  id,
  caller: {
    async call(fn, args) {
      expect(fn).toBe('context.retrieve');
      calls.push(args);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  },
});
const items = (...list: [text: string, score: number][]): CallOutcome => ({ ok: true, value: list.map(([text, score], i) => ({ text, source: `s${i}`, score })) });
/** One token per character, so budgets read plainly. */
const chars = (text: string) => text.length;
const request = (budgetTokens: number, maxItems = 20) => ({ query: 'q', budgetTokens, maxItems });
const quiet = () => {};

describe('gatherContext', () => {
  it('asks every plugin with the request, merges and ranks by score, ties by plugin id then order', async () => {
    const calls: unknown[][] = [];
    const result = await gatherContext(
      [source('b', items(['b1', 0.5], ['b2', 0.9]), calls), source('a', items(['a1', 0.5], ['a2', 0.5]), calls)],
      request(100, 7),
      chars,
      {},
      quiet,
    );
    expect(calls).toEqual([[{ query: 'q', budgetTokens: 100, maxItems: 7 }], [{ query: 'q', budgetTokens: 100, maxItems: 7 }]]);
    expect(result.items.map((i) => i.text)).toEqual(['b2', 'a1', 'a2', 'b1']);
    expect(result.items[0]).toEqual({ text: 'b2', source: 's1', score: 0.9, plugin: 'b' });
    expect(result).toMatchObject({ tokens: 8, dropped: 0, failures: [] });
  });

  it('keeps items while they fit the budget, skipping one that does not for smaller ones after it', async () => {
    const result = await gatherContext([source('p', items(['x'.repeat(6), 0.9], ['y'.repeat(5), 0.8], ['z'.repeat(3), 0.7], ['w'.repeat(2), 0.6]))], request(10), chars, {}, quiet);
    expect(result.items.map((i) => i.text.length)).toEqual([6, 3]);
    expect(result.tokens).toBe(9);
    expect(result.dropped).toBe(2);
  });

  it('keeps at most maxItems', async () => {
    const result = await gatherContext([source('p', items(['a', 0.3], ['b', 0.2], ['c', 0.1]))], request(100, 2), chars, {}, quiet);
    expect(result.items.map((i) => i.text)).toEqual(['a', 'b']);
    expect(result.dropped).toBe(1);
  });

  it('drops malformed items and says so', async () => {
    const warnings: string[] = [];
    const bad: CallOutcome = { ok: true, value: [{ text: '', source: 's', score: 1 }, { text: 'ok', source: 's', score: Number.NaN }, { text: 'inf', source: 's', score: Infinity }, null, { text: 'good', source: 's', score: 0.1 }] };
    const result = await gatherContext([source('p', bad)], request(100), chars, {}, (m) => warnings.push(m));
    expect(result.items.map((i) => i.text)).toEqual(['good']);
    expect(result.dropped).toBe(4);
    expect(warnings).toEqual([expect.stringContaining('dropped 4 malformed items')]);
  });

  it('reports a failing plugin beside the others\' items', async () => {
    const warnings: string[] = [];
    const failing = source('down', { ok: false, error: { code: 'unavailable', message: 'index missing' } });
    const trapped = source('trap', new AirlockError('PLUGIN_TRAPPED', 'it trapped', { plugin: 'trap' }));
    const result = await gatherContext([failing, trapped, source('up', items(['a', 1]))], request(100), chars, {}, (m, plugin) => warnings.push(`${plugin}: ${m}`));
    expect(result.items.map((i) => i.text)).toEqual(['a']);
    expect(result.failures).toEqual([
      { plugin: 'down', code: 'CONTEXT_FAILED', pluginCode: 'unavailable', message: 'index missing' },
      { plugin: 'trap', code: 'PLUGIN_TRAPPED', message: 'it trapped' },
    ]);
    expect(warnings).toEqual([expect.stringContaining('down: context failed'), expect.stringContaining('trap: context failed')]);
  });

  it('fails with CONTEXT_FAILED when every plugin fails, naming each', async () => {
    const call = gatherContext([source('a', { ok: false, error: { code: 'x', message: 'no A' } }), source('b', { ok: true, value: 'not a list' })], request(100), chars, {}, quiet);
    await expect(call).rejects.toMatchObject({ code: 'CONTEXT_FAILED', message: expect.stringMatching(/`a`: no A.*`b`: retrieve did not return a list/) });
  });

  it('answers an empty list when no context plugin is loaded', async () => {
    await expect(gatherContext([], request(10), chars, {}, quiet)).resolves.toEqual({ items: [], tokens: 0, dropped: 0, failures: [] });
  });

  it('refuses a token counter that returns nonsense', async () => {
    await expect(gatherContext([source('p', items(['a', 1]))], request(10), () => Number.NaN, {}, quiet)).rejects.toMatchObject({ code: 'HOST_OPTIONS_INVALID' });
  });
});

describe('approximateTokens', () => {
  it('is a quarter of the UTF-8 bytes, rounded up', () => {
    expect(approximateTokens('')).toBe(0);
    expect(approximateTokens('abcd')).toBe(1);
    expect(approximateTokens('abcde')).toBe(2);
    expect(approximateTokens('é')).toBe(1);
    expect(approximateTokens('日本語')).toBe(3);
  });
});

describe('checkContextRequest', () => {
  it('fills in maxItems and refuses what is malformed', () => {
    expect(checkContextRequest('q', { budgetTokens: 5 })).toEqual({ query: 'q', budgetTokens: 5, maxItems: 20 });
    for (const [query, options, what] of [
      [42, { budgetTokens: 5 }, 'query'],
      ['q', { budgetTokens: 0 }, 'budgetTokens'],
      ['q', { budgetTokens: 1.5 }, 'budgetTokens'],
      ['q', {}, 'budgetTokens'],
      ['q', undefined, 'budgetTokens'],
      ['q', { budgetTokens: 5, maxItems: 0 }, 'maxItems'],
      ['q', { budgetTokens: 5, plugins: 'p' }, 'plugins'],
    ] as const) {
      let error: unknown;
      try {
        checkContextRequest(query, options as never);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'CONTEXT_REQUEST_INVALID', message: expect.stringContaining(what), hint: expect.any(String) });
    }
  });
});
