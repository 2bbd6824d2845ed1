import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: 'esm',
  target: 'node22',
  // Keep `node:` specifiers: `node:sqlite` exists only under its prefixed name.
  removeNodeProtocol: false,
  platform: 'node',
  dts: true,
  clean: true,
});
