import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    'build/index': 'src/build/index.ts',
    'build/componentize-child': 'src/build/componentize-child.ts',
    'build/preopens': 'src/build/preopens.ts',
    'build/wit-child': 'src/build/wit-child.ts',
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
  clean: true,
  outDir: 'dist',
});
