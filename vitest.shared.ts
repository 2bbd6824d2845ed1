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
    // Node 24's V8 (13.6) can free a wasm import wrapper twice when its wasm code GC races a
    // wrapper tier-up on a worker thread, and aborts the process (`Check failed:
    // jit_page_->allocations_.erase(addr) == 1`, nodejs/node#64500; fixed in V8 by 9b8ca54d5a,
    // not backported to 24.x). Our tests start and stop plugin workers by the hundred, which is
    // where it strikes; without wasm code GC it cannot happen. See docs/ARCHITECTURE.md.
    execArgv: ['--no-wasm-code-gc'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'node_modules/.vitest/results.json' },
  },
});
