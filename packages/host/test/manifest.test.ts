import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { AirlockError, ManifestError } from '../src/errors.js';
import { checkOrigin, parseManifest, readManifest, type Manifest } from '../src/manifest.js';

/** A package.json with a valid manifest, with `airlock` fields replaced or added. */
function pkg(airlock: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'hello-plugin', version: '1.2.3', ...top, airlock: { kind: 'tool', ...airlock } };
}

/** Parse and return the ManifestError thrown; fails the test if it parses. */
function errorOf(input: unknown, file?: string): ManifestError {
  try {
    parseManifest(input, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    return e as ManifestError;
  }
  throw new Error('expected parseManifest to throw');
}

const paths = (input: unknown) => errorOf(input).issues.map((i) => i.path);
const issueAt = (input: unknown, path: string) => {
  const found = errorOf(input).issues.find((i) => i.path === path);
  expect(found, `an issue at ${path}`).toBeDefined();
  return found!;
};

describe('parseManifest: valid manifests', () => {
  it('applies defaults to a minimal manifest', () => {
    expect(parseManifest({ name: 'hello-plugin', version: '1.2.3', airlock: { kind: 'tool' } })).toEqual<Manifest>({
      id: 'hello-plugin',
      name: 'hello-plugin',
      version: '1.2.3',
      description: undefined,
      kind: 'tool',
      component: 'dist/plugin.wasm',
      entry: 'src/index.ts',
      contract: undefined,
      capabilities: {},
      limits: {},
      configSchema: undefined,
      requires: {},
      requiredEnv: [],
    });
  });

  it('takes the id from the unscoped package name', () => {
    const m = parseManifest({ name: '@acme/weather-tools', version: '0.1.0', airlock: { kind: 'auth' } });
    expect(m.id).toBe('weather-tools');
    expect(m.name).toBe('@acme/weather-tools');
    expect(m.kind).toBe('auth');
  });

  it('uses an explicit id over the package name', () => {
    expect(parseManifest(pkg({ id: 'weather' }, { name: '@acme/weather-tools' })).id).toBe('weather');
  });

  it('accepts an explicit id when the package name is not a valid id', () => {
    expect(parseManifest(pkg({ id: 'my-plugin' }, { name: 'My_Plugin' })).id).toBe('my-plugin');
  });

  it('keeps every field it was given', () => {
    const fields = {
      kind: 'provider',
      component: 'out/p.wasm',
      entry: 'lib/main.ts',
      contract: '^0.1.0',
      capabilities: {
        storage: { quotaBytes: 4096 },
        http: ['https://api.example.com'],
        env: ['HOME'],
        filesystem: [{ path: '/data', access: 'read-write' }],
        credentials: ['github-auth'],
      },
      limits: { memoryMb: 64, timeoutMs: 2000 },
      configSchema: { type: 'object' },
      requires: { 'github-auth': '^1.0.0' },
    };
    expect(parseManifest(pkg(structuredClone(fields), { description: 'A plugin' }))).toMatchObject({ ...fields, description: 'A plugin' });
  });

  it.each(['tool', 'auth', 'provider'])('accepts kind %s', (kind) => {
    expect(parseManifest(pkg({ kind })).kind).toBe(kind);
  });
});

describe('parseManifest: errors', () => {
  it('throws a ManifestError with code MANIFEST_INVALID', () => {
    const e = errorOf(pkg({ kind: 'widget' }));
    expect(e.code).toBe('MANIFEST_INVALID');
    expect(AirlockError.isInstance(e)).toBe(true);
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]!.path).toBe('airlock.kind');
    expect(e.issues[0]!.message).toContain('"widget"');
  });

  it.each([null, 42, 'text', [1, 2]])('rejects a non-object package.json (%j) at (root)', (input) => {
    expect(paths(input)).toEqual(['(root)']);
  });

  it('reports a missing airlock field', () => {
    const e = errorOf({ name: 'x', version: '1.0.0' });
    expect(e.issues.map((i) => i.path)).toEqual(['airlock']);
    expect(e.issues[0]!.message).toMatch(/is missing/);
  });

  it('reports an airlock field that is not an object', () => {
    expect(issueAt({ name: 'x', version: '1.0.0', airlock: ['tool'] }, 'airlock').message).toMatch(/must be an object, found an array/);
  });

  it('reports a missing kind', () => {
    expect(issueAt({ name: 'x', version: '1.0.0', airlock: {} }, 'airlock.kind').message).toBe('is missing');
  });

  it('reports a missing name and an invalid version', () => {
    expect(paths({ version: 'one', airlock: { kind: 'tool' } })).toEqual(['name', 'version']);
    expect(issueAt(pkg({}, { version: 'one' }), 'version').message).toMatch(/semver/);
    expect(issueAt(pkg({}, { version: undefined }), 'version').message).toBe('is missing');
  });

  it('collects every problem, not just the first', () => {
    expect(paths({ name: 'x', version: 'bad', airlock: { kind: 'nope', limits: { timeoutMs: -1 } } })).toEqual([
      'version',
      'airlock.kind',
      'airlock.limits.timeoutMs',
    ]);
  });

  it('needs an id when the package name is not a valid id', () => {
    const issue = issueAt(pkg({}, { name: '@acme/My_Plugin' }), 'airlock.id');
    expect(issue.message).toContain('My_Plugin');
    expect(issue.hint).toBeDefined();
  });

  it.each(['Upper', '1abc', 'a'.repeat(65), 'has space', 5])('rejects the id %j', (id) => {
    expect(paths(pkg({ id }))).toEqual(['airlock.id']);
  });

  it.each(['../outside.wasm', 'dist/../../x.wasm', '..\\x.wasm', '/abs/plugin.wasm', 'C:/plugin.wasm', '', 7])(
    'rejects the component path %j',
    (component) => {
      expect(paths(pkg({ component }))).toEqual(['airlock.component']);
    },
  );

  it('explains that a path must stay inside the plugin directory', () => {
    const issue = issueAt(pkg({ component: '../x.wasm' }), 'airlock.component');
    expect(issue.message).toMatch(/inside the plugin directory/);
    expect(issue.hint).toMatch(/\.\./);
  });

  it('rejects an entry path that leaves the plugin directory', () => {
    expect(paths(pkg({ entry: 'src/../../index.ts' }))).toEqual(['airlock.entry']);
  });

  it('accepts a relative path that merely contains dots', () => {
    expect(parseManifest(pkg({ component: './out/my..plugin.wasm' })).component).toBe('./out/my..plugin.wasm');
  });

  it('rejects a contract that is not a semver range', () => {
    expect(paths(pkg({ contract: 'latest' }))).toEqual(['airlock.contract']);
    expect(paths(pkg({ contract: 1 }))).toEqual(['airlock.contract']);
  });

  it('rejects a configSchema that is not an object', () => {
    expect(paths(pkg({ configSchema: [] }))).toEqual(['airlock.configSchema']);
  });

  it.each([
    [{ timeoutMs: 0 }, 'airlock.limits.timeoutMs'],
    [{ timeoutMs: 1.5 }, 'airlock.limits.timeoutMs'],
    [{ timeoutMs: '100' }, 'airlock.limits.timeoutMs'],
    [{ memoryMb: -4 }, 'airlock.limits.memoryMb'],
    [{ cpu: 1 }, 'airlock.limits.cpu'],
    [[], 'airlock.limits'],
  ])('rejects limits %j at %s', (limits, path) => {
    expect(paths(pkg({ limits }))).toEqual([path]);
  });

  it('rejects capabilities that are not an object', () => {
    expect(paths(pkg({ capabilities: ['storage'] }))).toEqual(['airlock.capabilities']);
  });
});

describe('parseManifest: unknown keys', () => {
  it.each([
    ['capabilites', 'capabilities'],
    ['knd', 'kind'],
    ['Kind', 'kind'],
    ['limit', 'limits'],
    ['require', 'requires'],
  ])('suggests a known field for `%s`', (key, suggestion) => {
    const issue = issueAt(pkg({ [key]: {} }), `airlock.${key}`);
    expect(issue.message).toBe('is not a manifest field');
    expect(issue.hint).toBe(`Did you mean \`${suggestion}\`?`);
  });

  it('lists the known fields when nothing is close', () => {
    const issue = issueAt(pkg({ somethingElse: 1 }), 'airlock.somethingElse');
    expect(issue.hint).toMatch(/^Known fields: id, kind, component/);
  });

  it.each([
    ['htpp', 'http'],
    ['storag', 'storage'],
    ['envs', 'env'],
    ['filesytem', 'filesystem'],
    ['credential', 'credentials'],
  ])('suggests a known capability for `%s`', (key, suggestion) => {
    const issue = issueAt(pkg({ capabilities: { [key]: true } }), `airlock.capabilities.${key}`);
    expect(issue.hint).toBe(`Did you mean \`${suggestion}\`?`);
  });

  it('lists the known capabilities when nothing is close', () => {
    expect(issueAt(pkg({ capabilities: { gpu: true } }), 'airlock.capabilities.gpu').hint).toBe(
      'Known capabilities: storage, http, env, filesystem, credentials, events, interfaces, hooks.',
    );
  });
});

describe('parseManifest: http origins', () => {
  const http = (origins: unknown[]) => pkg({ capabilities: { http: origins } });

  it.each(['https://api.example.com', 'https://*.example.com', 'http://127.0.0.1:8080', 'http://localhost', 'https://[::1]:443', 'HTTPS://EXAMPLE.COM'])(
    'accepts %s',
    (origin) => {
      expect(parseManifest(http([origin])).capabilities.http).toEqual([origin]);
    },
  );

  it.each([
    'https://example.com/path',
    'https://example.com/',
    'ftp://x',
    'example.com',
    'https://',
    'https://user@example.com',
    'https://example.com:70000',
    'https://example.com:99999',
    'https://*example.com',
  ])('rejects %s', (origin) => {
    expect(paths(http(['https://ok.example.com', origin]))).toEqual(['airlock.capabilities.http[1]']);
  });

  it('accepts address ranges beside origins, and rejects malformed ones', () => {
    expect(parseManifest(http(['http://localhost:8080', '127.0.0.0/8', '::1/128'])).capabilities.http).toEqual(['http://localhost:8080', '127.0.0.0/8', '::1/128']);
    expect(paths(http(['10.0.0.0/33']))).toEqual(['airlock.capabilities.http[0]']);
  });

  it('says why a port is rejected', () => {
    expect(issueAt(http(['https://example.com:70000']), 'airlock.capabilities.http[0]').message).toBe(
      '"https://example.com:70000" has a port above 65535',
    );
    expect(checkOrigin('https://example.com:65535')).toBeUndefined();
    expect(checkOrigin('https://example.com:65536')).toBe('has a port above 65535');
  });

  it('accepts `{{ config.<key> }}` for a key the configSchema declares, and names an undeclared one', () => {
    const withSchema = (entries: string[]) => pkg({ capabilities: { http: entries }, configSchema: { properties: { baseUrl: { type: 'string' } } } });
    expect(parseManifest(withSchema(['{{ config.baseUrl }}'])).capabilities.http).toEqual(['{{ config.baseUrl }}']);
    const issue = issueAt(withSchema(['https://a.example.com', '{{ config.apiUrl }}']), 'airlock.capabilities.http[1]');
    expect(issue.message).toBe('names config key `apiUrl`, which airlock.configSchema.properties does not declare');
    expect(issue.hint).toContain('"apiUrl": { "type": "string", "format": "uri" }');
    expect(paths(http(['{{ config.baseUrl }}']))).toEqual(['airlock.capabilities.http[0]']);
    expect(paths(http(['{{ env.HOME }}']))).toEqual(['airlock.capabilities.http[0]']);
  });

  it('rejects items that are not strings and lists that are not arrays', () => {
    expect(paths(http(['https://a.example.com', 3]))).toEqual(['airlock.capabilities.http[1]']);
    expect(paths(pkg({ capabilities: { http: 'https://a.example.com' } }))).toEqual(['airlock.capabilities.http']);
  });
});

describe('parseManifest: events', () => {
  it('reads the topics a plugin publishes on and subscribes to, names and prefixes', () => {
    const m = parseManifest(pkg({ capabilities: { events: { publish: ['notes.saved', 'notes.v2.*'], subscribe: ['files.changed', 'airlock.*'] } } }));
    expect(m.capabilities.events).toEqual({ publish: ['notes.saved', 'notes.v2.*'], subscribe: ['files.changed', 'airlock.*'] });
  });

  it('says what is wrong with a topic, at its place, and keeps the host\'s airlock.* topics to the host', () => {
    const events = { publish: ['Notes', 'notes..saved', '*', 'airlock.plugin', 'ok.topic'], subscribe: ['notes.*.x', 7], when: [] };
    expect(paths(pkg({ capabilities: { events } }))).toEqual([
      'airlock.capabilities.events.when',
      'airlock.capabilities.events.publish[0]',
      'airlock.capabilities.events.publish[1]',
      'airlock.capabilities.events.publish[2]',
      'airlock.capabilities.events.publish[3]',
      'airlock.capabilities.events.subscribe[0]',
      'airlock.capabilities.events.subscribe[1]',
    ]);
    expect(issueAt(pkg({ capabilities: { events } }), 'airlock.capabilities.events.publish[3]').message).toContain('only the host publishes `airlock.*` topics');
    expect(issueAt(pkg({ capabilities: { events: ['a'] } }), 'airlock.capabilities.events').message).toContain('must be { "publish": [topics], "subscribe": [topics] }');
  });
});

describe('parseManifest: interfaces', () => {
  it('reads the integrator interfaces a plugin imports, and refuses versions, other shapes and the host\'s own packages', () => {
    expect(parseManifest(pkg({ capabilities: { interfaces: ['acme:kb/search'] } })).capabilities.interfaces).toEqual(['acme:kb/search']);
    const interfaces = ['acme:kb/search@1.0.0', 'kb', 'wasi:cli/environment', 'airlock:plugin/log'];
    expect(paths(pkg({ capabilities: { interfaces } }))).toEqual(interfaces.map((_, i) => `airlock.capabilities.interfaces[${i}]`));
    expect(issueAt(pkg({ capabilities: { interfaces } }), 'airlock.capabilities.interfaces[2]').message).toContain("is one of the host's own packages");
  });
});

describe('parseManifest: hooks', () => {
  it('reads the hook points of a hook plugin, once each', () => {
    const m = parseManifest(pkg({ kind: 'hook', capabilities: { hooks: ['before-tool-call', 'after-chat', 'before-tool-call'] } }));
    expect(m.capabilities.hooks).toEqual(['before-tool-call', 'after-chat']);
  });

  it('refuses an unknown point, naming the points there are', () => {
    const issue = issueAt(pkg({ kind: 'hook', capabilities: { hooks: ['before-tool-call', 'before-call'] } }), 'airlock.capabilities.hooks[1]');
    expect(issue.message).toBe('"before-call" is not a hook point; the points are before-tool-call, after-tool-call, before-chat, after-chat');
    expect(paths(pkg({ kind: 'hook', capabilities: { hooks: 'before-chat' } }))).toEqual(['airlock.capabilities.hooks']);
  });

  it('refuses hooks in a plugin of another kind', () => {
    const issue = issueAt(pkg({ kind: 'tool', capabilities: { hooks: ['before-tool-call'] } }), 'airlock.capabilities.hooks');
    expect(issue.message).toBe('is for hook plugins only, and this is a tool plugin');
    expect(issue.hint).toContain('"kind": "hook"');
    expect(errorOf(pkg({ kind: 'provider', capabilities: { hooks: ['before-chat'] } })).code).toBe('MANIFEST_INVALID');
  });
});

describe('parseManifest: env, credentials, filesystem, storage, requires', () => {
  it('accepts variable names and PREFIX_* patterns', () => {
    expect(parseManifest(pkg({ capabilities: { env: ['HOME', 'PREFIX_*', '_private', 'lower_case'] } })).capabilities.env).toEqual([
      'HOME',
      'PREFIX_*',
      '_private',
      'lower_case',
    ]);
  });

  it('reads required variables, with what they are for; the others stay optional', () => {
    const m = parseManifest(
      pkg({ capabilities: { env: ['HOME', { name: 'WEATHER_API_KEY', required: true, description: 'from weather.example/keys' }, { name: 'WEATHER_UNITS' }, { name: 'TZ', required: false }] } }),
    );
    expect(m.capabilities.env).toEqual(['HOME', 'WEATHER_API_KEY', 'WEATHER_UNITS', 'TZ']);
    expect(m.requiredEnv).toEqual([{ name: 'WEATHER_API_KEY', description: 'from weather.example/keys' }]);
  });

  it('says what is wrong with an env object, at its field', () => {
    const env = [{ name: 'A-B', required: true }, { required: true }, { name: 'P_*', required: true }, { name: 'OK', required: 'yes' }, { name: 'OK2', optional: true }, { name: 'OK3', description: 4 }];
    expect(paths(pkg({ capabilities: { env } }))).toEqual([
      'airlock.capabilities.env[0].name',
      'airlock.capabilities.env[1]',
      'airlock.capabilities.env[2].required',
      'airlock.capabilities.env[3].required',
      'airlock.capabilities.env[4].optional',
      'airlock.capabilities.env[5].description',
    ]);
  });

  it.each(['1BAD', 'A-B', 'A*B', '*', '', 'A**'])('rejects the env pattern %j', (name) => {
    expect(paths(pkg({ capabilities: { env: ['OK', name] } }))).toEqual(['airlock.capabilities.env[1]']);
  });

  it('accepts auth plugin ids as credentials and rejects anything else', () => {
    expect(parseManifest(pkg({ capabilities: { credentials: ['github-auth'] } })).capabilities.credentials).toEqual(['github-auth']);
    expect(paths(pkg({ capabilities: { credentials: ['GitHub'] } }))).toEqual(['airlock.capabilities.credentials[0]']);
  });

  it('reads credentials bound to origins the http capability covers', () => {
    const http = ['https://api.example.com', 'https://*.example.org', 'http://127.0.0.1:8080'];
    const credentials = ['gitlab-auth', { plugin: 'github-auth', inject: ['https://api.example.com', 'https://*.example.org', 'https://x.example.org', 'http://127.0.0.1:8080'] }];
    expect(parseManifest(pkg({ capabilities: { http, credentials } })).capabilities.credentials).toEqual(credentials);
  });

  it('says what is wrong with a bound credential, at its field', () => {
    const http = ['https://api.example.com', 'http://api.example.net'];
    const bad = (entry: unknown, path: string) => issueAt(pkg({ capabilities: { http, credentials: [entry] } }), `airlock.capabilities.credentials[0]${path}`);
    expect(bad({ plugin: 'gh', inject: ['https://other.example.com'] }, '.inject[0]').message).toContain('is not covered by "capabilities.http"');
    expect(bad({ plugin: 'gh', inject: ['https://other.example.com'] }, '.inject[0]').hint).toContain('Add "https://other.example.com" to "capabilities.http"');
    expect(bad({ plugin: 'gh', inject: ['http://api.example.net'] }, '.inject[0]').message).toContain('plain http: the host sends credentials only over https');
    expect(bad({ plugin: 'gh', inject: ['https://api.example.com/v1'] }, '.inject[0]').message).toContain('must be an origin');
    expect(bad({ plugin: 'gh', inject: [] }, '.inject').message).toContain('non-empty array of origins');
    expect(bad({ plugin: 'gh' }, '.inject').message).toContain('non-empty array of origins');
    expect(bad({ plugin: 'GH', inject: ['https://api.example.com'] }, '.plugin').message).toContain('must be the id of an auth plugin');
    expect(bad({ plugin: 'gh', inject: ['https://api.example.com'], scope: 'x' }, '.scope').message).toContain('is not a credentials option');
    expect(bad(4, '').message).toContain('must be an auth plugin id or { "plugin"');
    expect(paths(pkg({ capabilities: { http, credentials: ['gh', { plugin: 'gh', inject: ['https://api.example.com'] }] } }))).toEqual(['airlock.capabilities.credentials[1]']);
    expect(paths(pkg({ capabilities: { credentials: 'gh' } }))).toEqual(['airlock.capabilities.credentials']);
  });

  it('accepts filesystem access read-only and read-write, defaulting to read-only', () => {
    const m = parseManifest(
      pkg({
        capabilities: {
          filesystem: [{ path: '/a', access: 'read-only' }, { path: '/b', access: 'read-write' }, { path: '/c' }],
        },
      }),
    );
    expect(m.capabilities.filesystem).toEqual([
      { path: '/a', access: 'read-only' },
      { path: '/b', access: 'read-write' },
      { path: '/c', access: 'read-only' },
    ]);
  });

  it('refuses a grant of /scratch, which every plugin has already', () => {
    for (const path of ['/scratch', '/scratch/cache']) {
      const issue = issueAt(pkg({ capabilities: { filesystem: [{ path }] } }), 'airlock.capabilities.filesystem[0].path');
      expect(issue.message).toContain("is where the plugin's own scratch directory is (/scratch, always there, no grant needed)");
    }
    expect(parseManifest(pkg({ capabilities: { filesystem: [{ path: '/scratchpad' }] } })).capabilities.filesystem).toEqual([{ path: '/scratchpad', access: 'read-only' }]);
  });

  it('rejects an unknown filesystem access value', () => {
    const issue = issueAt(pkg({ capabilities: { filesystem: [{ path: '/a', access: 'write' }] } }), 'airlock.capabilities.filesystem[0].access');
    expect(issue.message).toContain('"write"');
  });

  it.each([[['/a']], [[{ access: 'read-only' }]], [[{ path: '' }]]])('rejects the filesystem entry %j', (filesystem) => {
    expect(paths(pkg({ capabilities: { filesystem } }))).toEqual(['airlock.capabilities.filesystem[0]']);
  });

  it('rejects a filesystem value that is not an array', () => {
    expect(paths(pkg({ capabilities: { filesystem: { path: '/a' } } }))).toEqual(['airlock.capabilities.filesystem']);
  });

  it('accepts storage: true, false and { quotaBytes }', () => {
    expect(parseManifest(pkg({ capabilities: { storage: true } })).capabilities.storage).toEqual({});
    expect(parseManifest(pkg({ capabilities: { storage: {} } })).capabilities.storage).toEqual({});
    expect(parseManifest(pkg({ capabilities: { storage: { quotaBytes: 1024 } } })).capabilities.storage).toEqual({ quotaBytes: 1024 });
    expect(parseManifest(pkg({ capabilities: { storage: false } })).capabilities).not.toHaveProperty('storage');
  });

  it.each([0, -1, 1.5, '1024', null])('rejects quotaBytes %j', (quotaBytes) => {
    expect(paths(pkg({ capabilities: { storage: { quotaBytes } } }))).toEqual(['airlock.capabilities.storage.quotaBytes']);
  });

  it('rejects unknown storage options and storage values of the wrong type', () => {
    const issue = issueAt(pkg({ capabilities: { storage: { quota: 5 } } }), 'airlock.capabilities.storage.quota');
    expect(issue.hint).toMatch(/quotaBytes/);
    expect(paths(pkg({ capabilities: { storage: 'yes' } }))).toEqual(['airlock.capabilities.storage']);
  });

  it('accepts requires with valid ids and ranges', () => {
    expect(parseManifest(pkg({ requires: { 'auth-device-flow': '^1.0.0', other: '>=2 <3' } })).requires).toEqual({
      'auth-device-flow': '^1.0.0',
      other: '>=2 <3',
    });
  });

  it('rejects invalid requires entries', () => {
    expect(paths(pkg({ requires: { Bad_Id: '^1.0.0' } }))).toEqual(['airlock.requires.Bad_Id']);
    expect(paths(pkg({ requires: { good: 'not a range' } }))).toEqual(['airlock.requires.good']);
    expect(paths(pkg({ requires: { good: 1 } }))).toEqual(['airlock.requires.good']);
    expect(paths(pkg({ requires: ['good'] }))).toEqual(['airlock.requires']);
  });
});

describe('parseManifest: hostile values', () => {
  it('names the field of a value whose own toString is not a function', () => {
    // fast-check found these: messages must never call a value's own methods.
    expect(paths({ name: 'p', version: { toString: false }, airlock: { kind: 'tool' } })).toEqual(['version']);
    expect(paths({ name: 'a', version: '1.0.0', airlock: { kind: { toString: 1 } } })).toEqual(['airlock.kind']);
  });

  it('accepts only a plain semver version, and no empty ranges', () => {
    expect(paths({ name: 'p', version: 'v1.0.0', airlock: { kind: 'tool' } })).toEqual(['version']);
    expect(paths(pkg({ contract: '' }))).toEqual(['airlock.contract']);
    expect(paths(pkg({ requires: { other: ' ' } }))).toEqual(['airlock.requires.other']);
  });
});

describe('parseManifest: totality (property-based)', () => {
  const json = fc.jsonValue();

  const ISSUE_PATH = /^(\(root\)$|name$|version$|airlock(\.|$))/;

  /** parseManifest returns a manifest or throws a ManifestError with located issues; nothing else. */
  function checkTotal(input: unknown): void {
    let result: Manifest;
    try {
      result = parseManifest(input);
    } catch (e) {
      if (!(e instanceof ManifestError)) throw new Error(`threw ${String(e)} for ${JSON.stringify(input)}`);
      expect(e.code).toBe('MANIFEST_INVALID');
      expect(e.issues.length).toBeGreaterThan(0);
      for (const issue of e.issues) {
        expect(issue.path).toMatch(ISSUE_PATH);
        expect(typeof issue.message).toBe('string');
      }
      return;
    }
    expect(typeof result.id).toBe('string');
    expect(['tool', 'auth', 'provider']).toContain(result.kind);
  }

  it('never throws anything but a ManifestError for arbitrary JSON', () => {
    fc.assert(fc.property(json, checkTotal), { numRuns: 500 });
  });

  it('never throws anything but a ManifestError for an arbitrary airlock field', () => {
    fc.assert(
      fc.property(json, (airlock) => checkTotal({ name: 'p', version: '1.0.0', airlock })),
      { numRuns: 500 },
    );
  });

  it('never throws anything but a ManifestError when known fields hold arbitrary values', () => {
    const field = fc.oneof(json, fc.constantFrom('tool', 'https://a.example.com', 'NAME_*', '^0.1.0', true));
    const capabilities = fc.record(
      { storage: field, http: fc.array(field), env: fc.array(field), filesystem: fc.array(field), credentials: fc.array(field) },
      { requiredKeys: [] },
    );
    const airlock = fc.record(
      {
        id: field,
        kind: field,
        component: field,
        entry: field,
        contract: field,
        capabilities: fc.oneof(capabilities, field),
        limits: fc.oneof(fc.record({ memoryMb: field, timeoutMs: field }, { requiredKeys: [] }), field),
        configSchema: field,
        requires: fc.oneof(fc.dictionary(fc.string(), field), field),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(airlock, fc.oneof(fc.constant('1.0.0'), field), (a, version) => checkTotal({ name: 'p', version, airlock: a })),
      { numRuns: 1000 },
    );
  });
});

describe('readManifest', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('reads and validates <dir>/package.json', async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-manifest-'));
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg({ id: 'from-disk' })));
    expect((await readManifest(dir)).id).toBe('from-disk');
  });

  it('throws PLUGIN_NOT_FOUND for a directory without package.json', async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-manifest-'));
    const missing = join(dir, 'nope');
    const err = await readManifest(missing).catch((e: unknown) => e);
    expect(AirlockError.isInstance(err)).toBe(true);
    expect(err).toMatchObject({ code: 'PLUGIN_NOT_FOUND' });
    expect((err as AirlockError).message).toContain(missing);
    expect(err).not.toBeInstanceOf(ManifestError);
  });

  it('throws MANIFEST_INVALID for malformed JSON, naming the file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-manifest-'));
    await writeFile(join(dir, 'package.json'), '{ "name": "x", ');
    const err = await readManifest(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).code).toBe('MANIFEST_INVALID');
    expect((err as ManifestError).file).toBe(join(dir, 'package.json'));
    expect((err as ManifestError).issues[0]).toMatchObject({ path: '(root)', message: expect.stringMatching(/^is not valid JSON/) });
  });

  it('names the file in the message of a manifest problem', async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-manifest-'));
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg({ kind: 'widget' })));
    await expect(readManifest(dir)).rejects.toThrow(`${join(dir, 'package.json')}: airlock.kind:`);
  });
});
