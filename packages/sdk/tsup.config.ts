import { defineConfig } from 'tsup';

export default defineConfig({
  // Guest code: bundled into plugins, so host imports stay external.
  entry: { index: 'src/index.ts' },
  format: 'esm',
  target: 'es2022',
  platform: 'neutral',
  // The declarations name the contract's modules (`airlock:plugin/...`); the
  // reference keeps their types resolvable for plugin code (the bundler drops
  // the one in the sources, and without it every contract type is `any`).
  dts: { banner: '/// <reference types="@airlock/wit/guest" />' },
  clean: true,
  external: [/^airlock:/, /^wasi:/],
  outDir: 'dist',
});
