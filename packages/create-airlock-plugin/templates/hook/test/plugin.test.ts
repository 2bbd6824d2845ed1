import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '@airlock/plugin-kit/testing';

const plugin = new URL('..', import.meta.url);
let t: TestHost;

// Builds the plugin when its component is missing or older than the sources,
// then loads it into a real Airlock host.
beforeAll(async () => {
  t = await createTestHost({ plugin, config: { blocked: ['delete_everything'] } });
});
afterAll(() => t?.close());

describe('{{id}}', () => {
  it('hooks the points its manifest declares', () => {
    expect(t.host.hooks()).toEqual([{ id: '{{id}}', points: ['before-tool-call'], priority: 0 }]);
  });

  it('does not load unless each point it hooks is granted', async () => {
    await expect(createTestHost({ plugin, grant: {} })).rejects.toMatchObject({ code: 'CAPABILITY_NOT_GRANTED', hint: expect.stringContaining('hooks before-tool-call') });
  });

  // To see it refuse a call, load a tool plugin beside it:
  // createTestHost({ plugin, plugins: [{ plugin: '../my-tool' }] }), then expect
  // t.callTool('my-tool.delete_everything', {}) to reject with code HOOK_DENIED.
});
