import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // Guest code: bundled into plugins later, so host imports stay external.
    entry: { index: 'src/index.ts' },
    format: 'esm',
    target: 'es2022',
    platform: 'neutral',
    // The declarations name the contract's modules (`airlock:plugin/...`); the
    // reference keeps their types resolvable for plugin code (the bundler drops
    // the one in the sources, and without it every contract type is `any`).
    dts: { banner: '/// <reference types="@airlock/wit/guest" />' },
    clean: false,
    external: [/^airlock:/, /^wasi:/],
    outDir: 'dist',
  },
  {
    entry: {
      'build/index': 'src/build/index.ts',
      'build/componentize-child': 'src/build/componentize-child.ts',
      'build/preopens': 'src/build/preopens.ts',
      'cli/bin': 'src/cli/bin.ts',
      // The test harness: node-side (it starts a host and HTTP servers), never in a plugin's bundle.
      'testing/index': 'src/testing/index.ts',
      'dev/index': 'src/dev/index.ts',
    },
    format: 'esm',
    target: 'node22',
    // Keep `node:` specifiers: `node:sqlite` exists only under its prefixed name.
    removeNodeProtocol: false,
    platform: 'node',
    dts: { entry: { 'build/index': 'src/build/index.ts', 'testing/index': 'src/testing/index.ts', 'dev/index': 'src/dev/index.ts' } },
    splitting: false,
    outDir: 'dist',
  },
]);
