/**
 * The storage adapter: where plugin key-value data lives. The embedded default
 * is SQLite; an integrator who runs several host processes can back it with a
 * shared server by implementing this interface. Methods may return promises.
 */
export type MaybePromise<T> = T | Promise<T>;

export interface StorageAdapter {
  get(namespace: string, key: string): MaybePromise<Uint8Array | undefined>;
  /**
   * Store a value. Must refuse (return `'quota-exceeded'`, storing nothing) when the
   * namespace's bytes (keys + values) would exceed `quotaBytes`.
   */
  set(namespace: string, key: string, value: Uint8Array, quotaBytes: number): MaybePromise<'ok' | 'quota-exceeded'>;
  delete(namespace: string, key: string): MaybePromise<boolean>;
  /** Keys starting with `prefix`, in byte order. */
  list(namespace: string, prefix: string): MaybePromise<string[]>;
  /** Bytes (keys + values) used by a namespace. */
  usage(namespace: string): MaybePromise<number>;
  /**
   * Delete every key of a namespace at once, returning how many there were
   * (`airlock plugin remove --purge`). Optional: without it the host deletes
   * the keys one by one, and finishes at its next start if it stops midway.
   */
  clear?(namespace: string): MaybePromise<number>;
  /**
   * Every namespace that holds a key. Optional: the host uses it once, to
   * record who owns data stored before it recorded owners (host 0.1).
   */
  namespaces?(): MaybePromise<string[]>;
  close(): MaybePromise<void>;
}
