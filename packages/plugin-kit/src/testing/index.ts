/**
 * @airlock/plugin-kit/testing — test a plugin in a real host, with any test runner.
 *
 * @example
 * import { createTestHost } from '@airlock/plugin-kit/testing';
 *
 * const t = await createTestHost({ plugin: new URL('..', import.meta.url), storage: { 'note:1': { title: 'x' } } });
 * console.log(await t.callTool('get_note', { id: 1 }));
 * await t.close();
 */
export { createTestHost } from './test-host.js';
export type { TestHost, TestHostOptions, TestPluginOptions, DeviceLoginOptions, DeviceAuthorization, StreamChatOptions } from './test-host.js';
export { buildIfStale, isStale } from './build.js';
export type { BuildIfStaleOptions } from './build.js';
export { collectStream } from './stream.js';
export type { CollectedStream, CollectOptions } from './stream.js';
export type { FakeOrigin, FetchHandler, FakeOriginRequest } from './fake-origins.js';
export type { StorableValue, TestStorage } from './storage.js';
export { TestHostError } from './errors.js';
export type { TestHostErrorCode } from './errors.js';
export type { BuildResult } from '../build/index.js';
