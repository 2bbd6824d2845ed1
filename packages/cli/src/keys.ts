/**
 * `airlock keys generate` and `airlock sign`: for plugin publishers. Neither
 * needs a host.
 */
import { access, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { generateKeyPair, signPackage } from '@airlock/host';
import { CliError, UsageError, type Ui } from './output.js';

export const PRIVATE_KEY_FILE = 'airlock-signing.key';
export const PUBLIC_KEY_FILE = 'airlock-signing.pub';

/** Write a new key pair into `dir`; never over an existing key. */
export async function generateKeys(ui: Ui, dir: string): Promise<number> {
  const out = resolve(dir);
  const privatePath = join(out, PRIVATE_KEY_FILE);
  const publicPath = join(out, PUBLIC_KEY_FILE);
  for (const path of [privatePath, publicPath]) {
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new CliError('KEY_EXISTS', `${path} already exists; not overwriting it`, 'Choose another directory with --out <dir>, or move the old key pair away first (plugins signed with it verify only against its public key).');
  }
  const { publicKey, privateKey, keyId } = generateKeyPair();
  await mkdir(out, { recursive: true, mode: 0o700 });
  // `wx`: fail rather than replace a key that appeared meanwhile.
  await writeFile(privatePath, privateKey, { mode: 0o600, flag: 'wx' });
  await writeFile(publicPath, publicKey, { mode: 0o644, flag: 'wx' });
  if (ui.json) {
    ui.print(`${JSON.stringify({ keyId, privateKey: privatePath, publicKey: publicPath })}\n`);
    return 0;
  }
  ui.print(
    `${ui.out.green('✔')} Generated signing key ${ui.out.bold(keyId)}\n` +
      `  private  ${privatePath}  ${ui.out.dim('(keep it secret; sign with `airlock sign <dir> --key <file>`)')}\n` +
      `  public   ${publicPath}  ${ui.out.dim('(give it to users: --trust-key, or trust.keys in <home>/config.json)')}\n`,
  );
  return 0;
}

/** `<dir>` and `--key`, checked before anything is read. */
export function signTarget(rest: string[], key: string | undefined): { dir: string; key: string } {
  const [dir, ...extra] = rest;
  if (!dir) throw new UsageError('name the plugin directory: airlock sign <dir> --key <file>');
  if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\``);
  if (!key) throw new UsageError('give the private key: airlock sign <dir> --key <file> (make one with `airlock keys generate`)');
  return { dir, key };
}

export async function sign(ui: Ui, dir: string, keyFile: string): Promise<number> {
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (err) {
    throw new CliError('KEY_UNREADABLE', `cannot read the signing key ${keyFile}: ${(err as Error).message}`, 'Make a key pair with `airlock keys generate`.');
  }
  const mode = (await stat(keyFile)).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    ui.log(`${ui.err.yellow('warning:')} ${keyFile} can be read by other users (mode ${(mode & 0o777).toString(8)}); \`chmod 600 ${keyFile}\``);
  }
  const signature = await signPackage(dir, pem);
  const file = join(resolve(dir), 'airlock.sig.json');
  const { id, version, componentSha256, manifestSha256 } = signature.signed;
  if (ui.json) {
    ui.print(`${JSON.stringify({ id, version, keyId: signature.keyId, componentSha256, manifestSha256, file })}\n`);
    return 0;
  }
  ui.print(
    `${ui.out.green('✔')} Signed ${ui.out.bold(id)} ${version} with key ${ui.out.bold(signature.keyId)}\n` +
      `  component  sha256 ${componentSha256}\n` +
      `  manifest   sha256 ${manifestSha256}\n` +
      `  wrote      ${file}\n`,
  );
  return 0;
}

