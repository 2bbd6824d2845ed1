import { describe, expect, it } from 'vitest';
import { addToGrant, capabilityDiff, capabilityItems, diffItems, effectiveCapabilities, expandConfigTemplates, grantItemAsAsked, parseGrantItem, removeFromGrant } from '../../src/capabilities/grant.js';
import { envCovers, grantedEnv } from '../../src/capabilities/env.js';
import { originCovers } from '../../src/capabilities/http.js';
import { AirlockError } from '../../src/errors.js';
import { parseManifest, type Capabilities, type Manifest } from '../../src/manifest.js';

const manifest = (capabilities: Record<string, unknown>): Manifest =>
  parseManifest({ name: 'asker', version: '1.0.0', airlock: { kind: 'tool', capabilities } });

const everything = {
  storage: { quotaBytes: 2048 },
  http: ['https://api.example.com', 'https://*.cdn.example.com'],
  env: ['HOME', 'APP_*'],
  filesystem: [
    { path: '/data', access: 'read-write' },
    { path: '/docs', access: 'read-only' },
  ],
  credentials: ['github-auth'],
  events: { publish: ['notes.saved'], subscribe: ['files.*'] },
};

function refusal(m: Manifest, grant: Capabilities): AirlockError {
  try {
    effectiveCapabilities(m, grant);
  } catch (e) {
    expect(AirlockError.isInstance(e)).toBe(true);
    expect((e as AirlockError).code).toBe('CAPABILITY_NOT_GRANTED');
    expect((e as AirlockError).plugin).toBe('asker');
    return e as AirlockError;
  }
  throw new Error('expected effectiveCapabilities to throw');
}

describe('effectiveCapabilities', () => {
  it("grants everything the manifest asks for with 'manifest'", () => {
    const m = manifest(everything);
    expect(effectiveCapabilities(m, 'manifest')).toEqual(everything);
  });

  it('grants nothing-asked with an empty grant', () => {
    expect(effectiveCapabilities(manifest({}), {})).toEqual({});
  });

  it('returns what was asked when the grant covers it exactly', () => {
    const m = manifest(everything);
    expect(effectiveCapabilities(m, structuredClone(everything) as Capabilities)).toEqual(everything);
  });

  it.each([
    ['storage', { storage: true }, 'storage'],
    ['an http origin', { http: ['https://api.example.com'] }, 'http https://api.example.com'],
    ['an env variable', { env: ['HOME'] }, 'env HOME'],
    ['an env prefix', { env: ['APP_*'] }, 'env APP_*'],
    ['a directory', { filesystem: [{ path: '/data', access: 'read-only' }] }, 'filesystem /data (read-only)'],
    ['credentials', { credentials: ['github-auth'] }, 'credentials github-auth'],
  ])('refuses %s that was not granted, naming it', (_, caps, item) => {
    const e = refusal(manifest(caps), {});
    expect(e.message).toContain(item);
    expect(e.message).toMatch(/was not granted$/);
  });

  it('names every missing item at once', () => {
    const e = refusal(manifest(everything), { http: ['https://api.example.com'] });
    expect(e.message).toContain('storage');
    expect(e.message).toContain('http https://*.cdn.example.com');
    expect(e.message).not.toContain('http https://api.example.com');
    expect(e.message).toContain('env HOME');
    expect(e.message).toContain('credentials github-auth');
    expect(e.message).toMatch(/were not granted$/);
    expect(e.hint).toContain('storage');
  });

  it('refuses a grant for other items than the ones asked', () => {
    const e = refusal(manifest({ http: ['https://api.example.com'], credentials: ['github-auth'] }), {
      http: ['https://other.example.com'],
      credentials: ['gitlab-auth'],
    });
    expect(e.message).toContain('http https://api.example.com');
    expect(e.message).toContain('credentials github-auth');
  });

  it('refuses a read-write request against a read-only grant', () => {
    const e = refusal(manifest({ filesystem: [{ path: '/data', access: 'read-write' }] }), {
      filesystem: [{ path: '/data', access: 'read-only' }],
    });
    expect(e.message).toContain('filesystem /data (read-write)');
  });

  it('refuses a directory granted under another path', () => {
    refusal(manifest({ filesystem: [{ path: '/data', access: 'read-only' }] }), { filesystem: [{ path: '/data/sub', access: 'read-write' }] });
  });

  it('covers a read-only request with a read-write grant', () => {
    const m = manifest({ filesystem: [{ path: '/data', access: 'read-only' }] });
    expect(effectiveCapabilities(m, { filesystem: [{ path: '/data', access: 'read-write' }] }).filesystem).toEqual([
      { path: '/data', access: 'read-only' },
    ]);
  });

  it('takes the smaller of the manifest and grant quotas', () => {
    const m = manifest({ storage: { quotaBytes: 2048 } });
    expect(effectiveCapabilities(m, { storage: { quotaBytes: 1024 } }).storage).toEqual({ quotaBytes: 1024 });
    expect(effectiveCapabilities(m, { storage: { quotaBytes: 4096 } }).storage).toEqual({ quotaBytes: 2048 });
    expect(effectiveCapabilities(m, { storage: {} }).storage).toEqual({ quotaBytes: 2048 });
    expect(effectiveCapabilities(manifest({ storage: true }), { storage: { quotaBytes: 512 } }).storage).toEqual({ quotaBytes: 512 });
    expect(effectiveCapabilities(manifest({ storage: true }), { storage: {} }).storage).toEqual({});
  });

  it('grants no more than the manifest asks for', () => {
    const m = manifest({ http: ['https://api.example.com'] });
    const caps = effectiveCapabilities(m, everything as Capabilities);
    expect(caps).toEqual({ http: ['https://api.example.com'] });
  });

  it('does not change the manifest when clamping the quota', () => {
    const m = manifest({ storage: { quotaBytes: 2048 } });
    effectiveCapabilities(m, { storage: { quotaBytes: 1 } });
    expect(m.capabilities.storage).toEqual({ quotaBytes: 2048 });
  });
});

describe('grantedEnv', () => {
  const source = { HOME: '/home/u', APP_TOKEN: 't', APP_URL: 'u', APPLE: 'no', PATH: '/bin', UNSET: undefined };

  it('passes nothing without patterns', () => {
    expect(grantedEnv(undefined, source)).toEqual({});
    expect(grantedEnv([], source)).toEqual({});
  });

  it('passes exact names only', () => {
    expect(grantedEnv(['HOME', 'MISSING'], source)).toEqual({ HOME: '/home/u' });
    expect(grantedEnv(['HOM'], source)).toEqual({});
  });

  it('passes every variable with a granted PREFIX_*', () => {
    expect(grantedEnv(['APP_*'], source)).toEqual({ APP_TOKEN: 't', APP_URL: 'u' });
  });

  it('combines names and prefixes and skips undefined values', () => {
    expect(grantedEnv(['PATH', 'APP_*', 'UNSET'], source)).toEqual({ PATH: '/bin', APP_TOKEN: 't', APP_URL: 'u' });
  });
});

describe('grant patterns cover narrower requests', () => {
  it('a granted prefix covers a variable and a narrower prefix under it', () => {
    expect(envCovers('APP_*', 'APP_TOKEN')).toBe(true);
    expect(envCovers('APP_*', 'APP_DB_*')).toBe(true);
    expect(envCovers('APP_*', 'APPLE')).toBe(false);
    expect(envCovers('APP_TOKEN', 'APP_*')).toBe(false);
    expect(effectiveCapabilities(manifest({ env: ['APP_TOKEN'] }), { env: ['APP_*'] })).toMatchObject({ env: ['APP_TOKEN'] });
  });

  it('a granted wildcard origin covers its subdomains with the same scheme and port only', () => {
    expect(originCovers('https://*.example.com', 'https://api.example.com')).toBe(true);
    expect(originCovers('https://*.example.com', 'https://*.eu.example.com')).toBe(true);
    expect(originCovers('https://*.example.com', 'https://example.com')).toBe(false);
    expect(originCovers('https://*.example.com', 'https://evilexample.com')).toBe(false);
    expect(originCovers('https://*.example.com', 'https://example.com.evil.io')).toBe(false);
    expect(originCovers('https://*.example.com', 'http://api.example.com')).toBe(false);
    expect(originCovers('https://*.example.com', 'https://api.example.com:8443')).toBe(false);
    expect(originCovers('https://api.example.com', 'https://*.example.com')).toBe(false);
    expect(refusal(manifest({ http: ['https://example.com'] }), { http: ['https://*.example.com'] }).message).toContain('http https://example.com');
  });
});

describe('expandConfigTemplates', () => {
  const templated = () =>
    parseManifest({
      name: 'asker',
      version: '1.0.0',
      airlock: {
        kind: 'auth',
        capabilities: { http: ['{{ config.tokenUrl }}', '{{config.deviceUrl}}', '{{ config.revokeUrl }}', 'https://fixed.example.com'] },
        configSchema: { properties: { tokenUrl: { type: 'string' }, deviceUrl: { type: 'string' }, revokeUrl: { type: 'string' } } },
      },
    });

  it('replaces each template with the origin of the configured URL, once', () => {
    const m = expandConfigTemplates(templated(), { tokenUrl: 'http://127.0.0.1:8123/oauth/token', deviceUrl: 'http://127.0.0.1:8123/oauth/device' });
    expect(m.capabilities.http).toEqual(['http://127.0.0.1:8123', 'https://fixed.example.com']);
  });

  it('uses the schema defaults for keys not configured, as the plugin will run with them', () => {
    const m = parseManifest({
      name: 'backend',
      version: '1.0.0',
      airlock: {
        kind: 'provider',
        capabilities: { http: ['{{ config.baseUrl }}'] },
        configSchema: { properties: { baseUrl: { type: 'string', default: 'https://api.example.com/v1' } } },
      },
    });
    expect(expandConfigTemplates(m, {}).capabilities.http).toEqual(['https://api.example.com']);
    expect(expandConfigTemplates(m, { baseUrl: 'http://127.0.0.1:9000/v1' }).capabilities.http).toEqual(['http://127.0.0.1:9000']);
  });

  it('leaves the manifest it was given unchanged', () => {
    const m = templated();
    expandConfigTemplates(m, { tokenUrl: 'https://login.example.com/token' });
    expect(m.capabilities.http?.[0]).toBe('{{ config.tokenUrl }}');
  });

  it('checks the grant against the expanded origins', () => {
    const m = expandConfigTemplates(templated(), { tokenUrl: 'https://login.example.com/token' });
    expect(effectiveCapabilities(m, { http: ['https://login.example.com', 'https://fixed.example.com'] }).http).toEqual(['https://login.example.com', 'https://fixed.example.com']);
    expect(refusal(m, { http: ['https://fixed.example.com'] }).message).toContain('http https://login.example.com');
  });

  it.each([['not a url'], [42], ['file:///etc/passwd'], ['ftp://example.com']])('refuses %j as a URL with CONFIG_INVALID naming the key', (value) => {
    let error: unknown;
    try {
      expandConfigTemplates(templated(), { tokenUrl: value });
    } catch (e) {
      error = e;
    }
    expect((error as AirlockError).code).toBe('CONFIG_INVALID');
    expect((error as AirlockError).message).toContain('`tokenUrl` must be an http(s) URL');
  });
});

describe('grant items: one wording and one rule per capability', () => {
  it('shows every item of a grant in order, marking the risky ones', () => {
    const items = capabilityItems({
      storage: { quotaBytes: 1024 * 1024 },
      http: ['https://api.example.com'],
      env: ['APP_*'],
      filesystem: [
        { path: '~/notes', access: 'read-only' },
        { path: '/tmp/out', access: 'read-write' },
      ],
      credentials: ['github-auth'],
    });
    expect(items).toEqual([
      { capability: 'storage', value: 'private key-value store, quota 1 MiB', risky: false },
      { capability: 'http', value: 'https://api.example.com', risky: true },
      { capability: 'env', value: 'APP_*', risky: true },
      { capability: 'filesystem', value: '~/notes (read-only)', risky: false },
      { capability: 'filesystem', value: '/tmp/out (read-write)', risky: true },
      { capability: 'credentials', value: 'sign-in of github-auth', risky: true },
    ]);
  });

  it('reads grant items as written, and says what is wrong with a bad one and how to write it', () => {
    expect(parseGrantItem('http', 'https://api.example.com/v1/chat')).toEqual({ capability: 'http', origin: 'https://api.example.com' });
    expect(parseGrantItem('http', 'https://*.Example.com')).toEqual({ capability: 'http', origin: 'https://*.example.com' });
    expect(parseGrantItem('http', '10.0.0.0/8')).toEqual({ capability: 'http', origin: '10.0.0.0/8' });
    expect(parseGrantItem('storage', '1MiB')).toEqual({ capability: 'storage', quotaBytes: 1024 * 1024 });
    expect(parseGrantItem('storage', '1MiB', { revoke: true })).toEqual({ capability: 'storage' });
    expect(parseGrantItem('filesystem', '~/notes:read-write')).toEqual({ capability: 'filesystem', path: '~/notes', access: 'read-write' });
    expect(parseGrantItem('env', 'APP_*')).toEqual({ capability: 'env', name: 'APP_*' });
    for (const [capability, value, message] of [
      ['network', 'x', 'unknown capability `network`'],
      ['http', 'ftp://example.com', '`ftp://example.com` is not an origin; expected http <origin>'],
      ['http', '10.0.0.0/99', '`10.0.0.0/99` is not an origin'],
      ['http', undefined, '`http` needs a value'],
      ['storage', 'lots', '`lots` is not a quota; expected storage [quota'],
      ['filesystem', 'notes', '`notes`: the path must be an absolute path or start with `~/`'],
      ['filesystem', '/a/../etc', 'must not contain `..`'],
      ['env', 'A-B', '`A-B` is not an environment variable name'],
      ['credentials', 'Not_An_Id', '`Not_An_Id` is not a plugin id'],
    ] as const) {
      let error: unknown;
      try {
        parseGrantItem(capability, value);
      } catch (e) {
        error = e;
      }
      expect(error, `${capability} ${value}`).toBeInstanceOf(AirlockError);
      expect((error as AirlockError).code).toBe('GRANT_ITEM_INVALID');
      expect((error as AirlockError).message).toContain(message);
      expect((error as AirlockError).hint).toBeTruthy();
    }
  });

  it('adds and removes items, and a grant item added is exactly what the diff no longer asks for', () => {
    const asked: Capabilities = { storage: {}, http: ['https://api.example.com'], filesystem: [{ path: '~/notes', access: 'read-write' }], credentials: ['gh'] };
    let grant: Capabilities = {};
    expect(diffItems(capabilityDiff(asked, grant))).toEqual(['storage', 'http https://api.example.com', 'filesystem ~/notes (read-write)', 'credentials gh']);
    for (const [capability, value] of [['storage', undefined], ['http', 'https://api.example.com'], ['filesystem', '~/notes:read-write'], ['credentials', 'gh']] as const) {
      const next = addToGrant(grant, parseGrantItem(capability, value));
      expect(next.changed).toBe(true);
      expect(addToGrant(next.grant, parseGrantItem(capability, value)).changed).toBe(false);
      grant = next.grant;
    }
    expect(diffItems(capabilityDiff(asked, grant))).toEqual([]);
    // `path:read-write` takes write access back; the bare path takes the directory.
    const readOnly = removeFromGrant(grant, parseGrantItem('filesystem', '~/notes:read-write'), true);
    expect(readOnly.grant.filesystem).toEqual([{ path: '~/notes', access: 'read-only' }]);
    expect(diffItems(capabilityDiff(asked, readOnly.grant))).toEqual(['filesystem ~/notes (read-write)']);
    const none = removeFromGrant(readOnly.grant, parseGrantItem('filesystem', '~/notes'));
    expect(none.grant).not.toHaveProperty('filesystem');
    expect(removeFromGrant(none.grant, parseGrantItem('env', 'NOPE')).changed).toBe(false);
    expect(removeFromGrant(none.grant, parseGrantItem('storage', undefined, { revoke: true })).grant).not.toHaveProperty('storage');
  });
});

describe('credentials bound to origins', () => {
  const http = ['https://api.example.com', 'https://*.example.org'];
  const bound = { plugin: 'gh', inject: ['https://api.example.com', 'https://*.example.org'] };
  const asks = manifest({ http, credentials: [bound] });

  it('are shown as injected, and as less risky than a token handed over', () => {
    expect(capabilityItems({ credentials: ['gl', bound] }).filter((i) => i.capability === 'credentials')).toEqual([
      { capability: 'credentials', value: 'sign-in of gl', risky: true },
      { capability: 'credentials', value: 'sign-in of gh, added by the host to requests to https://api.example.com, https://*.example.org (the plugin never sees the token)', risky: false },
    ]);
    expect(diffItems(capabilityDiff(asks.capabilities, { http }))).toEqual(['credentials gh (injected for https://api.example.com, https://*.example.org)']);
  });

  it('keep their binding when granted: the effective capability is the binding the manifest asks for', () => {
    expect(effectiveCapabilities(asks, { http, credentials: [bound] }).credentials).toEqual([bound]);
    // A stored plain id (a grant from before bindings, or a wider one) covers a binding, and the plugin still gets only the binding.
    expect(effectiveCapabilities(asks, { http, credentials: ['gh'] }).credentials).toEqual([bound]);
    // A binding to a wider pattern covers one within it.
    const narrow = manifest({ http, credentials: [{ plugin: 'gh', inject: ['https://docs.example.org'] }] });
    expect(effectiveCapabilities(narrow, { http, credentials: [{ plugin: 'gh', inject: ['https://*.example.org'] }] }).credentials).toEqual([{ plugin: 'gh', inject: ['https://docs.example.org'] }]);
  });

  it('do not cover the token itself, nor origins beyond the binding', () => {
    expect(refusal(manifest({ credentials: ['gh'] }), { credentials: [bound] }).message).toBe('plugin `asker` asks for credentials gh, which was not granted');
    const wider = manifest({ http: [...http, 'https://b.example.net'], credentials: [{ plugin: 'gh', inject: ['https://api.example.com', 'https://b.example.net'] }] });
    expect(refusal(wider, { http: wider.capabilities.http, credentials: [{ plugin: 'gh', inject: ['https://api.example.com'] }] }).message).toContain(
      'credentials gh (injected for https://api.example.com, https://b.example.net)',
    );
  });

  it('are granted as the manifest binds them when the grant names only the id, and replaced, never duplicated', () => {
    const item = grantItemAsAsked(parseGrantItem('credentials', 'gh'), asks.capabilities);
    expect(item).toEqual({ capability: 'credentials', id: 'gh', inject: bound.inject });
    expect(grantItemAsAsked(parseGrantItem('credentials', 'other'), asks.capabilities)).toEqual({ capability: 'credentials', id: 'other' });
    expect(grantItemAsAsked(parseGrantItem('http', 'https://api.example.com'), asks.capabilities)).toEqual({ capability: 'http', origin: 'https://api.example.com' });
    const granted = addToGrant({ http, credentials: ['gl', 'gh'] }, item);
    expect(granted).toEqual({ changed: true, grant: { http, credentials: ['gl', bound] } });
    expect(addToGrant(granted.grant, item).changed).toBe(false);
    expect(diffItems(capabilityDiff(asks.capabilities, granted.grant))).toEqual([]);
    expect(removeFromGrant(granted.grant, parseGrantItem('credentials', 'gh', { revoke: true })).grant).toEqual({ http, credentials: ['gl'] });
    // Stored grants are JSON: a binding survives the round trip, a plain id stays a plain id.
    expect(JSON.parse(JSON.stringify(granted.grant))).toEqual(granted.grant);
  });
});

describe('events grants', () => {
  it('cover the topics a prefix names, and say what is missing in the words of the grant command', () => {
    const m = manifest({ events: { publish: ['notes.saved', 'notes.deleted'], subscribe: ['files.changed'] } });
    expect(effectiveCapabilities(m, { events: { publish: ['notes.*'], subscribe: ['files.*'] } }).events).toEqual({ publish: ['notes.saved', 'notes.deleted'], subscribe: ['files.changed'] });
    const e = refusal(m, { events: { publish: ['notes.saved'] } });
    expect(e.message).toBe('plugin `asker` asks for events publish:notes.deleted, events subscribe:files.changed, which were not granted');
    expect(capabilityDiff(m.capabilities, { events: { subscribe: ['files.changed'] } }).events).toEqual({ publish: ['notes.saved', 'notes.deleted'] });
    // `notes.*` does not cover `notes` itself, nor `notesx.y`.
    expect(diffItems(capabilityDiff(manifest({ events: { publish: ['notes', 'notesx.y'] } }).capabilities, { events: { publish: ['notes.*'] } }))).toEqual(['events publish:notes', 'events publish:notesx.y']);
  });

  it('are added and taken back one topic at a time, and shown for consent', () => {
    const item = parseGrantItem('events', 'subscribe:files.*');
    expect(item).toEqual({ capability: 'events', direction: 'subscribe', topic: 'files.*' });
    const { grant } = addToGrant({}, item);
    expect(grant).toEqual({ events: { subscribe: ['files.*'] } });
    expect(addToGrant(grant, item).changed).toBe(false);
    expect(removeFromGrant(grant, item).grant).toEqual({});
    expect(capabilityItems({ events: { publish: ['notes.saved'], subscribe: ['files.*'] } })).toEqual([
      { capability: 'events', value: 'publish on notes.saved', risky: false },
      { capability: 'events', value: 'receive files.*', risky: false },
    ]);
    expect(() => parseGrantItem('events', 'notes.saved')).toThrow('does not say publish:<topic> or subscribe:<topic>');
    expect(() => parseGrantItem('events', 'publish:Bad Topic')).toThrow('must be a topic');
  });
});

describe('interfaces grants', () => {
  it('name each interface, say what is missing, and are worded as the host\'s', () => {
    const m = manifest({ interfaces: ['acme:kb/search', 'acme:ui/palette'] });
    expect(refusal(m, { interfaces: ['acme:kb/search'] }).message).toBe('plugin `asker` asks for interfaces acme:ui/palette, which was not granted');
    expect(parseGrantItem('interfaces', 'acme:ui/palette')).toEqual({ capability: 'interfaces', id: 'acme:ui/palette' });
    expect(() => parseGrantItem('interfaces', 'wasi:cli/environment')).toThrow('is not an interface id');
    expect(capabilityItems({ interfaces: ['acme:kb/search'] })).toEqual([{ capability: 'interfaces', value: "use the host's acme:kb/search", risky: true }]);
  });
});

describe('hooks grants', () => {
  const hooked = (hooks: string[]): Manifest => parseManifest({ name: 'policy', version: '1.0.0', airlock: { kind: 'hook', capabilities: { hooks } } });

  it('name each point, say the exact grant command, and are shown as risky', () => {
    const m = hooked(['before-tool-call', 'after-chat']);
    let error: AirlockError | undefined;
    try {
      effectiveCapabilities(m, { hooks: ['before-tool-call'] });
    } catch (e) {
      error = e as AirlockError;
    }
    expect(error?.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(error?.message).toBe('plugin `policy` asks for hooks after-chat, which was not granted');
    expect(error?.hint).toContain('`airlock grant policy hooks after-chat`');
    expect(effectiveCapabilities(m, { hooks: ['after-chat', 'before-tool-call'] }).hooks).toEqual(['before-tool-call', 'after-chat']);
    expect(capabilityDiff(m.capabilities, { hooks: ['after-chat'] }).hooks).toEqual(['before-tool-call']);
    const items = capabilityItems({ hooks: ['before-tool-call'] });
    expect(items).toEqual([{ capability: 'hooks', value: expect.stringContaining('before-tool-call: see and change the arguments of every tool call'), risky: true }]);
  });

  it('are granted and revoked one point at a time', () => {
    expect(parseGrantItem('hooks', 'before-chat')).toEqual({ capability: 'hooks', point: 'before-chat' });
    expect(() => parseGrantItem('hooks', 'before-call')).toThrow('`before-call` is not a hook point; expected hooks <point> (one of before-tool-call, after-tool-call, before-chat, after-chat)');
    expect(() => parseGrantItem('hooks', undefined)).toThrow('`hooks` needs a value');
    const added = addToGrant({ hooks: ['before-chat'] }, { capability: 'hooks', point: 'after-chat' });
    expect(added).toEqual({ grant: { hooks: ['before-chat', 'after-chat'] }, changed: true });
    expect(addToGrant(added.grant, { capability: 'hooks', point: 'after-chat' }).changed).toBe(false);
    expect(removeFromGrant(added.grant, { capability: 'hooks', point: 'before-chat' }).grant).toEqual({ hooks: ['after-chat'] });
    expect(removeFromGrant({ hooks: ['after-chat'] }, { capability: 'hooks', point: 'after-chat' }).grant).toEqual({});
  });
});
