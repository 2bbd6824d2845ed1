import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', worker: 'src/sandbox/worker.ts' },
  format: 'esm',
  target: 'node22',
  // Keep `node:` specifiers: `node:sqlite` exists only under its prefixed name.
  removeNodeProtocol: false,
  platform: 'node',
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  splitting: false,
});
