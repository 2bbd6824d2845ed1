/**
 * Bearer tokens for `airlock serve`, kept in the home (`serve-tokens.json`,
 * mode 0600) as SHA-256 digests only: the token itself is shown once, when it
 * is created. A token is `alk_<id>_<secret>`; the id names it in lists, logs
 * and `revoke`, and is safe to show. Each token has scopes: `tools` (MCP),
 * `chat` (the OpenAI-compatible API), `manage` (the management API),
 * `metrics` (`GET /metrics`, read only).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AirlockError } from '@airlock/host';

export const SCOPES = ['tools', 'chat', 'manage', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

export interface TokenRecord {
  id: string;
  name: string;
  scopes: Scope[];
  /** SHA-256 of the whole token, hex. */
  sha256: string;
  createdAt: string;
}

interface TokenFile {
  version: 1;
  tokens: TokenRecord[];
}

const FILE = 'serve-tokens.json';
const TOKEN = /^alk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;

const digest = (token: string) => createHash('sha256').update(token).digest();

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export class TokenStore {
  readonly file: string;
  #records: TokenRecord[] = [];
  #mtimeMs = -1;
  #checkedAt = 0;

  private constructor(file: string) {
    this.file = file;
  }

  /** The store of the home at `home` (created on the first token). */
  static async open(home: string): Promise<TokenStore> {
    const store = new TokenStore(join(home, FILE));
    await store.#reload();
    return store;
  }

  list(): TokenRecord[] {
    return this.#records.map((r) => ({ ...r, scopes: [...r.scopes] }));
  }

  /** Make a token; the only time its secret is seen. */
  async create(options: { scopes: Scope[]; name?: string }): Promise<{ token: string; record: TokenRecord }> {
    const scopes = [...new Set(options.scopes)];
    const bad = scopes.filter((s) => !isScope(s));
    if (scopes.length === 0 || bad.length > 0) {
      throw new AirlockError('HOST_OPTIONS_INVALID', bad.length ? `unknown token scope ${bad.map((s) => JSON.stringify(s)).join(', ')}` : 'a token needs at least one scope', {
        hint: `Scopes are ${SCOPES.join(', ')}: --scope tools lets MCP clients list and call tools.`,
      });
    }
    await this.#reload(true);
    const id = randomBytes(6).toString('hex');
    const token = `alk_${id}_${randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = { id, name: options.name ?? id, scopes, sha256: digest(token).toString('hex'), createdAt: new Date().toISOString() };
    await this.#write([...this.#records, record]);
    return { token, record: { ...record } };
  }

  /** Forget the token with this id or name; false when there is none. */
  async revoke(idOrName: string): Promise<boolean> {
    await this.#reload(true);
    const kept = this.#records.filter((r) => r.id !== idOrName && r.name !== idOrName);
    if (kept.length === this.#records.length) return false;
    await this.#write(kept);
    return true;
  }

  /**
   * The record of a presented token, or undefined. Tokens made or revoked by
   * another process (`airlock token create` while a server runs) are seen
   * within a second.
   */
  async verify(token: string): Promise<TokenRecord | undefined> {
    await this.#reload();
    const id = TOKEN.exec(token)?.[1];
    const record = id && this.#records.find((r) => r.id === id);
    if (!record) return undefined;
    return timingSafeEqual(digest(token), Buffer.from(record.sha256, 'hex')) ? record : undefined;
  }

  async #reload(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - this.#checkedAt < 1000) return;
    this.#checkedAt = now;
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.file)).mtimeMs;
    } catch {
      this.#records = [];
      this.#mtimeMs = -1;
      return;
    }
    if (mtimeMs === this.#mtimeMs && !force) return;
    let parsed: TokenFile;
    try {
      parsed = JSON.parse(await readFile(this.file, 'utf8')) as TokenFile;
      if (parsed.version !== 1 || !Array.isArray(parsed.tokens)) throw new Error('not a token file of version 1');
    } catch (cause) {
      throw new AirlockError('HOME_UNUSABLE', `the token file ${this.file} is unreadable: ${(cause as Error).message}`, {
        cause,
        hint: 'Move it aside and create the tokens again with `airlock token create`.',
      });
    }
    this.#records = parsed.tokens.filter((r) => typeof r?.id === 'string' && typeof r.sha256 === 'string' && Array.isArray(r.scopes));
    this.#mtimeMs = mtimeMs;
  }

  async #write(records: TokenRecord[]): Promise<void> {
    // A new home is private, as the host makes it.
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify({ version: 1, tokens: records } satisfies TokenFile, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, 0o600);
    await rename(temp, this.file);
    this.#records = records;
    this.#mtimeMs = (await stat(this.file)).mtimeMs;
  }
}
