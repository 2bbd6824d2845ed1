// The components are normally built by `turbo run build` before tests; build them
// here too when missing or older than their sources, so `vitest` alone works:
// this plugin, and the two it is tested in front of (the notes sample and the
// sandbox suite's echo provider).
import { buildIfStale } from '@airlock/plugin-kit/testing';

export default async function setup(): Promise<void> {
  for (const dir of ['..', '../../notes', '../../../tools/sandbox-tests/fixtures/echo-provider']) await buildIfStale(new URL(dir, import.meta.url));
}
