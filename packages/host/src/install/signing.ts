/**
 * Ed25519 signatures over a plugin package. A signature covers the package's
 * manifest (`name`, `version` and the whole `airlock` field, so the
 * capabilities a plugin asks for cannot change without breaking it) and the
 * sha256 of its component. It lives beside package.json in `airlock.sig.json`.
 *
 * Verification is total: whatever is in the signature file, `verifyPackage`
 * answers with a status, and only `enforcePolicy` turns a status into an error.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { lstat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError, ManifestError } from '../errors.js';
import { parseManifest } from '../manifest.js';
import { sha256OfFile } from '../component.js';

/** The file, beside package.json, that holds a package's signature. */
export const SIGNATURE_FILE = 'airlock.sig.json';

/** What is signed: the plugin's identity and the hashes of its manifest and component. */
export interface SignedPayload {
  /** Payload format version. */
  v: 1;
  /** Plugin id (`airlock.id`, or the package name without its scope). */
  id: string;
  /** Package version. */
  version: string;
  /** `manifestDigest(package.json)`. */
  manifestSha256: string;
  /** sha256 of the component file, hex. */
  componentSha256: string;
}

/** The content of `airlock.sig.json`. */
export interface Signature {
  version: 1;
  algorithm: 'ed25519';
  /** First 16 hex digits of the sha256 of the public key (SPKI DER). */
  keyId: string;
  /** The signer's public key, PEM (SPKI). */
  publicKey: string;
  signed: SignedPayload;
  /** Ed25519 signature of the canonical JSON of `signed`, base64. */
  signature: string;
}

/** What `verifyPackage` found. */
export type Verification =
  /** A valid signature by a trusted key, over the package as it is now. */
  | { status: 'signed'; keyId: string }
  /** No signature file. */
  | { status: 'unsigned' }
  /** A valid signature over the package as it is now, by a key that is not trusted. */
  | { status: 'untrusted'; keyId: string }
  /** A signature file that is malformed or does not verify, or a package that changed after signing. */
  | { status: 'invalid'; reason: string };

/** Whether unsigned and untrusted packages are refused (otherwise they only warn). */
export interface SignaturePolicy {
  requireSigned: boolean;
}

/** Largest signature file read; a real one is under 1 KiB. */
const MAX_SIGNATURE_FILE_BYTES = 64 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;
const KEY_HINT = 'Use an ed25519 key in PEM form, e.g. made with `openssl genpkey -algorithm ed25519` (private) and `openssl pkey -pubout` (public).';

/** Reasons `verifyPackage` gives for a package that changed after it was signed. */
export const MANIFEST_CHANGED = 'the manifest changed after signing (capabilities are part of what is signed)';
export const COMPONENT_CHANGED = 'the component changed after signing';

/**
 * Make a new ed25519 key pair for signing plugins.
 *
 * @returns the public key as PEM (SPKI), the private key as PEM (PKCS#8), and the key id
 *   (first 16 hex digits of the sha256 of the public key's DER) that signatures name.
 * @example
 * const { publicKey, privateKey, keyId } = generateKeyPair();
 * await writeFile('airlock-signing.pem', privateKey, { mode: 0o600 });
 */
export function generateKeyPair(): { publicKey: string; privateKey: string; keyId: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKey, privateKey, keyId: keyIdOf(publicKey) };
}

/**
 * The key id of an ed25519 public key given as PEM: the first 16 hex digits of
 * the sha256 of its SPKI DER. Formatting differences in the PEM do not change it.
 * Throws `SIGNING_KEY_INVALID` if the PEM is not an ed25519 key.
 *
 * @example keyIdOf(readFileSync('publisher.pub', 'utf8')) // '3f9c0a1b2c3d4e5f'
 */
export function keyIdOf(publicKeyPem: string): string {
  const key = importPublicKey(publicKeyPem);
  if (!key) throw new AirlockError('SIGNING_KEY_INVALID', 'the public key is not an ed25519 public key in PEM form', { hint: KEY_HINT });
  return keyIdOfKey(key);
}

/**
 * The sha256 (hex) of a package.json's manifest: the canonical JSON (keys
 * sorted recursively, no whitespace) of its `name`, `version` and `airlock`
 * fields. Capabilities live in `airlock`, so they are covered; fields such as
 * `scripts` or `devDependencies` are not.
 *
 * @example manifestDigest(JSON.parse(await readFile('package.json', 'utf8')))
 */
export function manifestDigest(pkg: Record<string, unknown>): string {
  return sha256(canonicalJson({ name: pkg.name, version: pkg.version, airlock: pkg.airlock }));
}

/**
 * Sign the plugin package in `dir` with an ed25519 private key (PEM, PKCS#8),
 * writing `dir/airlock.sig.json`. The signature covers the plugin id and
 * version, `manifestDigest(package.json)` and the sha256 of the component
 * named by the manifest (`airlock.component`, default `dist/plugin.wasm`).
 *
 * Throws `SIGNING_KEY_INVALID` for a key that is not an ed25519 private key,
 * `PLUGIN_NOT_FOUND` / `MANIFEST_INVALID` for a missing or invalid package.json,
 * and `COMPONENT_INVALID` when the component is missing (build the plugin first).
 *
 * @example
 * const sig = await signPackage('plugins/weather', await readFile('airlock-signing.pem', 'utf8'));
 * console.log(`signed ${sig.signed.id} ${sig.signed.version} with key ${sig.keyId}`);
 */
export async function signPackage(dir: string, privateKeyPem: string): Promise<Signature> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch (cause) {
    throw new AirlockError('SIGNING_KEY_INVALID', 'the signing key is not a private key in PEM form', { cause, hint: KEY_HINT });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AirlockError('SIGNING_KEY_INVALID', `the signing key is an ${privateKey.asymmetricKeyType ?? 'unknown'} key; plugins are signed with ed25519`, { hint: KEY_HINT });
  }

  const file = join(dir, 'package.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new AirlockError('PLUGIN_NOT_FOUND', `no plugin at ${dir}: cannot read package.json`, { cause, hint: 'Pass the directory that holds the plugin\'s package.json.' });
  }
  let pkg: unknown;
  try {
    pkg = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError(file, [{ path: '(root)', message: `is not valid JSON: ${(cause as Error).message}` }]);
  }
  const manifest = parseManifest(pkg, file);

  const component = await hashComponent(dir, manifest.component);
  if (typeof component !== 'string') {
    throw new AirlockError('COMPONENT_INVALID', `cannot sign ${dir}: ${component.problem}`, {
      plugin: manifest.id,
      hint: 'Build the plugin (`airlock-plugin build`) before signing it.',
    });
  }

  const signed: SignedPayload = {
    v: 1,
    id: manifest.id,
    version: manifest.version,
    manifestSha256: manifestDigest(pkg as Record<string, unknown>),
    componentSha256: component,
  };
  const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const signature: Signature = {
    version: 1,
    algorithm: 'ed25519',
    keyId: keyIdOf(publicKey),
    publicKey,
    signed,
    signature: cryptoSign(null, Buffer.from(canonicalJson(signed)), privateKey).toString('base64'),
  };
  await writeFile(join(dir, SIGNATURE_FILE), `${JSON.stringify(signature, null, 2)}\n`);
  return signature;
}

/**
 * Verify the signature of the plugin package in `dir` against `trustedKeys`
 * (ed25519 public keys, PEM).
 *
 * Resolves with `signed` (valid, by a trusted key, over the package as it is
 * now), `unsigned` (no `airlock.sig.json`), `untrusted` (valid, but by a key
 * not in `trustedKeys`) or `invalid` with a reason: a malformed signature file,
 * a signature that does not verify, or a package that changed after signing
 * (the reasons `MANIFEST_CHANGED` and `COMPONENT_CHANGED`). A hostile signature
 * file never makes this throw; only a trusted key that is not an ed25519
 * public key does (`SIGNING_KEY_INVALID`: fix the configuration).
 *
 * @example
 * const v = await verifyPackage(dir, [await readFile('publisher.pub', 'utf8')]);
 * if (v.status === 'invalid') console.error(v.reason);
 */
export async function verifyPackage(dir: string, trustedKeys: string[]): Promise<Verification> {
  const trusted = new Set(
    trustedKeys.map((pem, i) => {
      const key = importPublicKey(pem);
      if (!key) throw new AirlockError('SIGNING_KEY_INVALID', `trusted key #${i + 1} is not an ed25519 public key in PEM form`, { hint: KEY_HINT });
      return keyIdOfKey(key);
    }),
  );

  const file = join(dir, SIGNATURE_FILE);
  let text: string;
  try {
    const info = await lstat(file);
    if (!info.isFile()) return invalid(`${SIGNATURE_FILE} is not a regular file`);
    if (info.size > MAX_SIGNATURE_FILE_BYTES) return invalid(`${SIGNATURE_FILE} is ${info.size} bytes, too large to be a signature`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'unsigned' };
    return invalid(`cannot read ${SIGNATURE_FILE}: ${(err as Error).message}`);
  }

  const sig = parseSignatureFile(text);
  if (typeof sig === 'string') return invalid(`${SIGNATURE_FILE} is malformed: ${sig}`);
  const key = importPublicKey(sig.publicKey);
  if (!key) return invalid(`${SIGNATURE_FILE} is malformed: its publicKey is not an ed25519 public key in PEM form`);
  const keyId = keyIdOfKey(key);
  if (keyId !== sig.keyId) return invalid(`${SIGNATURE_FILE} is malformed: its keyId ${sig.keyId} is not the id of its publicKey (${keyId})`);
  let valid = false;
  try {
    valid = cryptoVerify(null, Buffer.from(canonicalJson(sig.signed)), key, Buffer.from(sig.signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) return invalid(`the signature does not verify: ${SIGNATURE_FILE} was altered after signing, or not made by key ${keyId}`);

  const changed = await compareWithPackage(dir, sig.signed);
  if (changed) return invalid(changed);
  return trusted.has(keyId) ? { status: 'signed', keyId } : { status: 'untrusted', keyId };
}

/**
 * Apply a signature policy to a verification of plugin `pluginId`.
 *
 * An `invalid` signature always throws `SIGNATURE_INVALID`. Under
 * `requireSigned`, `unsigned` and `untrusted` throw `SIGNATURE_REQUIRED`;
 * otherwise they are allowed and a `warning` says why the plugin is not
 * verified. `signed` passes with no warning.
 *
 * @example
 * const { warning } = enforcePolicy(await verifyPackage(dir, keys), { requireSigned: false }, 'weather');
 * if (warning) log.warn(warning);
 */
export function enforcePolicy(v: Verification, policy: SignaturePolicy, pluginId: string): { warning?: string } {
  const signHint = 'sign it with `airlock sign <dir> --key <file>`';
  switch (v.status) {
    case 'signed':
      return {};
    case 'invalid':
      throw new AirlockError('SIGNATURE_INVALID', `plugin \`${pluginId}\` has an invalid signature: ${v.reason}`, {
        plugin: pluginId,
        hint: `Do not install it unless you know why it changed. If you changed it yourself, ${signHint} again, or delete its ${SIGNATURE_FILE}.`,
      });
    case 'unsigned':
      if (policy.requireSigned) {
        throw new AirlockError('SIGNATURE_REQUIRED', `plugin \`${pluginId}\` is not signed, and this host requires signed plugins`, {
          plugin: pluginId,
          hint: `Ask its publisher for a signed release, or ${signHint} using a key this host trusts.`,
        });
      }
      return { warning: `plugin \`${pluginId}\` is not signed; its publisher cannot be verified` };
    case 'untrusted':
      if (policy.requireSigned) {
        throw new AirlockError('SIGNATURE_REQUIRED', `plugin \`${pluginId}\` is signed by key ${v.keyId}, which this host does not trust, and this host requires signed plugins`, {
          plugin: pluginId,
          hint: `Add the publisher's public key (id ${v.keyId}) to the trusted keys if you trust them, or ${signHint} using a key this host trusts.`,
        });
      }
      return { warning: `plugin \`${pluginId}\` is signed by key ${v.keyId}, which is not trusted; its publisher cannot be verified` };
  }
}

function invalid(reason: string): Verification {
  return { status: 'invalid', reason };
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

function keyIdOfKey(key: KeyObject): string {
  return sha256(key.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

/** An ed25519 public key from PEM, or undefined. */
function importPublicKey(pem: unknown): KeyObject | undefined {
  if (typeof pem !== 'string') return undefined;
  try {
    const key = createPublicKey(pem);
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * JSON with object keys sorted (by UTF-16 code units) at every depth and no
 * whitespace, so equal values always give equal bytes. Keys whose value is
 * `undefined` are left out, as `JSON.stringify` does.
 */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Check the shape of a signature file; returns it, or what is wrong. */
function parseSignatureFile(text: string): Signature | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'it is not valid JSON';
  }
  if (!isObject(json)) return 'it is not a JSON object';
  const top = ['version', 'algorithm', 'keyId', 'publicKey', 'signed', 'signature'];
  const extra = Object.keys(json).find((k) => !top.includes(k));
  if (extra !== undefined) return `it has an unknown field ${JSON.stringify(extra.slice(0, 60))}`;
  if (json.version !== 1) return 'its version is not 1 (made by a newer Airlock?)';
  if (json.algorithm !== 'ed25519') return 'its algorithm is not "ed25519"';
  if (typeof json.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(json.keyId)) return 'its keyId is not 16 hex digits';
  if (typeof json.publicKey !== 'string') return 'its publicKey is not a string';
  if (typeof json.signature !== 'string' || !isCanonicalBase64(json.signature, 64)) return 'its signature is not a base64 ed25519 signature';
  const s = json.signed;
  if (!isObject(s)) return 'its signed payload is not an object';
  const payloadKeys = ['v', 'id', 'version', 'manifestSha256', 'componentSha256'];
  const extraPayload = Object.keys(s).find((k) => !payloadKeys.includes(k));
  if (extraPayload !== undefined) return `its signed payload has an unknown field ${JSON.stringify(extraPayload.slice(0, 60))}`;
  if (s.v !== 1) return 'its signed payload version is not 1';
  if (typeof s.id !== 'string' || typeof s.version !== 'string') return 'its signed payload lacks the plugin id or version';
  if (typeof s.manifestSha256 !== 'string' || !HEX64.test(s.manifestSha256)) return 'its manifestSha256 is not a sha256 hex digest';
  if (typeof s.componentSha256 !== 'string' || !HEX64.test(s.componentSha256)) return 'its componentSha256 is not a sha256 hex digest';
  return {
    version: 1,
    algorithm: 'ed25519',
    keyId: json.keyId,
    publicKey: json.publicKey,
    signed: { v: 1, id: s.id, version: s.version, manifestSha256: s.manifestSha256, componentSha256: s.componentSha256 },
    signature: json.signature,
  };
}

/** Base64 that decodes to `bytes` bytes and encodes back to itself (one spelling per signature). */
function isCanonicalBase64(text: string, bytes: number): boolean {
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === bytes && decoded.toString('base64') === text;
}

/** Compare a signed payload with the package in `dir` as it is now; returns what changed, if anything. */
async function compareWithPackage(dir: string, signed: SignedPayload): Promise<string | undefined> {
  let pkg: unknown;
  try {
    pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  } catch (err) {
    return `${MANIFEST_CHANGED}: package.json cannot be read (${(err as Error).message})`;
  }
  if (!isObject(pkg)) return `${MANIFEST_CHANGED}: package.json is not a JSON object`;
  let digest: string;
  try {
    digest = manifestDigest(pkg);
  } catch {
    return `${MANIFEST_CHANGED}: package.json cannot be digested`;
  }
  if (digest !== signed.manifestSha256) return MANIFEST_CHANGED;

  let id: string;
  let version: string;
  let component: string;
  try {
    ({ id, version, component } = parseManifest(pkg));
  } catch (err) {
    return `package.json is not a valid plugin manifest: ${(err as Error).message}`;
  }
  // Equal digests imply these match, unless the signer signed a payload that misnames the package.
  if (id !== signed.id || version !== signed.version) return `the signed id and version (${signed.id} ${signed.version}) are not the package's (${id} ${version})`;

  const hash = await hashComponent(dir, component);
  if (typeof hash !== 'string') return `${COMPONENT_CHANGED}: ${hash.problem}`;
  return hash === signed.componentSha256 ? undefined : COMPONENT_CHANGED;
}

/** sha256 of the component file, streamed; or what is wrong with it. Links are not followed. */
async function hashComponent(dir: string, component: string): Promise<string | { problem: string }> {
  const path = join(dir, component);
  try {
    const info = await lstat(path);
    if (!info.isFile()) return { problem: `the component ${component} is not a regular file` };
    return await sha256OfFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? `there is no component at ${component}` : `the component ${component} cannot be read (${(err as Error).message})` };
  }
}
