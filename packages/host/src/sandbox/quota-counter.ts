/**
 * The shared counter of a plugin's file operations, updated by its threads
 * (see quotas.ts), and the wording of a quota refusal. No imports: the
 * plugin's thread loads it.
 */

export type QuotaKind = 'httpRequests' | 'httpBytesOut' | 'httpBytesIn' | 'fileOperations' | 'storageWrites';

const WORDS: Record<QuotaKind, string> = {
  httpRequests: 'HTTP requests',
  httpBytesOut: 'bytes of HTTP request bodies',
  httpBytesIn: 'bytes of HTTP responses',
  fileOperations: 'file operations',
  storageWrites: 'storage writes',
};

export function quotaMessage(kind: QuotaKind, limit: number, windowMs: number): string {
  return `quota reached: at most ${limit} ${WORDS[kind]} per ${windowMs / 1000} s`;
}

/** A file-operation quota as a plugin's thread gets it: the counter its threads share ([window index, count]), the limit and the window. */
export interface FileQuota {
  counter: Int32Array;
  limit: number;
  windowMs: number;
}

/** Count one file operation; the refusal when it would pass the limit (nothing is counted then). */
export function takeFileOperation({ counter, limit, windowMs }: FileQuota): string | undefined {
  const window = Math.floor(Date.now() / windowMs) | 0;
  const seen = Atomics.load(counter, 0);
  if (seen !== window && Atomics.compareExchange(counter, 0, seen, window) === seen) Atomics.store(counter, 1, 0);
  if (Atomics.add(counter, 1, 1) < limit) return undefined;
  Atomics.sub(counter, 1, 1);
  return quotaMessage('fileOperations', limit, windowMs);
}
