// The component is normally built by `turbo run build` before tests; build it
// here too when it is missing or older than its sources, so `vitest` alone works.
import { buildIfStale } from '@airlock/plugin-kit/testing';

export default async function setup(): Promise<void> {
  await buildIfStale(new URL('..', import.meta.url));
}
