/**
 * Settings every package's vitest config starts from (`mergeConfig(shared, …)`).
 * End-to-end suites build and start real components, hence the generous timeouts.
 * Results also go to node_modules/.vitest/results.json, which `pnpm test`
 * (tools/run-tests.mjs) reads for its closing summary.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'node_modules/.vitest/results.json' },
  },
});
