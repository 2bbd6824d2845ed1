/**
 * Per-plugin quotas over a window: HTTP requests, bytes sent and received,
 * file operations, storage writes. Past one, the use is refused as the
 * capability refuses anything (a WIT error the plugin can handle: a denied
 * request, `quota` from the filesystem, `quota-exceeded` from storage), the
 * refusal is recorded in the audit log, and the window's end lets it through
 * again. Nothing crashes and nothing waits.
 *
 * Windows are fixed (counts reset when the window changes), shared by every
 * instance of the plugin; file operations, counted in the plugin's threads,
 * use a shared-memory counter the threads update atomically.
 */
import { AirlockError } from './errors.js';
import { quotaMessage, type FileQuota, type QuotaKind } from './sandbox/quota-counter.js';

/** What a plugin may do within one window. A limit left out is no limit. */
export interface PluginQuotas {
  /** The window, in milliseconds (1,000 or more). Default 60,000. */
  windowMs?: number;
  /** Outbound HTTP requests (each redirect hop counts). */
  httpRequests?: number;
  /** Request body bytes sent. */
  httpBytesOut?: number;
  /** Response body bytes received. */
  httpBytesIn?: number;
  /** Files opened, created, removed or renamed in granted directories. */
  fileOperations?: number;
  /** Storage `set` and `delete` calls. */
  storageWrites?: number;
}

/** Quotas for every plugin, and per plugin id (which replace the defaults for that plugin). */
export type HostQuotas = PluginQuotas & { plugins?: Record<string, PluginQuotas> };

type Kind = QuotaKind;
const KINDS: readonly Kind[] = ['httpRequests', 'httpBytesOut', 'httpBytesIn', 'fileOperations', 'storageWrites'];


/** The quotas that apply to `pluginId`, checked; throws HOST_OPTIONS_INVALID for a malformed one. */
export function quotasFor(pluginId: string, host: HostQuotas | undefined): Required<Pick<PluginQuotas, 'windowMs'>> & PluginQuotas {
  const q = host?.plugins?.[pluginId] ?? host ?? {};
  const windowMs = q.windowMs ?? 60_000;
  if (!Number.isInteger(windowMs) || windowMs < 1000) throw new AirlockError('HOST_OPTIONS_INVALID', `quotas.windowMs must be an integer of 1000 or more, got ${String(windowMs)}`);
  for (const kind of KINDS) {
    const limit = q[kind];
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) throw new AirlockError('HOST_OPTIONS_INVALID', `quotas.${kind} must be a whole number, got ${String(limit)}`);
  }
  return { ...q, windowMs };
}

/** One plugin's counts in the current window. */
export class QuotaMeter {
  readonly #quotas: PluginQuotas & { windowMs: number };
  readonly #counts = new Map<Kind, { window: number; used: number }>();
  /** File operations are counted by the plugin's threads, on this shared counter. */
  readonly fileQuota: FileQuota | undefined;

  constructor(quotas: PluginQuotas & { windowMs: number }) {
    this.#quotas = quotas;
    const limit = quotas.fileOperations;
    this.fileQuota = limit === undefined ? undefined : { counter: new Int32Array(new SharedArrayBuffer(8)), limit, windowMs: quotas.windowMs };
  }

  /** Count `amount` of `kind`; the refusal when it goes past the quota (nothing is counted then). */
  take(kind: Exclude<Kind, 'fileOperations'>, amount = 1): string | undefined {
    const limit = this.#quotas[kind];
    if (limit === undefined) return undefined;
    const window = Math.floor(Date.now() / this.#quotas.windowMs);
    let count = this.#counts.get(kind);
    if (!count || count.window !== window) this.#counts.set(kind, (count = { window, used: 0 }));
    if (count.used + amount > limit) return quotaMessage(kind, limit, this.#quotas.windowMs);
    count.used += amount;
    return undefined;
  }
}
