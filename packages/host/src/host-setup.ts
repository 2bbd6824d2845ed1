/**
 * What a host needs before it exists: its home made ready (databases checked
 * before any is opened, permissions tightened, cache directories made), its
 * options checked and its limits filled in.
 */
import { join, resolve } from 'node:path';
import { AirlockError } from './errors.js';
import { quotasFor } from './quotas.js';
import { AUDIT_DB } from './audit.js';
import type { ComponentCache } from './component.js';
import { parseConnectTo, type ConnectTarget } from './capabilities/http.js';
import { hostInterfaces } from './capabilities/interfaces.js';
import { DEFAULT_SHUTDOWN_MS } from './sandbox/instance.js';
import { STORAGE_DB, openSqliteStorage } from './storage/sqlite.js';
import { checkDatabaseFile } from './storage/database.js';
import { STATE_DB } from './install/state.js';
import { PRIVATE_DIR, makeDirectories, prepareHome, tightenHome } from './home.js';
import type { StorageAdapter } from './storage/adapter.js';
import type { HostLimits, HostOptions } from './host-types.js';

/** A home ready for a host: its path, its component cache, and its store (the integrator's, or the home's SQLite file). */
export interface PreparedHome {
  home: string;
  cache: ComponentCache;
  storage: StorageAdapter;
  /** The store is the home's own, to close with the host. */
  ownsStorage: boolean;
}

/** Check the options and make the home ready; nothing is changed when a database in it is damaged. */
export async function prepareHostHome(options: HostOptions): Promise<PreparedHome> {
  if (options.connectTo !== undefined) connectTargets(options.connectTo);
  hostInterfaces(options.interfaces);
  // Malformed quotas are refused here, not at the first load.
  for (const id of ['', ...Object.keys(options.quotas?.plugins ?? {})]) quotasFor(id, options.quotas);
  const home = resolve(options.home);
  await prepareHome(home, options.create ?? true);
  // Both files are checked before either is opened (opening creates a missing one), so a damaged one changes nothing.
  checkDatabaseFile(join(home, 'state.db'), STATE_DB);
  if (options.audit !== false) checkDatabaseFile(join(home, 'audit.db'), AUDIT_DB);
  if (options.storage === undefined) checkDatabaseFile(join(home, 'storage.db'), STORAGE_DB);
  // Everything the host writes in its home is its owner's only; a home an older host left readable is tightened.
  await tightenHome(home);
  await makeDirectories(join(home, 'cache'), 'the Airlock home', PRIVATE_DIR);
  const cache = componentCacheOf(home, options);
  await makeDirectories(cache.dir, 'the component cache', PRIVATE_DIR);
  await makeDirectories(cache.digests, 'the component cache', PRIVATE_DIR);
  return { home, cache, storage: options.storage ?? openSqliteStorage(join(home, 'storage.db')), ownsStorage: options.storage === undefined };
}

/** The host's limits, each given or its default. */
export function resolveLimits(limits: HostLimits = {}): Required<HostLimits> {
  return {
    defaultTimeoutMs: limits.defaultTimeoutMs ?? 30_000,
    maxTimeoutMs: limits.maxTimeoutMs ?? 300_000,
    maxMessageBytes: limits.maxMessageBytes ?? 16 * 1024 * 1024,
    maxQueuedCalls: limits.maxQueuedCalls ?? 256,
    maxHttpBodyBytes: limits.maxHttpBodyBytes ?? 32 * 1024 * 1024,
    defaultMemoryMb: limits.defaultMemoryMb ?? 256,
    instanceGrowthMb: limits.instanceGrowthMb ?? 16,
    scratchMb: Math.min(Math.max(limits.scratchMb ?? 64, 1), 1024),
    shutdownMs: Math.min(Math.max(limits.shutdownMs ?? DEFAULT_SHUTDOWN_MS, 0), 60_000),
    maxMemoryMb: limits.maxMemoryMb ?? 2048,
  };
}

/** The `connectTo` option, checked: HOST_OPTIONS_INVALID naming every bad entry. */
export function connectTargets(table: Record<string, string>): Map<string, ConnectTarget> {
  if (typeof table !== 'object' || table === null) {
    throw new AirlockError('HOST_OPTIONS_INVALID', `connectTo must be an object mapping origins to loopback URLs, got ${table === null ? 'null' : typeof table}`, {
      hint: 'Pass e.g. `connectTo: { "https://api.example.com": "http://127.0.0.1:8080" }`.',
    });
  }
  const { map, problems } = parseConnectTo(table);
  if (problems.length > 0) {
    throw new AirlockError('HOST_OPTIONS_INVALID', `connectTo: ${problems.join('; ')}`, {
      hint: 'Map each origin to the http:// URL of a server on this machine, e.g. `{ "https://api.example.com": "http://127.0.0.1:8080" }`.',
    });
  }
  return map;
}

/** Where transpiled components and their digest records are kept for a host on `home`. */
export function componentCacheOf(home: string, options: Pick<HostOptions, 'componentCacheDir'>): ComponentCache {
  if (options.componentCacheDir === undefined) return { dir: join(home, 'cache', 'components'), digests: join(home, 'cache-digests') };
  const dir = resolve(options.componentCacheDir);
  return { dir, digests: join(dir, 'digests') };
}

/** What made a load fail, as an AirlockError (anything else becomes PLUGIN_START_FAILED). */
export const startFailure = (err: unknown, plugin?: string): AirlockError =>
  AirlockError.isInstance(err) ? err : new AirlockError('PLUGIN_START_FAILED', String((err as Error)?.message ?? err), { ...(plugin ? { plugin } : {}), cause: err });
