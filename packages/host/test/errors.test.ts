import { describe, expect, it } from 'vitest';
import { AirlockError, AuthError, ManifestError, PluginError, ProviderError, ToolArgumentsError } from '../src/errors.js';

describe('AirlockError', () => {
  it('carries code, message, hint, plugin and cause', () => {
    const cause = new Error('root');
    const e = new AirlockError('PLUGIN_TIMEOUT', 'too slow', { hint: 'raise it', plugin: 'notes', cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('AirlockError');
    expect(e.code).toBe('PLUGIN_TIMEOUT');
    expect(e.message).toBe('too slow');
    expect(e.hint).toBe('raise it');
    expect(e.plugin).toBe('notes');
    expect(e.cause).toBe(cause);
  });

  it('has no cause property when none is given', () => {
    expect('cause' in new AirlockError('HOST_CLOSED', 'closed')).toBe(false);
  });

  it('isInstance recognises its own errors and subclasses', () => {
    expect(AirlockError.isInstance(new AirlockError('HOST_CLOSED', 'closed'))).toBe(true);
    expect(AirlockError.isInstance(new ManifestError('package.json', [{ path: 'name', message: 'is missing' }]))).toBe(true);
  });

  it('isInstance recognises an error from another copy of the package by its brand', () => {
    // What a duplicate copy of this module would produce: a different class with the same registered symbol.
    const foreign = Object.assign(new Error('elsewhere'), { [Symbol.for('airlock.error')]: true, code: 'HOST_CLOSED' });
    expect(foreign).not.toBeInstanceOf(AirlockError);
    expect(AirlockError.isInstance(foreign)).toBe(true);
    expect(AirlockError.isInstance({ [Symbol.for('airlock.error')]: true })).toBe(true);
  });

  it.each([
    ['a plain Error', new Error('x')],
    ['an object with a code', { code: 'HOST_CLOSED' }],
    ['a brand that is not true', { [Symbol.for('airlock.error')]: 'yes' }],
    ['a brand under a different symbol', { [Symbol('airlock.error')]: true }],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'AirlockError'],
  ])('isInstance rejects %s', (_, value) => {
    expect(AirlockError.isInstance(value)).toBe(false);
  });

  it('serialises to JSON with its public fields', () => {
    const e = new AirlockError('TOOL_NOT_FOUND', 'no tool', { hint: 'list them', plugin: 'notes', cause: new Error('c') });
    expect(e.toJSON()).toEqual({ name: 'AirlockError', code: 'TOOL_NOT_FOUND', message: 'no tool', hint: 'list them', plugin: 'notes' });
    expect(JSON.parse(JSON.stringify(e))).toEqual({ name: 'AirlockError', code: 'TOOL_NOT_FOUND', message: 'no tool', hint: 'list them', plugin: 'notes' });
  });
});

describe('ManifestError', () => {
  it('names the file and the first issue', () => {
    const e = new ManifestError('plugins/x/package.json', [{ path: 'airlock.kind', message: 'is missing', hint: 'Set it.' }]);
    expect(e.code).toBe('MANIFEST_INVALID');
    expect(e.name).toBe('ManifestError');
    expect(e.message).toBe('plugins/x/package.json: airlock.kind: is missing');
    expect(e.hint).toBe('Set it.');
    expect(e.file).toBe('plugins/x/package.json');
  });

  it('lists every problem, each with its own hint', () => {
    const e = new ManifestError('p.json', [
      { path: 'airlock.kind', message: 'is missing', hint: 'Set it to tool, auth or provider.' },
      { path: 'airlock.capabilities.http[1]', message: 'is not an origin' },
      { path: 'airlock.limits.timeoutMs', message: 'must be a positive integer' },
    ]);
    expect(e.message).toBe(
      'p.json: 3 problems in the manifest:\n' +
        '  - airlock.kind: is missing (Set it to tool, auth or provider.)\n' +
        '  - airlock.capabilities.http[1]: is not an origin\n' +
        '  - airlock.limits.timeoutMs: must be a positive integer',
    );
    expect(e.hint).toMatch(/MANIFEST\.md/);
  });

  it('puts the file and every issue in its JSON', () => {
    const issues = [
      { path: 'a', message: 'x' },
      { path: 'b', message: 'y', hint: 'h' },
    ];
    expect(JSON.parse(JSON.stringify(new ManifestError('p.json', issues)))).toMatchObject({ code: 'MANIFEST_INVALID', file: 'p.json', issues });
  });

  it('keeps every issue', () => {
    const issues = [
      { path: 'a', message: 'x' },
      { path: 'b', message: 'y' },
    ];
    expect(new ManifestError('p.json', issues).issues).toEqual(issues);
  });
});

describe('ToolArgumentsError and PluginError', () => {
  it('ToolArgumentsError lists each schema error', () => {
    const e = new ToolArgumentsError('add_note', 'notes', [
      { path: '', message: "must have required property 'title'" },
      { path: '/tags/0', message: 'must be string' },
    ]);
    expect(e.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(e.plugin).toBe('notes');
    expect(e.tool).toBe('add_note');
    expect(e.message).toBe("invalid arguments for tool `add_note`: (root) must have required property 'title'; /tags/0 must be string");
  });

  it('PluginError keeps the plugin code and details', () => {
    const e = new PluginError('TOOL_FAILED', 'notes', 'not-found', 'no note 3', 'stack');
    expect(AirlockError.isInstance(e)).toBe(true);
    expect(e).toMatchObject({ code: 'TOOL_FAILED', plugin: 'notes', pluginCode: 'not-found', details: 'stack', name: 'PluginError' });
    expect(e.message).toBe('plugin `notes` failed: no note 3');
  });
});

describe('AuthError and ProviderError', () => {
  it('AuthError keeps the plugin\'s case and details', () => {
    const e = new AuthError('AUTH_DENIED', 'declined', { plugin: 'gh', pluginCode: 'access-denied', details: 'stack', hint: 'retry' });
    expect(AirlockError.isInstance(e)).toBe(true);
    expect(e).toMatchObject({ name: 'AuthError', code: 'AUTH_DENIED', message: 'declined', plugin: 'gh', pluginCode: 'access-denied', details: 'stack', hint: 'retry' });
  });

  it('ProviderError keeps the plugin\'s case, details and retry-after', () => {
    const e = new ProviderError('PROVIDER_RATE_LIMITED', 'slow down', { plugin: 'openai', pluginCode: 'rate-limited', details: 'stack', retryAfterMs: 500 });
    expect(AirlockError.isInstance(e)).toBe(true);
    expect(e).toMatchObject({ name: 'ProviderError', code: 'PROVIDER_RATE_LIMITED', plugin: 'openai', pluginCode: 'rate-limited', details: 'stack', retryAfterMs: 500 });
  });

  it('leave details out of toJSON, as PluginError does', () => {
    const e = new ProviderError('PROVIDER_FAILED', 'failed', { plugin: 'p', details: 'at secret/path.js:1:1' });
    expect(JSON.stringify(e)).not.toContain('secret/path');
    expect(JSON.stringify(new PluginError('TOOL_FAILED', 'p', 'x', 'y', 'at secret/path.js:1:1'))).not.toContain('secret/path');
  });
});
