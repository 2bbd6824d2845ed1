// Helpers shared by the host's own tests. (End-to-end packages use @airlock/test-utils,
// which depends on the host and so cannot serve it.)
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { AirlockError } from '../src/errors.js';

/** Await a promise that must reject with an AirlockError, and return that error. */
export async function rejected(promise: Promise<unknown>): Promise<AirlockError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(AirlockError.isInstance(err), `expected an AirlockError, got ${String(err)}`).toBe(true);
  return err as AirlockError;
}

/** Every file under `dir` with its bytes, to show a failed operation changed nothing. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    out[path.slice(dir.length)] = entry.isFile() ? (await readFile(path)).toString('base64') : '<dir>';
  }
  return out;
}
