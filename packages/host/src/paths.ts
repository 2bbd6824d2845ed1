/**
 * Where the worker entry lives. This file sits at the top of src/ so that the
 * same relative URL works from the sources and from the bundled dist/index.js.
 */
export const workerUrl = new URL('../dist/worker.js', import.meta.url);
