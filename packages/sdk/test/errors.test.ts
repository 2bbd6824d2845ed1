import { describe, expect, it } from 'vitest';
import { HostError, ToolError, failureOf, hostError, toToolError } from '../src/errors.js';

describe('ToolError', () => {
  it('is an Error with a code', () => {
    const cause = new Error('root');
    const e = new ToolError('not-found', 'no note 3', { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'ToolError', code: 'not-found', message: 'no note 3', cause });
  });
});

describe('hostError', () => {
  it('reads the WIT error case from a thrown payload', () => {
    const e = hostError('storage', { tag: 'quota-exceeded', val: 'over 10 bytes' });
    expect(e).toBeInstanceOf(HostError);
    expect(e).toMatchObject({ interface: 'storage', code: 'quota-exceeded', message: 'storage: quota-exceeded: over 10 bytes' });
  });

  it('reads the WIT error case from an error carrying a payload', () => {
    const thrown = Object.assign(new Error('ComponentError'), { payload: { tag: 'denied', val: 'no grant' } });
    expect(hostError('credentials', thrown)).toMatchObject({ code: 'denied', message: 'credentials: denied: no grant' });
  });

  it('encodes a non-string val as JSON', () => {
    expect(hostError('storage', { tag: 'internal', val: { n: 1 } }).message).toBe('storage: internal: {"n":1}');
    expect(hostError('storage', { tag: 'internal' }).message).toBe('storage: internal: ""');
  });

  it("falls back to code 'error' for anything else", () => {
    expect(hostError('storage', new TypeError('bad'))).toMatchObject({ code: 'error', message: 'storage: error: bad' });
    expect(hostError('storage', 'text')).toMatchObject({ code: 'error', message: 'storage: error: text' });
    expect(hostError('storage', null)).toMatchObject({ code: 'error', message: 'storage: error: null' });
    expect(hostError('storage', { tag: 3 })).toMatchObject({ code: 'error' });
  });
});

describe('toToolError', () => {
  it('keeps a ToolError code', () => {
    const e = new ToolError('bad-input', 'nope');
    expect(toToolError(e)).toEqual({ code: 'bad-input', message: 'nope', details: e.stack });
  });

  it('prefixes a HostError code with host-', () => {
    const e = new HostError('storage', 'denied', 'no grant');
    expect(toToolError(e)).toEqual({ code: 'host-denied', message: 'storage: denied: no grant', details: e.stack });
  });

  it('uses the name of an Error without a message', () => {
    expect(toToolError(new TypeError())).toMatchObject({ code: 'error', message: 'TypeError' });
  });

  it('describes thrown values that are not errors', () => {
    expect(toToolError('plain')).toEqual({ code: 'error', message: 'plain', details: undefined });
    expect(toToolError(42)).toEqual({ code: 'error', message: '42', details: undefined });
    expect(toToolError(undefined)).toEqual({ code: 'error', message: 'undefined', details: undefined });
    expect(toToolError(10n)).toEqual({ code: 'error', message: '10', details: undefined });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(toToolError(cyclic)).toEqual({ code: 'error', message: '[object Object]', details: undefined });
  });
});

describe('failureOf', () => {
  it('gives an Error\'s message, and its stack as details', () => {
    const e = new RangeError('out of range');
    expect(failureOf(e)).toEqual({ message: 'out of range', details: e.stack });
    expect(failureOf(e).details).toMatch(/errors\.test\.ts/);
  });

  it('names an Error without a message by its name', () => {
    const e = new TypeError();
    expect(failureOf(e)).toEqual({ message: 'TypeError', details: e.stack });
  });

  it('gives a thrown string as it is and anything else as JSON text, without details', () => {
    expect(failureOf('plain')).toEqual({ message: 'plain', details: undefined });
    expect(failureOf({ reason: 'quota', left: 0 })).toEqual({ message: '{"reason":"quota","left":0}', details: undefined });
    expect(failureOf(['a', 1])).toEqual({ message: '["a",1]', details: undefined });
    expect(failureOf(null)).toEqual({ message: 'null', details: undefined });
    expect(failureOf(undefined)).toEqual({ message: 'undefined', details: undefined });
    expect(failureOf(10n)).toEqual({ message: '10', details: undefined });
  });

  it('never throws, whatever was thrown', () => {
    const hostile = Object.assign(Object.create(null) as object, {
      toJSON() {
        throw new Error('no JSON');
      },
    });
    expect(failureOf(hostile)).toEqual({ message: '[object Object]', details: undefined });
  });
});
