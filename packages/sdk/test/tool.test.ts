import { describe, expect, it } from 'vitest';
import { HostError, ToolError } from '../src/errors.js';
import { defineTool, defineToolPlugin, type AnyTool } from '../src/tool.js';
import { thrownBy } from './helpers.js';

const echo = defineTool({
  name: 'echo',
  description: 'Echo the text back',
  parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  run: ({ text }) => ({ text }),
});

const add = defineTool({
  name: 'add',
  description: 'Add two numbers',
  parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
  risk: 'write',
  run: ({ a, b }) => a + b,
});

/** A tool whose `run` is given directly, for error cases. */
const tool = (name: string, run: (args: never) => unknown): AnyTool => ({ name, description: name, parameters: { type: 'object' }, run });


describe('defineTool', () => {
  it('returns the definition unchanged', () => {
    expect(echo.name).toBe('echo');
    expect(echo.run({ text: 'hi' })).toEqual({ text: 'hi' });
  });
});

describe('defineToolPlugin', () => {
  it('is a tool plugin', () => {
    expect(defineToolPlugin({ tools: [echo] }).kind).toBe('tool');
  });

  it('lists tools with JSON-text schemas and read-only as the default risk', () => {
    const plugin = defineToolPlugin({ tools: [echo, add] });
    const listed = plugin.exports.listTools();
    expect(listed).toEqual([
      { name: 'echo', description: 'Echo the text back', parameters: JSON.stringify(echo.parameters), risk: 'read-only' },
      { name: 'add', description: 'Add two numbers', parameters: JSON.stringify(add.parameters), risk: 'write' },
    ]);
    expect(JSON.parse(listed[0]!.parameters)).toEqual(echo.parameters);
  });

  it('routes a call by name and returns JSON text', () => {
    const plugin = defineToolPlugin({ tools: [echo, add] });
    expect(plugin.exports.callTool('add', '{"a":2,"b":3}')).toBe('5');
    expect(plugin.exports.callTool('echo', '{"text":"hé \\"q\\""}')).toBe('{"text":"hé \\"q\\""}');
  });

  it('encodes an undefined result as null', () => {
    const plugin = defineToolPlugin({ tools: [tool('nothing', () => undefined)] });
    expect(plugin.exports.callTool('nothing', '{}')).toBe('null');
  });

  it('throws a plain error record, not an Error, for an unknown tool', () => {
    const plugin = defineToolPlugin({ tools: [echo] });
    const e = thrownBy(() => plugin.exports.callTool('nope', '{}'));
    // An Error would trap the component; the WIT error record must be a plain object.
    expect(e).not.toBeInstanceOf(Error);
    expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
    expect(e).toEqual({ code: 'unknown-tool', message: 'this plugin has no tool named nope', details: expect.any(String) });
  });

  it('turns a ToolError into its code and message, with the stack as details', () => {
    const plugin = defineToolPlugin({
      tools: [
        tool('find', () => {
          throw new ToolError('not-found', 'x');
        }),
      ],
    });
    const e = thrownBy(() => plugin.exports.callTool('find', '{}')) as { code: string; message: string; details: string };
    expect(e).not.toBeInstanceOf(Error);
    expect(e).toEqual({ code: 'not-found', message: 'x', details: expect.stringContaining('ToolError: x') });
    expect(e.details).toMatch(/tool\.test\.ts/);
  });

  it("turns a plain Error into code 'error'", () => {
    const plugin = defineToolPlugin({
      tools: [
        tool('boom', () => {
          throw new RangeError('out of range');
        }),
      ],
    });
    expect(thrownBy(() => plugin.exports.callTool('boom', '{}'))).toEqual({
      code: 'error',
      message: 'out of range',
      details: expect.stringContaining('RangeError: out of range'),
    });
  });

  it('turns a HostError into a host- code', () => {
    const plugin = defineToolPlugin({
      tools: [
        tool('store', () => {
          throw new HostError('storage', 'quota-exceeded', 'full');
        }),
      ],
    });
    expect(thrownBy(() => plugin.exports.callTool('store', '{}'))).toMatchObject({ code: 'host-quota-exceeded', message: 'storage: quota-exceeded: full' });
  });

  it('turns thrown non-Error values into an error record', () => {
    const plugin = defineToolPlugin({
      tools: [
        tool('str', () => {
          throw 'just a string';
        }),
        tool('obj', () => {
          throw { why: 'because' };
        }),
      ],
    });
    expect(thrownBy(() => plugin.exports.callTool('str', '{}'))).toEqual({ code: 'error', message: 'just a string', details: undefined });
    expect(thrownBy(() => plugin.exports.callTool('obj', '{}'))).toEqual({ code: 'error', message: '{"why":"because"}', details: undefined });
  });

  it('reports arguments that are not JSON as an error record', () => {
    const plugin = defineToolPlugin({ tools: [echo] });
    const e = thrownBy(() => plugin.exports.callTool('echo', '{not json'));
    expect(e).not.toBeInstanceOf(Error);
    expect(e).toMatchObject({ code: 'error' });
  });

  it('reports a result that cannot be encoded as JSON', () => {
    const plugin = defineToolPlugin({ tools: [tool('fn', () => () => 1), tool('big', () => 1n)] });
    expect(thrownBy(() => plugin.exports.callTool('fn', '{}'))).toMatchObject({ code: 'invalid-result' });
    expect(thrownBy(() => plugin.exports.callTool('big', '{}'))).toMatchObject({ code: 'error' });
  });

  it('returns a promise of JSON text for an async tool', async () => {
    const plugin = defineToolPlugin({ tools: [tool('later', async () => ({ done: true })), tool('void', async () => undefined)] });
    const result = plugin.exports.callTool('later', '{}');
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toBe('{"done":true}');
    await expect(plugin.exports.callTool('void', '{}')).resolves.toBe('null');
  });

  it('rejects with the plain error record when an async tool rejects', async () => {
    const plugin = defineToolPlugin({
      tools: [
        tool('later', async () => {
          await Promise.resolve();
          throw new ToolError('rate-limited', 'slow down');
        }),
      ],
    });
    const result = plugin.exports.callTool('later', '{}');
    expect(result).toBeInstanceOf(Promise);
    const e = await (result as Promise<string>).catch((err: unknown) => err);
    expect(e).not.toBeInstanceOf(Error);
    expect(e).toEqual({ code: 'rate-limited', message: 'slow down', details: expect.stringContaining('ToolError: slow down') });
  });

  it('rejects with an error record when an async result cannot be encoded', async () => {
    const plugin = defineToolPlugin({ tools: [tool('fn', async () => () => 1)] });
    await expect(plugin.exports.callTool('fn', '{}')).rejects.toMatchObject({ code: 'invalid-result' });
  });

  it('passes the parsed arguments to run', () => {
    const seen: unknown[] = [];
    const plugin = defineToolPlugin({ tools: [tool('spy', (args) => void seen.push(args))] });
    plugin.exports.callTool('spy', '{"a":[1,{"b":null}]}');
    expect(seen).toEqual([{ a: [1, { b: null }] }]);
  });

  it('refuses two tools with the same name at define time', () => {
    expect(() => defineToolPlugin({ tools: [echo, tool('add', () => 0), add] })).toThrow('two tools are named add');
  });
});
