// Loaded with `node --import` before componentize-js: its splicer runs as a WASI
// component through preview2-shim, which grants no filesystem access by default.
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';

// The shim's types describe its in-memory filesystem; on Node it maps guest to host paths.
_setPreopens({ '/': '/' } as unknown as Parameters<typeof _setPreopens>[0]);
