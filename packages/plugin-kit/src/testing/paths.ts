import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestHostError } from './errors.js';

/** An absolute directory from a path or a `file:` URL. */
export function pluginDir(dir: string | URL): string {
  if (dir instanceof URL || /^file:/i.test(String(dir))) {
    const url = new URL(String(dir));
    if (url.protocol !== 'file:') throw new TestHostError('OPTIONS_INVALID', `plugin must be a path or a file: URL, got ${url.href}`);
    return resolve(fileURLToPath(url));
  }
  if (typeof dir !== 'string' || dir === '') throw new TestHostError('OPTIONS_INVALID', `plugin must be a path or a file: URL, got ${JSON.stringify(dir)}`);
  return resolve(dir);
}
