/**
 * The development engine's JavaScript, run in Node with stand-ins for its
 * imports: what it forwards, wraps and reports. (Componentized and run in a
 * host, it is covered by build.test.ts.)
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { HOST_INTERFACES, witDirFor } from '@airlock/wit';
import { engineSource, hostInterfacesOf, type EngineWorld } from '../src/build/dev-engine.js';

const LOG = 'airlock:plugin/log@0.2.0';

/** Run the engine for `world` on `bundle` (a CommonJS body); returns its exports. */
function startEngine(world: EngineWorld, bundle: string, modules: Record<string, unknown>): { exports: Record<string, Record<string, unknown>>; sourceCalls: () => number } {
  let calls = 0;
  const imports = [...world.imports].sort();
  const body = engineSource(world)
    .replace(/^import .*$/gm, '')
    .replace(/^export const (\w+) = /gm, 'exports.$1 = ');
  const exports: Record<string, Record<string, unknown>> = {};
  const source = () => {
    calls++;
    return bundle;
  };
  new Function('source', ...imports.map((_, i) => `i${i}`), 'exports', body)(source, ...imports.map((id) => modules[id] ?? {}), exports);
  return { exports, sourceCalls: () => calls };
}

const call = (exports: Record<string, Record<string, unknown>>, iface: string, fn: string, ...args: unknown[]) => (exports[iface]![fn] as (...a: unknown[]) => unknown)(...args);

describe('hostInterfacesOf', () => {
  it('reads the host world of the current contract', async () => {
    const worlds = await readFile(`${witDirFor()}/worlds.wit`, 'utf8');
    expect(hostInterfacesOf(worlds)).toEqual([...HOST_INTERFACES]);
  });

  it('refuses WIT without a host world', () => {
    expect(() => hostInterfacesOf('package a:b;\nworld other { import x; }')).toThrow('no `world host`');
  });
});

describe('the development engine', () => {
  const world: EngineWorld = { imports: [LOG, 'wasi:cli/environment@0.2.12'], exports: ['tool', 'lifecycle'] };

  it('evaluates the bundle once, on the first call, and forwards each export to it with the imports it requires', () => {
    const written: string[] = [];
    const engine = startEngine(
      world,
      `const log = require(${JSON.stringify(LOG)});
       module.exports.tool = { listTools: () => [{ name: 'a' }], callTool: (name, args) => { log.write('info', name); return name + ':' + args; } };
       module.exports.lifecycle = { init() {}, shutdown() {}, onEvent() {} };`,
      { [LOG]: { write: (_level: string, text: string) => written.push(text) } },
    );
    expect(engine.sourceCalls()).toBe(0);
    expect(call(engine.exports, 'tool', 'listTools')).toEqual([{ name: 'a' }]);
    expect(call(engine.exports, 'tool', 'callTool', 'x', '{}')).toBe('x:{}');
    expect(written).toEqual(['x']);
    expect(engine.sourceCalls()).toBe(1);
    // The same function every time it is asked for, as componentize-js keeps what it read.
    expect(engine.exports.tool!.callTool).toBe(engine.exports.tool!.callTool);
  });

  it('wraps the bundle\'s resources in its own class, forwarding methods and dispose, and unwraps them as arguments', async () => {
    const written: string[] = [];
    const engine = startEngine(
      { imports: [LOG], exports: ['provider', 'lifecycle'] },
      `class ChatStream { #n = 0; next() { return [++this.#n]; } [Symbol.for('dispose')]() { require(${JSON.stringify(LOG)}).write('info', 'disposed after ' + this.#n); } }
       module.exports.provider = { ChatStream, streamChat: async () => new ChatStream(), isMine: (s) => s instanceof ChatStream };`,
      { [LOG]: { write: (_level: string, text: string) => written.push(text) } },
    );
    const EngineStream = engine.exports.provider!.ChatStream as new (...a: unknown[]) => object;
    const stream = (await call(engine.exports, 'provider', 'streamChat', {})) as Record<string | symbol, () => unknown>;
    expect(stream).toBeInstanceOf(EngineStream);
    expect(stream.next!()).toEqual([1]);
    // Methods looked up on the class, as bindings may, reach the same stream.
    expect((EngineStream.prototype as Record<string, (this: unknown) => unknown>).next!.call(stream)).toEqual([2]);
    stream[Symbol.for('dispose')]!();
    expect(written).toEqual(['disposed after 2']);
    expect(call(engine.exports, 'provider', 'isMine', stream)).toBe(true);
  });

  it('reports a bundle that cannot start: to init as its error text, to any other call by throwing; it is not evaluated again', () => {
    const engine = startEngine(world, `throw new Error('src/index.ts must export default a plugin');`, {});
    expect(() => call(engine.exports, 'lifecycle', 'init', '{}')).toThrow('the plugin could not start: src/index.ts must export default a plugin');
    let thrown: unknown;
    try {
      call(engine.exports, 'lifecycle', 'init', '{}');
    } catch (err) {
      thrown = err;
    }
    expect(typeof thrown).toBe('string');
    const errors: string[] = [];
    const original = console.error;
    console.error = (text: string) => errors.push(text);
    try {
      expect(() => call(engine.exports, 'tool', 'listTools')).toThrow('must export default a plugin');
    } finally {
      console.error = original;
    }
    expect(errors[0]).toContain('the plugin could not start');
    expect(engine.sourceCalls()).toBe(1);
  });

  it('names an import the world does not have, and a function the bundle does not export', () => {
    const engine = startEngine(world, `require('acme:kb/search@1.0.0');`, {});
    expect(() => call(engine.exports, 'lifecycle', 'init', '{}')).toThrow(/imports acme:kb\/search@1\.0\.0, which its world does not: name it in "capabilities.interfaces"/);
    const empty = startEngine(world, `module.exports.tool = {};`, {});
    expect(() => call(empty.exports, 'tool', 'listTools')).toThrow('the plugin does not export tool.listTools');
  });
});
