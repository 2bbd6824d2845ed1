import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // Guest code: bundled into plugins later, so host imports stay external.
    entry: { index: 'src/index.ts' },
    format: 'esm',
    target: 'es2022',
    platform: 'neutral',
    dts: true,
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
    },
    format: 'esm',
    target: 'node20',
    platform: 'node',
    dts: { entry: { 'build/index': 'src/build/index.ts' } },
    splitting: false,
    outDir: 'dist',
  },
]);
