/**
 * Which sha256 a component file had when it was last loaded, keyed by its
 * path and identity (device, inode, size, mtime). A load that finds its file
 * unchanged can start compiling the cached transpiled component at once, while
 * the file is re-read and re-hashed in parallel; the instance starts only once
 * the hash is confirmed. Persisted in the host home (mode 0600), so fresh
 * processes benefit. It is only a cache: it names which entry to try first,
 * and the entry is checked against its digest record (component.ts) anyway.
 */
import { readFileSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { writePrivateFile } from './home.js';

interface Entry {
  key: string;
  sha256: string;
}

export class ComponentIndex {
  readonly #file: string;
  readonly #entries: Map<string, Entry>;
  #writing: Promise<void> = Promise.resolve();

  constructor(file: string) {
    this.#file = file;
    let entries: [string, Entry][] = [];
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Entry>;
      entries = Object.entries(parsed).filter(([, e]) => typeof e?.key === 'string' && /^[0-9a-f]{64}$/.test(e?.sha256 ?? ''));
    } catch {
      // Missing or corrupt: it is only a cache.
    }
    this.#entries = new Map(entries);
  }

  /** The file's identity now, for comparing with what was recorded. */
  static async identity(path: string): Promise<string | undefined> {
    try {
      const s = await stat(path, { bigint: true });
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch {
      return undefined;
    }
  }

  /** The recorded hash, if the file's identity is unchanged. */
  lookup(path: string, identity: string | undefined): string | undefined {
    const entry = this.#entries.get(path);
    return identity !== undefined && entry?.key === identity ? entry.sha256 : undefined;
  }

  record(path: string, identity: string | undefined, sha256: string): void {
    if (identity === undefined || this.#entries.get(path)?.key === identity) return;
    this.#entries.set(path, { key: identity, sha256 });
    const snapshot = JSON.stringify(Object.fromEntries(this.#entries));
    this.#writing = this.#writing.then(async () => {
      const tmp = `${this.#file}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writePrivateFile(tmp, snapshot);
        await rename(tmp, this.#file);
      } catch {
        // Losing the index only costs speed.
        await rm(tmp, { force: true }).catch(() => {});
      }
    });
  }

  /** Wait for pending writes (for close). */
  flush(): Promise<void> {
    return this.#writing;
  }
}
