import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.js';

// Plugin code imports the host interfaces as `airlock:plugin/<name>@0.2.0`,
// and WASI as `wasi:<pkg>/<name>@0.2.12`, which only exist inside a
// component. Tests get in-memory fakes instead.
const fakes = fileURLToPath(new URL('./test/fakes/', import.meta.url));

export default mergeConfig(
  shared,
  defineConfig({
    resolve: {
      alias: [
        { find: /^airlock:plugin\/(.*)@0\.2\.0$/, replacement: `${fakes}$1.ts` },
        { find: /^wasi:(\w+)\/([\w-]+)@0\.2\.12$/, replacement: `${fakes}wasi-$1-$2.ts` },
      ],
    },
  }),
);
