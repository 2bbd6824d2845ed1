/**
 * The host's SQLite files, through `node:sqlite` (no native addon to build).
 *
 * Invariants:
 * - Every file is in WAL mode with a busy timeout, so a second host process on
 *   the same home waits for a writer instead of failing at once.
 * - A file that is not a database (or is damaged) never surfaces as SQLite's
 *   bare "file is not a database": `openDatabase` throws `DATABASE_CORRUPT`
 *   naming the file, and touches nothing (it checks the header before SQLite
 *   opens the file, and SQLite writes nothing to a file it cannot read).
 * - `transaction(db, fn)` runs `fn` inside `BEGIN IMMEDIATE … COMMIT`, and
 *   rolls back whatever `fn` did when it throws.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { AirlockError } from '../errors.js';
import { preparePrivateDatabase } from '../home.js';

export type { DatabaseSync };

/** What a file is for, in the words of the error a user reads when it is damaged. */
export interface DatabaseRole {
  /** What the file holds ("the plugins' stored data"). */
  holds: string;
  /** What moving the file aside costs. */
  lossIfReset: string;
}

export interface OpenDatabaseOptions extends DatabaseRole {
  /** `FULL` where a lost commit would orphan files (the install state); `NORMAL` for plugin data. */
  synchronous: 'FULL' | 'NORMAL';
  /** `CREATE TABLE IF NOT EXISTS …` statements run once the file is open. */
  schema: string;
}

const HEADER = 'SQLite format 3\0';
/** SQLite's primary result codes that mean "this file is not (or no longer) a database". */
const NOT_A_DATABASE = new Set([11 /* SQLITE_CORRUPT */, 26 /* SQLITE_NOTADB */]);

/** Open (or create) one of the host's SQLite files. */
export function openDatabase(file: string, options: OpenDatabaseOptions): DatabaseSync {
  checkDatabaseFile(file, options);
  // Created 0600 before SQLite makes it (with the umask's mode), so it and its -wal and -shm are private.
  preparePrivateDatabase(file);
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file);
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${options.synchronous}`);
    db.exec(options.schema);
    return db;
  } catch (error) {
    db?.close();
    if (NOT_A_DATABASE.has(sqliteCode(error))) throw corrupt(file, options, error);
    throw new AirlockError('STORAGE_FAILED', `cannot open ${file} (${options.holds}): ${messageOf(error)}`, {
      cause: error,
      hint: 'Check that the Airlock home is a writable directory on a local disk, and that no other program holds the file.',
    });
  }
}

/**
 * Wrap `fn` in a transaction. SQLite transactions do not nest; callers only
 * wrap top-level operations.
 */
export function transaction<A extends unknown[], R>(db: DatabaseSync, fn: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn(...args);
      db.exec('COMMIT');
      return result;
    } catch (error) {
      // SQLite may already have rolled back (e.g. on SQLITE_FULL); then there is nothing to undo.
      try {
        db.exec('ROLLBACK');
      } catch {}
      throw error;
    }
  };
}

/** SQLite's primary result code of an error thrown by `node:sqlite`, or -1. */
export function sqliteCode(error: unknown): number {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : -1;
}

/**
 * Throw `DATABASE_CORRUPT` unless `file` is missing, empty, or starts with
 * SQLite's 16-byte header. Checked before SQLite opens the file, so a file that
 * is not a database is never given a WAL or shared-memory file beside it; the
 * host checks every file of its home this way before it opens any of them.
 */
export function checkDatabaseFile(file: string, role: DatabaseRole): void {
  if (!hasDatabaseHeader(file)) throw corrupt(file, role);
}

function hasDatabaseHeader(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw new AirlockError('STORAGE_FAILED', `cannot read ${file}: ${messageOf(error)}`, {
      cause: error,
      hint: 'Check the permissions of the Airlock home and the files in it.',
    });
  }
  try {
    const head = Buffer.alloc(HEADER.length);
    const n = readSync(fd, head, 0, head.length, 0);
    return n === 0 || (n === HEADER.length && head.toString('latin1') === HEADER);
  } finally {
    closeSync(fd);
  }
}

function corrupt(file: string, options: DatabaseRole, cause?: unknown): AirlockError {
  return new AirlockError('DATABASE_CORRUPT', `${file} is not a readable SQLite database (it should hold ${options.holds})`, {
    cause,
    hint:
      `Restore it from a backup, or move it aside (\`mv ${file} ${file}.broken\`) and the host starts a new one: ${options.lossIfReset}. ` +
      'Nothing was changed.',
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
