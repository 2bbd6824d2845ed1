import { describe, expect, it } from 'vitest';
import { ToolError } from '../src/errors.js';
import { defineContextPlugin } from '../src/context.js';
import { thrownBy } from './helpers.js';

const request = { query: 'q', budgetTokens: 100, maxItems: 5 };

describe('defineContextPlugin', () => {
  it('is a context plugin with hooks', () => {
    const plugin = defineContextPlugin({ retrieve: () => [] });
    expect(plugin.kind).toBe('context');
    expect(typeof plugin.lifecycle.init).toBe('function');
  });

  it('passes the request and returns the items, record fields only', async () => {
    const seen: unknown[] = [];
    const plugin = defineContextPlugin({
      retrieve: (req) => {
        seen.push(req);
        return [{ text: 'a', source: 's', score: 0.5, extra: true } as never];
      },
    });
    expect(plugin.exports.retrieve(request)).toEqual([{ text: 'a', source: 's', score: 0.5 }]);
    expect(seen).toEqual([request]);
    const later = defineContextPlugin({ retrieve: async () => [{ text: 'b', source: 't', score: 1 }] });
    await expect(later.exports.retrieve(request)).resolves.toEqual([{ text: 'b', source: 't', score: 1 }]);
  });

  it('turns a missing score into NaN, which the host drops', () => {
    const plugin = defineContextPlugin({ retrieve: () => [{ text: 'a', source: 's' } as never] });
    expect(plugin.exports.retrieve(request)).toEqual([{ text: 'a', source: 's', score: Number.NaN }]);
  });

  it('maps what retrieve throws, sync or async, to the error record, never an Error', async () => {
    const sync = defineContextPlugin({
      retrieve: () => {
        throw new ToolError('unavailable', 'index not built');
      },
    });
    const e = thrownBy(() => sync.exports.retrieve(request));
    expect(e).not.toBeInstanceOf(Error);
    expect(e).toMatchObject({ code: 'unavailable', message: 'index not built' });
    const rejecting = defineContextPlugin({ retrieve: async () => Promise.reject(new Error('down')) });
    const r = await (rejecting.exports.retrieve(request) as Promise<unknown>).catch((x: unknown) => x);
    expect(r).not.toBeInstanceOf(Error);
    expect(r).toMatchObject({ code: 'error', message: 'down' });
    const wrong = defineContextPlugin({ retrieve: () => 'nope' as never });
    expect(thrownBy(() => wrong.exports.retrieve(request))).toMatchObject({ message: 'retrieve must return a list of items' });
  });
});
