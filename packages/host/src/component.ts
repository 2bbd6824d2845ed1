/**
 * Turning a component into something Node can run: jco transpiles it to an ES
 * module plus core wasm files. That takes 0.5–2 s, so the output is cached on
 * disk by the component's sha256 and compiled core modules are kept in memory.
 *
 * What runs is what was checked. A cache entry `<dir>/<sha256>.v<format>/`
 * holds meta.json, the glue (a script the plugin's worker runs with Node's full
 * privileges), the core wasm files and the source map. A digest record
 * `<digests>/<sha256>.v<format>.json`, kept outside the entry, lists each of
 * those files with its size and sha256, in a fixed order (meta.json, glue, core
 * files in meta's order, source map), and the V8 code cache once one is saved.
 * A load reads every file once, hashes what it read, and hands on exactly those
 * bytes: the glue's text and the code cache to the worker, the core modules to
 * the compiler. Nothing is read again by path once checked.
 *
 * Invariants:
 * - An entry is used only when every file matches its record. Otherwise it is
 *   discarded and rebuilt from the component (whose hash the caller checked),
 *   with a warning; when it cannot be discarded the load is refused
 *   (INTEGRITY_FAILED). A code cache that does not match is dropped.
 * - An entry without a record (written by an older host, or whose record was
 *   lost) is compared with a fresh transpile of the component and adopted only
 *   when identical.
 * - The record is written before its entry is renamed into place, and both are
 *   written under temporary names and renamed, so hosts in several processes
 *   may share them. Transpiling is deterministic: concurrent first loads write
 *   identical entries and records, and whoever renames second keeps the first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SOURCE_MAP_SECTION, readCustomSection } from '@airlock/wit';
import { AirlockError } from './errors.js';
import { makePrivateDirectory, writePrivateFile } from './home.js';
import { CAP_HEADROOM } from './sandbox/memory.js';

/** Where transpiled components and the digests they are checked against live. */
export interface ComponentCache {
  /** The entries: `<dir>/<sha256>.v<format>/`. */
  dir: string;
  /** Their digest records, outside the entries: `<digests>/<sha256>.v<format>.json`. */
  digests: string;
}

export interface PreparedComponent {
  sha256: string;
  /** Directory holding the transpiled module and its core wasm files. */
  dir: string;
  /** File name of the transpiled bindings with `instantiate()`, inside `dir`. */
  glue: string;
  /**
   * `script`: a function expression taking the module URL and returning
   * `{ instantiate }`, loadable with a V8 code cache; `module`: jco's ES module
   * as is (used when its shape was not recognised).
   */
  glueKind: 'script' | 'module';
  /** The glue's text (UTF-8), as checked against the digest record: what the worker runs. Bytes, so handing it to a worker is a copy, not a re-encoding. */
  glueCode: Uint8Array;
  /** sha256 of the glue, as recorded. */
  glueSha256: string;
  /** A V8 code cache of the glue script, as checked against the record, when one was saved. */
  codeCache: Uint8Array | undefined;
  /** Core wasm file names inside `dir`. */
  coreFiles: string[];
  /** Interfaces the component imports, with versions, e.g. `airlock:plugin/log@0.1.0`. */
  imports: string[];
  /** Interfaces the component exports, with versions. */
  exports: string[];
  /** Whether this call transpiled (false: served from the cache). */
  transpiled: boolean;
  /** The source map of the plugin's bundled JavaScript, when its build attached one (a file inside `dir`). */
  sourceMap: string | undefined;
  /** sha256 of the source map, as recorded: checked again when the map is first read. */
  sourceMapSha256: string | undefined;
}

/** A prepared component and the bytes of its core modules, as checked: what to compile. */
export interface LoadedComponent {
  component: PreparedComponent;
  core: Record<string, Uint8Array>;
}

/** What was wrong with a cache entry, for the warning the host logs. */
export interface CacheProblem {
  /**
   * `changed`: the entry does not match its record; `unrecorded`: it had no
   * record and differs from what the component transpiles to; `code-cache`:
   * the V8 code cache does not match its record (it is dropped, the entry kept).
   */
  kind: 'changed' | 'unrecorded' | 'code-cache';
  /** The entry (or code cache file). */
  path: string;
  /** What differs, e.g. `plugin.js differs from what was written`. */
  problem: string;
}

/** An entry as found: checked and usable, missing, without a record, or not matching its record. */
export type CacheLookup =
  | { state: 'intact'; loaded: LoadedComponent; codeCacheProblem?: CacheProblem }
  | { state: 'absent' }
  | { state: 'unrecorded' }
  | { state: 'tampered'; problem: CacheProblem };

/** The state of an entry for `airlock plugin verify`. */
export type CacheCheck = { state: 'intact' | 'absent' } | { state: 'tampered'; problem: string };

interface Meta {
  format: number;
  glue: string;
  glueKind: 'script' | 'module';
  coreFiles: string[];
  imports: string[];
  exports: string[];
  /** File name of the source map taken from the component, if it had one. */
  sourceMap?: string;
}

interface RecordedFile {
  name: string;
  size: number;
  sha256: string;
}

interface DigestRecord {
  v: 1;
  /** sha256 of the component the entry was transpiled from. */
  component: string;
  format: number;
  /** meta.json, the glue, the core files in meta's order, the source map. */
  files: RecordedFile[];
  /** The V8 code cache of the glue, and the glue it was made for. */
  codeCache?: RecordedFile & { glueSha256: string };
}

/** Bump when the transpile options or the patches below change, to invalidate caches. */
export const CACHE_FORMAT = 3;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The sha256 of the file at `path`, read in chunks (a component is 10+ MB; no buffer that size is made). */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  // One buffer, read into again and again: hashing a 12 MB component allocates nothing per chunk.
  const chunk = Buffer.allocUnsafeSlow(256 * 1024);
  const file = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      hash.update(chunk.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

const entryName = (hash: string) => `${hash}.v${CACHE_FORMAT}`;
/** The entry directory of component `hash`. */
export const entryDir = (cache: ComponentCache, hash: string): string => join(cache.dir, entryName(hash));
const recordFile = (cache: ComponentCache, hash: string) => join(cache.digests, `${entryName(hash)}.json`);
const unique = () => randomBytes(4).toString('hex');

/**
 * The entry of `hash`, checked against its record: served from the cache when
 * intact, transpiled (and stored, replacing a changed entry) otherwise.
 * `lookup` is what `loadCachedComponent` already found for this hash.
 * `onProblem` hears about a changed entry before it is replaced; `onRead`
 * sees the entry's files as they are read (see `OnRead`).
 */
export async function prepareComponent(
  bytes: Uint8Array,
  cache: ComponentCache,
  hash = sha256(bytes),
  options: { lookup?: CacheLookup; onProblem?: (problem: CacheProblem) => void; onRead?: OnRead; pluginId?: string } = {},
): Promise<LoadedComponent> {
  const found = options.lookup ?? (await loadCachedComponent(cache, hash, options.onProblem, options.onRead));
  if (found.state === 'intact') return found.loaded;
  if (found.state === 'tampered') options.onProblem?.(found.problem);
  try {
    const built = await transpile(bytes, hash);
    await store(cache, hash, built, { warned: found.state === 'tampered', onProblem: options.onProblem, pluginId: options.pluginId });
    return toLoaded(hash, entryDir(cache, hash), built.meta, built.files, built.record, undefined, true);
  } catch (err) {
    // A changed entry that cannot be rebuilt is refused, saying what changed; nothing of it was run.
    if (found.state !== 'tampered' || (AirlockError.isInstance(err) && err.code === 'INTEGRITY_FAILED')) throw err;
    throw cannotReplace(found.problem.path, found.problem.problem, options.pluginId, err);
  }
}

interface Built {
  meta: Meta;
  /** Every file of the entry, by name. */
  files: Map<string, Uint8Array>;
  record: DigestRecord;
}

/** Transpile `bytes` in memory: the entry's files and their record. */
async function transpile(bytes: Uint8Array, hash: string): Promise<Built> {
  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  let out: Awaited<ReturnType<typeof transpileBytes>>;
  try {
    out = await transpileBytes(bytes, {
      name: 'plugin',
      instantiation: 'async',
      // Hybrid bindings cost 7–9 µs per call instead of 40–50 µs, and do not leak on resource dispose.
      importBindings: 'hybrid',
      noTypescript: true,
      noNamespacedExports: false,
    } as Parameters<typeof transpileBytes>[1]);
  } catch (cause) {
    throw new AirlockError('COMPONENT_INVALID', `not a valid WebAssembly component: ${describeJcoError(cause)}`, {
      cause,
      hint: 'Rebuild the plugin with `airlock-plugin build`.',
    });
  }

  const versioned = (names: string[]) => names.map((n) => versionOf(bytes, n));
  const meta: Meta = {
    format: CACHE_FORMAT,
    glue: 'plugin.js',
    glueKind: 'script',
    coreFiles: [],
    imports: versioned(out.imports),
    // Exports already carry their version (`airlock:plugin/tool@0.1.0`).
    exports: out.exports.filter(([n]) => n.includes(':')).map(([n]) => n),
  };
  const payload = new Map<string, Uint8Array>();
  for (const [name, data] of Object.entries(out.files)) {
    if (name.endsWith('.wasm')) {
      meta.coreFiles.push(name);
      payload.set(name, data);
    } else if (name === 'plugin.js') {
      const patched = patchGlue(new TextDecoder().decode(data));
      const script = toScript(patched);
      if (script === undefined) Object.assign(meta, { glue: 'plugin.mjs', glueKind: 'module' });
      payload.set(meta.glue, new TextEncoder().encode(script ?? patched));
    }
  }
  const sourceMap = sourceMapOf(bytes);
  if (sourceMap) {
    meta.sourceMap = 'source-map.json';
    payload.set(meta.sourceMap, sourceMap);
  }
  const files = new Map<string, Uint8Array>([['meta.json', new TextEncoder().encode(JSON.stringify(meta))]]);
  for (const name of namesOf(meta).slice(1)) files.set(name, payload.get(name)!);
  const record: DigestRecord = {
    v: 1,
    component: hash,
    format: CACHE_FORMAT,
    files: [...files].map(([name, data]) => ({ name, size: data.byteLength, sha256: sha256(data) })),
  };
  return { meta, files, record };
}

/** The files of an entry that its record covers, in the record's order. */
const namesOf = (meta: Meta): string[] => ['meta.json', meta.glue, ...meta.coreFiles, ...(meta.sourceMap ? [meta.sourceMap] : [])];

/**
 * Put a freshly transpiled entry in place: its record first, then the entry,
 * renamed in whole. An entry already there is kept when it holds exactly these
 * files (another host wrote it, or it only lacked its record), and is otherwise
 * discarded and replaced.
 */
async function store(
  cache: ComponentCache,
  hash: string,
  built: Built,
  options: { warned: boolean; onProblem: ((problem: CacheProblem) => void) | undefined; pluginId: string | undefined },
): Promise<void> {
  const dir = entryDir(cache, hash);
  await writeRecord(cache, hash, built.record);
  const tmp = join(cache.dir, `.tmp-${hash}-${unique()}`);
  await makePrivateDirectory(tmp);
  try {
    for (const [name, data] of built.files) await writePrivateFile(join(tmp, name), data);
    let warned = options.warned;
    for (let attempt = 1; ; attempt++) {
      try {
        await rename(tmp, dir);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Something is in the way: an entry, or a file or symlink where the entry belongs.
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw err;
      }
      const there = await readRecordedFiles(dir, built.record.files);
      if (there.ok) return; // the same files: another host's, or one that only lacked its record
      if (there.gone) continue;
      if (!warned) options.onProblem?.({ kind: 'unrecorded', path: dir, problem: there.problem });
      warned = true;
      if (attempt === 3) throw cannotReplace(dir, there.problem, options.pluginId, undefined);
      await discard(cache, hash, dir, there.problem, options.pluginId);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Move a changed entry out of the way (atomically), then delete it. */
async function discard(cache: ComponentCache, hash: string, dir: string, problem: string, pluginId: string | undefined): Promise<void> {
  const aside = join(cache.dir, `.discard-${hash}-${unique()}`);
  try {
    await rename(dir, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw cannotReplace(dir, problem, pluginId, err);
  }
  await rm(aside, { recursive: true, force: true }).catch(() => {});
}

function cannotReplace(dir: string, problem: string, pluginId: string | undefined, cause: unknown): AirlockError {
  const why =
    cause === undefined ? 'it kept changing while it was replaced' : AirlockError.isInstance(cause) ? cause.message : `${(cause as NodeJS.ErrnoException).code ?? ''} ${(cause as Error).message ?? cause}`.trim();
  return new AirlockError('INTEGRITY_FAILED', `the transpiled output${pluginId ? ` of \`${pluginId}\`` : ''} in ${dir} was changed since it was written (${problem}), and it could not be rebuilt: ${why}`, {
    ...(pluginId ? { plugin: pluginId } : {}),
    cause,
    hint: `Something other than the host wrote to its component cache. Find out what, delete ${dir}, and load again.`,
  });
}

/** Write the record of `hash`, replacing any (temporary name, then rename). */
async function writeRecord(cache: ComponentCache, hash: string, record: DigestRecord): Promise<void> {
  await makePrivateDirectory(cache.digests).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const file = recordFile(cache, hash);
  const tmp = `${file}.${unique()}.tmp`;
  try {
    await writePrivateFile(tmp, JSON.stringify(record));
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** The record of `hash`, or undefined when there is none or it is not one. */
async function readRecord(cache: ComponentCache, hash: string): Promise<DigestRecord | undefined> {
  let record: DigestRecord;
  try {
    record = JSON.parse(await readFile(recordFile(cache, hash), 'utf8')) as DigestRecord;
  } catch {
    return undefined;
  }
  const fileOk = (f: RecordedFile | undefined) =>
    typeof f?.name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f.name) && Number.isSafeInteger(f.size) && f.size >= 0 && /^[0-9a-f]{64}$/.test(f.sha256);
  const ok =
    record?.v === 1 &&
    record.component === hash &&
    record.format === CACHE_FORMAT &&
    Array.isArray(record.files) &&
    record.files[0]?.name === 'meta.json' &&
    record.files.every(fileOk) &&
    (record.codeCache === undefined || (fileOk(record.codeCache) && /^[0-9a-f]{64}$/.test(record.codeCache.glueSha256)));
  return ok ? record : undefined;
}

type FilesRead = { ok: true; files: Map<string, Uint8Array> } | { ok: false; gone: boolean; problem: string };

/**
 * Sees each file's bytes once read, before they are checked: lets a load start
 * compiling core modules early. Nothing seen here may be run or kept unless the
 * lookup then says `intact`.
 */
export type OnRead = (name: string, bytes: Uint8Array) => void;

/**
 * Read `files` from `dir` and check each against its recorded size and sha256.
 * A file of the wrong size is not read. `gone`: the directory itself is missing.
 */
async function readRecordedFiles(dir: string, files: RecordedFile[], onRead?: OnRead, intoShared?: (name: string) => boolean): Promise<FilesRead> {
  const results = await Promise.all(files.map((f) => readRecorded(join(dir, f.name), f, onRead, intoShared?.(f.name))));
  const problem = results.find((r) => typeof r === 'string');
  if (problem !== undefined) {
    const gone = problem.endsWith(' is missing') && !(await stat(dir).then((s) => s.isDirectory(), () => false));
    return { ok: false, gone, problem };
  }
  return { ok: true, files: new Map(files.map((f, i) => [f.name, results[i] as Uint8Array])) };
}

/**
 * The bytes of `path` if they match `f`, else what is wrong with them.
 * `intoShared`: read into shared memory, for bytes every worker is handed
 * (see `shared`), so they need no copy there.
 */
async function readRecorded(path: string, f: RecordedFile, onRead?: OnRead, intoShared = false): Promise<Uint8Array | string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${f.name} is missing` : `${f.name} cannot be read (${(err as NodeJS.ErrnoException).code})`;
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) return `${f.name} is not a file`;
    if (s.size !== f.size) return `${f.name} is ${s.size} bytes long, ${f.size} when it was written`;
    // Filled below, or not returned. The room before it lets a core module be capped in place (see compileCapped).
    const bytes = intoShared ? new Uint8Array(new SharedArrayBuffer(f.size)) : new Uint8Array(Buffer.allocUnsafeSlow(CAP_HEADROOM + f.size).buffer, CAP_HEADROOM, f.size);
    let at = 0;
    while (at < f.size) {
      const { bytesRead } = await handle.read(bytes, at, f.size - at, at);
      if (bytesRead === 0) return `${f.name} is shorter than when it was written`;
      at += bytesRead;
    }
    onRead?.(f.name, bytes);
    // Hashed on this thread: node:crypto takes ~8 ms for 13 MB, WebCrypto's thread-pool digest 6–10 times as long.
    return sha256(bytes) === f.sha256 ? bytes : `${f.name} differs from what was written`;
  } catch (err) {
    return `${f.name} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  } finally {
    await handle.close();
  }
}

/**
 * Find the entry of `hash` and check it against its record. Reads every file
 * the record names once and hashes what it read; changes nothing on disk.
 */
export async function readCachedComponent(cache: ComponentCache, hash: string, onRead?: OnRead): Promise<CacheLookup> {
  const dir = entryDir(cache, hash);
  const [record, exists] = await Promise.all([readRecord(cache, hash), stat(dir).then((s) => s.isDirectory(), () => false)]);
  if (!exists) return { state: 'absent' };
  if (!record) return { state: 'unrecorded' };
  // The glue (the record's second file) and its code cache go to every worker: read into shared memory. The code cache is read alongside the rest.
  const glueSha256 = record.files[1]?.sha256;
  const codeCacheRead = record.codeCache && record.codeCache.glueSha256 === glueSha256 ? readRecorded(join(dir, record.codeCache.name), record.codeCache, undefined, true) : undefined;
  const read = await readRecordedFiles(dir, record.files, onRead, (name) => name === record.files[1]?.name);
  if (!read.ok) {
    await codeCacheRead;
    return read.gone ? { state: 'absent' } : { state: 'tampered', problem: { kind: 'changed', path: dir, problem: read.problem } };
  }
  let meta: Meta;
  try {
    meta = JSON.parse(new TextDecoder().decode(read.files.get('meta.json'))) as Meta;
  } catch {
    return { state: 'tampered', problem: { kind: 'changed', path: dir, problem: 'meta.json is not JSON' } };
  }
  const names = namesOf(meta);
  if (meta.format !== CACHE_FORMAT || names.length !== record.files.length || names.some((n, i) => record.files[i]!.name !== n)) {
    return { state: 'tampered', problem: { kind: 'changed', path: dir, problem: 'meta.json does not name the files recorded for the entry' } };
  }
  let codeCache: Uint8Array | undefined;
  let codeCacheProblem: CacheProblem | undefined;
  if (codeCacheRead) {
    const found = await codeCacheRead;
    if (typeof found !== 'string') codeCache = found;
    else if (!found.endsWith(' is missing')) codeCacheProblem = { kind: 'code-cache', path: join(dir, record.codeCache!.name), problem: found };
  }
  return { state: 'intact', loaded: toLoaded(hash, dir, meta, read.files, record, codeCache, false), ...(codeCacheProblem ? { codeCacheProblem } : {}) };
}

/**
 * `readCachedComponent` for a load: a code cache that does not match its record
 * is reported and dropped (the entry is still used, without it).
 */
export async function loadCachedComponent(cache: ComponentCache, hash: string, onProblem?: (problem: CacheProblem) => void, onRead?: OnRead): Promise<CacheLookup> {
  const found = await readCachedComponent(cache, hash, onRead);
  if (found.state === 'intact' && found.codeCacheProblem) {
    onProblem?.(found.codeCacheProblem);
    await dropCodeCache(cache, hash, found.codeCacheProblem.path).catch(() => {});
  }
  return found;
}

/**
 * Whether the entry of `hash` can change what runs: `intact`, `absent` (the
 * next load builds it), or `tampered` with what is wrong. An entry without a
 * record is compared with a transpile of `bytes` (the component, when its hash
 * is `hash`). Changes nothing on disk.
 */
export async function checkCachedComponent(cache: ComponentCache, hash: string, bytes: Uint8Array | undefined): Promise<CacheCheck> {
  const found = await readCachedComponent(cache, hash);
  switch (found.state) {
    case 'absent':
      return { state: 'absent' };
    case 'tampered':
      return { state: 'tampered', problem: `${found.problem.problem} (in ${found.problem.path})` };
    case 'intact':
      return found.codeCacheProblem
        ? { state: 'tampered', problem: `its V8 code cache changed since it was written: ${found.codeCacheProblem.problem} (${found.codeCacheProblem.path})` }
        : { state: 'intact' };
  }
  const dir = entryDir(cache, hash);
  if (bytes === undefined || sha256(bytes) !== hash) {
    return { state: 'tampered', problem: `no digest is recorded for ${dir}, and the component it was built from is not at hand to compare it with` };
  }
  let built: Built;
  try {
    built = await transpile(bytes, hash);
  } catch (err) {
    return { state: 'tampered', problem: `no digest is recorded for ${dir}, and the component does not transpile to compare it with (${(err as Error).message})` };
  }
  const there = await readRecordedFiles(dir, built.record.files);
  if (there.ok) return { state: 'intact' };
  if (there.gone) return { state: 'absent' };
  return { state: 'tampered', problem: `${there.problem} (in ${dir}, which has no recorded digest; compared with a fresh transpile of the component)` };
}

/**
 * Keep `data` as the V8 code cache of `component`'s glue: written into the
 * entry under a name of its own and recorded with its sha256 beside the
 * entry's digest. Best effort: losing it costs only speed.
 */
export async function saveCodeCache(cache: ComponentCache, component: PreparedComponent, data: Uint8Array): Promise<void> {
  const hash = sha256(data);
  const name = `${component.glue}.${hash.slice(0, 16)}.v8cache`;
  const tmp = join(component.dir, `.${name}.${unique()}.tmp`);
  try {
    await writePrivateFile(tmp, data);
    await rename(tmp, join(component.dir, name));
    const record = await readRecord(cache, component.sha256);
    // Only for the glue it was made for: V8 runs a code cache made for any source of the same length.
    if (!record || record.files[1]?.sha256 !== component.glueSha256) return;
    await writeRecord(cache, component.sha256, { ...record, codeCache: { name, size: data.byteLength, sha256: hash, glueSha256: component.glueSha256 } });
    // Older code caches of this entry (another process's, or a host before this one: `plugin.js.v8cache`).
    for (const f of await readdir(component.dir)) if (f.endsWith('.v8cache') && f !== name) await rm(join(component.dir, f), { force: true });
  } catch {
    await rm(tmp, { force: true }).catch(() => {});
  }
}

/** Forget the code cache of `hash`'s record and delete its file. */
async function dropCodeCache(cache: ComponentCache, hash: string, path: string): Promise<void> {
  const record = await readRecord(cache, hash);
  if (record?.codeCache) {
    const rest: DigestRecord = { ...record };
    delete rest.codeCache;
    await writeRecord(cache, hash, rest);
  }
  await rm(path, { force: true });
}

/**
 * A copy of `bytes` in shared memory. The glue (1+ MB) and its code cache go
 * to every worker that runs the component; posted as shared memory they are
 * not copied into each thread, whose allocator would keep the freed copy.
 */
export function shared(bytes: Uint8Array): Uint8Array {
  if (bytes.buffer instanceof SharedArrayBuffer) return bytes;
  const copy = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return copy;
}

function toLoaded(hash: string, dir: string, meta: Meta, files: Map<string, Uint8Array>, record: DigestRecord, codeCache: Uint8Array | undefined, transpiled: boolean): LoadedComponent {
  const { glue, glueKind, coreFiles, imports, exports } = meta;
  const recorded = new Map(record.files.map((f) => [f.name, f.sha256]));
  const component: PreparedComponent = {
    sha256: hash,
    dir,
    glue,
    glueKind,
    glueCode: shared(files.get(glue)!),
    glueSha256: recorded.get(glue)!,
    codeCache: codeCache && shared(codeCache),
    coreFiles,
    imports,
    exports,
    transpiled,
    sourceMap: meta.sourceMap && join(dir, meta.sourceMap),
    sourceMapSha256: meta.sourceMap && recorded.get(meta.sourceMap),
  };
  return { component, core: Object.fromEntries(coreFiles.map((f) => [f, files.get(f)!])) };
}

/** The source map the build attached, if any; a malformed binary is for the transpiler to report, not this. */
function sourceMapOf(bytes: Uint8Array): Uint8Array | undefined {
  try {
    return readCustomSection(bytes, SOURCE_MAP_SECTION);
  } catch {
    return undefined;
  }
}

const VERSION = /^[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?/;
const MAX_VERSION_LENGTH = 256;

/**
 * jco reports interface names without versions; the component binary holds the
 * versioned name (`airlock:plugin/log@0.1.0`), so read it from there.
 */
function versionOf(bytes: Uint8Array, name: string): string {
  // Searched in the bytes: decoding all 13 MB for each of a component's ~25 imports took ~400 ms of a first load.
  const binary = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const needle = Buffer.from(`${name}@`, 'latin1');
  for (let at = binary.indexOf(needle); at >= 0; at = binary.indexOf(needle, at + 1)) {
    const from = at + needle.length;
    const version = VERSION.exec(binary.toString('latin1', from, Math.min(from + MAX_VERSION_LENGTH, binary.length)));
    if (version) return `${name}@${version[0]}`;
  }
  return name;
}

/**
 * Two surgical edits to jco 1.35's generated module, both measured:
 * - its debug logger reads `process.env` on every call (≈20 µs per call); read it once;
 * - it wraps exports with `WebAssembly.promising` eagerly (≈20 ms per instance) for
 *   async calls we never make; defer that until first use.
 * If a future jco changes these lines the patches simply do not apply.
 */
export function patchGlue(src: string): string {
  return src
    .replace('if (!globalThis?.process?.env?.JCO_DEBUG) { return; }', 'if (!_AIRLOCK_JCO_DEBUG) { return; }')
    .replaceAll('WebAssembly.promising(', '_airlockLazyPromising(')
    .replace(
      '"use components";',
      '"use components";\n' +
        'const _AIRLOCK_JCO_DEBUG = !!globalThis?.process?.env?.JCO_DEBUG;\n' +
        'const _airlockLazyPromising = (f) => { let p; return (...a) => (p ??= WebAssembly.promising(f))(...a); };',
    );
}

/**
 * Turn jco's ES module into a script: `(function (moduleUrl) { …; return { instantiate }; })`.
 * Scripts, unlike ES modules on Node 20, can be loaded with a V8 code cache,
 * which takes loading the ~850 kB module from ~20 ms to ~1 ms. In instantiation
 * mode the module imports nothing and exports `instantiate` and `_util`; any
 * other shape returns undefined and the module is used as is.
 */
export function toScript(src: string): string | undefined {
  const body = src
    .replace('export function instantiate(', 'function instantiate(')
    .replace(/^export const _util = \{[\s\S]*?\n\}\n?/m, '')
    .replaceAll('import.meta.url', '__airlockModuleUrl');
  if (!body.includes('function instantiate(') || /^\s*(import|export)\b/m.test(body)) return undefined;
  return `(function (__airlockModuleUrl) {\n${body}\nreturn { instantiate };\n})`;
}

function describeJcoError(err: unknown): string {
  const e = err as { message?: string; payload?: unknown };
  const text = typeof e?.payload === 'string' ? e.payload : e?.message ?? String(err);
  return text.split('\n').filter(Boolean).slice(0, 4).join(' / ');
}
