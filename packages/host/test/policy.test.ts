import { homedir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseManifest, type Capabilities } from '../src/manifest.js';
import { policyRefusal, understatedRisk, type HostPolicy } from '../src/policy.js';

const manifest = parseManifest({ name: 'asker', version: '1.0.0', airlock: { kind: 'tool' } });
const HOST_HOME = '/srv/airlock-home';
const refusal = (capabilities: Capabilities, policy: HostPolicy = {}) => policyRefusal(manifest, capabilities, policy, HOST_HOME);

describe('policyRefusal', () => {
  it.each([
    ['https://*.com', 'reaches every site under `.com`, a public suffix'],
    ['https://*.co.uk', 'reaches every site under `.co.uk`, a public suffix'],
    ['https://*.github.io', 'reaches every site under `.github.io`, a public suffix'],
    ['0.0.0.0/0', 'is every address'],
    ['::/0', 'is every address'],
  ])('refuses the http entry %s', (entry, why) => {
    expect(refusal({ http: ['https://api.example.com', entry] })).toBe(`http entry \`${entry}\` ${why}`);
  });

  it.each(['https://api.example.com', 'https://*.example.com', 'https://*.example.co.uk', '10.0.0.0/8', 'http://127.0.0.1:8080'])('lets the http entry %s through', (entry) => {
    expect(refusal({ http: [entry] })).toBeUndefined();
  });

  it('refuses roots, the home directory, where secrets live and the host home, but not a directory below a root', () => {
    for (const path of ['/', '~', homedir(), '/etc', '/usr/', '~/.ssh', '~/.ssh/keys', `${homedir()}/.aws/sso`, HOST_HOME, `${HOST_HOME}/plugins`]) {
      expect(refusal({ filesystem: [{ path, access: 'read-only' }] }), path).toMatch(/^filesystem entry `.+` is protected by the host's policy/);
    }
    expect(refusal({ filesystem: [{ path: HOST_HOME, access: 'read-only' }] })).toContain("(the host's own home)");
    for (const path of ['/etc/ssl/certs', '~/notes', '/var/cache/weather', '/tmp']) expect(refusal({ filesystem: [{ path, access: 'read-write' }] }), path).toBeUndefined();
  });

  it('is configurable: broad http allowed, other paths protected', () => {
    expect(refusal({ http: ['https://*.com'] }, { refuseBroadHttp: false })).toBeUndefined();
    expect(refusal({ filesystem: [{ path: '/', access: 'read-only' }] }, { protectedPaths: ['/data/**'] })).toBeUndefined();
    expect(refusal({ filesystem: [{ path: '/data/x', access: 'read-only' }] }, { protectedPaths: ['/data/**'] })).toContain('`/data/**`');
    // The host's own home stays protected whatever the list.
    expect(refusal({ filesystem: [{ path: HOST_HOME, access: 'read-only' }] }, { protectedPaths: [] })).toContain("the host's own home");
  });
});

describe('understatedRisk', () => {
  it('flags a tool plugin whose tools all say read-only while its grant can change things', () => {
    expect(understatedRisk(manifest, { http: ['https://api.example.com'], storage: {} }, ['read-only', 'read-only'])).toBe(
      'every tool of `asker` says it is read-only, but the plugin holds network access, storage, which can change things',
    );
    expect(understatedRisk(manifest, { filesystem: [{ path: '/tmp/x', access: 'read-write' }] }, ['read-only'])).toContain('read-write /tmp/x');
  });

  it('leaves alone a plugin that says it writes, or that can only read', () => {
    expect(understatedRisk(manifest, { http: ['https://api.example.com'] }, ['read-only', 'write'])).toBeUndefined();
    expect(understatedRisk(manifest, { filesystem: [{ path: '/tmp/x', access: 'read-only' }], env: ['HOME'] }, ['read-only'])).toBeUndefined();
  });
});
