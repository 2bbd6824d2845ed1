// Build the fixture plugins when missing or older than their sources.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBuilt } from '@airlock/test-utils';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;

export default async function setup(): Promise<void> {
  // The fixtures' code is deliberately loose; the sandbox is what is under test.
  for (const name of await readdir(fixtures)) await ensureBuilt(join(fixtures, name), { skipTypecheck: true });
}
