// Builds the component once, before any test and outside the tests' time
// limits, when it is missing or older than its sources (`npm test` after an
// edit). Building takes 10–30 s; the tests then load what it built.
import { buildIfStale } from '@airlock/plugin-kit/testing';

export default async function setup(): Promise<void> {
  await buildIfStale(new URL('..', import.meta.url));
}
