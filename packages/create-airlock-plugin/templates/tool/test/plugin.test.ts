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
  it('lists its tools with their schemas and risk levels', () => {
    expect(t.tools().map((tool) => tool.name).sort()).toEqual(['repeat', 'slugify']);
    expect(t.tools().every((tool) => tool.risk === 'read-only')).toBe(true);
  });

  it('makes slugs', async () => {
    expect(await t.callTool('slugify', { title: 'Hello, World: 2 Recipes!' })).toEqual({ slug: 'hello-world-2-recipes' });
  });

  it('runs async tools and applies defaults in code', async () => {
    expect(await t.callTool('repeat', { text: 'hi' })).toEqual({ text: 'hi hi' });
    expect(await t.callTool('repeat', { text: 'ho', times: 3 })).toEqual({ text: 'ho ho ho' });
  });

  it('reports a ToolError with its code', async () => {
    await expect(t.callTool('repeat', { text: '  ' })).rejects.toMatchObject({ code: 'TOOL_FAILED', pluginCode: 'invalid-input', message: expect.stringContaining('must not be blank') });
  });

  it('refuses arguments that do not match the schema before the plugin runs', async () => {
    await expect(t.callTool('repeat', { text: 'x', times: 0 })).rejects.toMatchObject({ code: 'TOOL_ARGUMENTS_INVALID' });
    await expect(t.callTool('slugify', {})).rejects.toMatchObject({ code: 'TOOL_ARGUMENTS_INVALID' });
  });
});
