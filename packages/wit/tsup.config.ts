import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  target: 'node22',
  // Keep `node:` specifiers: `node:sqlite` exists only under its prefixed name.
  removeNodeProtocol: false,
  sourcemap: true,
});
