/**
 * create-airlock-plugin: write a new plugin project from the templates in
 * `templates/` (shared files in `common/`, kind-specific ones in `<kind>/`).
 * The project is written to a temporary sibling directory and renamed into
 * place, so a failure leaves nothing behind and an existing project is never
 * touched.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KINDS = ['tool', 'auth', 'provider', 'hook', 'prompt-template', 'context'] as const;
export type PluginKind = (typeof KINDS)[number];

/** Plugin ids, as the host's manifest check accepts them. */
export const ID_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;

export interface ScaffoldOptions {
  /** Where the project goes. It must not exist, or be an empty directory. */
  dir: string;
  kind: PluginKind;
  /** The plugin id. Default: derived from the directory name. */
  id?: string;
  /** A one-line description. */
  description?: string;
  /**
   * How dependencies are declared. `auto` (default): `workspace:*` when `dir`
   * is a package of a pnpm workspace that contains `@airlock/sdk`, otherwise
   * the published range of this version.
   */
  dependencies?: 'auto' | 'workspace' | 'published';
  /**
   * The registry the Airlock packages come from, when it is not npm's public
   * one (a private registry, or a clone's local one). A standalone project
   * gets an `.npmrc` with `@airlock:registry=<url>`, so its `npm install`
   * finds them there.
   */
  registry?: string;
}

export interface ScaffoldResult {
  dir: string;
  id: string;
  kind: PluginKind;
  /** Relative paths of the files written, sorted. */
  files: string[];
  /** `workspace` when the project uses the surrounding workspace's packages. */
  dependencies: 'workspace' | 'published';
  /** The workspace root, when `dependencies` is `workspace`. */
  workspaceRoot: string | undefined;
}

export type ScaffoldErrorCode = 'TARGET_EXISTS' | 'INVALID_ID' | 'INVALID_KIND' | 'INVALID_REGISTRY' | 'NOT_IN_WORKSPACE' | 'TEMPLATE_BROKEN';

/** A scaffold was refused; `hint` says how to fix it. */
export class ScaffoldError extends Error {
  readonly code: ScaffoldErrorCode;
  readonly hint: string | undefined;
  constructor(code: ScaffoldErrorCode, message: string, hint?: string) {
    super(message);
    this.name = 'ScaffoldError';
    this.code = code;
    this.hint = hint;
  }
}

const templatesDir = fileURLToPath(new URL('../templates/', import.meta.url));

/** This package's version; the published SDK of the same version is the one the templates are written for. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Published ranges for standalone projects. */
const PUBLISHED_RANGES = {
  typesNodeRange: '^22.13.0',
  typescriptRange: '^6.0.3',
  vitestRange: '^5.1.2',
};

/** npm's public registry: a project installing from it needs no registry setting. */
const PUBLIC_REGISTRY = 'https://registry.npmjs.org/';

const KIND_HINTS: Record<PluginKind, string> = {
  tool: "Add tools with `defineTool`; the type of each tool's arguments follows from its JSON Schema.",
  auth: 'An auth plugin signs the user in and hands out tokens that provider plugins receive through the host.',
  provider: "A provider plugin answers chat requests, streaming or not; set `baseUrl` in the plugin's config to your backend.",
  hook: 'A hook plugin runs before and after tool calls and chats: it allows, denies or rewrites them. List the points it hooks in `capabilities.hooks`.',
  'prompt-template': "Add templates to `definePromptPlugin`; the type of each template's variables follows from its JSON Schema.",
  context: 'A context plugin returns pieces of text for a query, scored; the host keeps what fits the token budget.',
};

/** A plugin id from a directory name: lowercase, dashes for anything else. */
export function idFromDir(dir: string): string {
  return basename(resolve(dir))
    .toLowerCase()
    .replace(/^@[^/]*\//, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 64);
}

/** Write a new plugin project. Throws a {@link ScaffoldError} when it would overwrite anything or the input is invalid. */
export async function scaffold(options: ScaffoldOptions): Promise<ScaffoldResult> {
  const dir = resolve(options.dir);
  if (!(KINDS as readonly string[]).includes(options.kind)) {
    throw new ScaffoldError('INVALID_KIND', `unknown plugin kind ${JSON.stringify(options.kind)}`, `Choose one of: ${KINDS.join(', ')}.`);
  }
  const id = options.id ?? idFromDir(dir);
  if (!ID_PATTERN.test(id)) {
    throw new ScaffoldError(
      'INVALID_ID',
      `${JSON.stringify(id)} is not a valid plugin id`,
      'Ids are 1–64 lowercase letters, digits and dashes, starting with a letter; pass one with --id.',
    );
  }
  await assertVacant(dir);

  const workspace = options.dependencies === 'published' ? undefined : findWorkspace(dir);
  if (options.dependencies === 'workspace' && !workspace) {
    throw new ScaffoldError('NOT_IN_WORKSPACE', `${dir} is not a package directory of a pnpm workspace that contains @airlock/sdk`, 'Create it under the workspace\'s plugins/ (or another package folder), or drop --workspace.');
  }
  const registry = workspace ? undefined : privateRegistry(options.registry);
  const name = titleCase(id);
  const tokens: Record<string, string> = {
    id,
    name,
    kind: options.kind,
    kindHint: KIND_HINTS[options.kind],
    packageName: id,
    description: options.description?.trim() || `${name}: an Airlock ${options.kind} plugin`,
    envName: `${id.replace(/-/g, '_').toUpperCase()}_API_KEY`,
    sdkRange: workspace ? 'workspace:*' : `^${VERSION}`,
    ...(workspace ? workspace.ranges : PUBLISHED_RANGES),
    install: workspace ? 'pnpm install' : 'npm install',
    run: workspace ? 'pnpm' : 'npm run',
  };

  // Write next to the target, then rename: all or nothing.
  await mkdir(dirname(dir), { recursive: true });
  const staging = await mkdtemp(join(dirname(dir), `.${basename(dir)}-`));
  try {
    const files: string[] = [];
    for (const source of [join(templatesDir, 'common'), join(templatesDir, options.kind)]) {
      for (const rel of await listFiles(source)) {
        if (rel === 'airlock.json') continue;
        const target = rel.replace(/(^|\/)_gitignore$/, '$1.gitignore');
        await writeRendered(join(source, rel), join(staging, target), tokens);
        files.push(target);
      }
    }
    const manifest = JSON.parse(render(await readFile(join(templatesDir, options.kind, 'airlock.json'), 'utf8'), tokens, true, 'airlock.json')) as object;
    const pkgPath = join(staging, 'package.json');
    const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as Record<string, unknown>;
    pkg.airlock = manifest;
    await writeFile(pkgPath, JSON.stringify(pkg, null, 2) + '\n');
    if (registry) {
      await writeFile(join(staging, '.npmrc'), `# The Airlock packages come from the registry this project was created from.\n@airlock:registry=${registry}\n`);
      files.push('.npmrc');
    }
    await moveIntoPlace(staging, dir);
    return { dir, id, kind: options.kind, files: [...new Set(files)].sort(), dependencies: workspace ? 'workspace' : 'published', workspaceRoot: workspace?.root };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** `registry` as a URL ending in `/`, unless it is missing or npm's public registry. */
export function privateRegistry(registry: string | undefined): string | undefined {
  if (!registry?.trim()) return undefined;
  let url: URL;
  try {
    url = new URL(registry.trim());
  } catch {
    throw new ScaffoldError('INVALID_REGISTRY', `${JSON.stringify(registry)} is not a registry URL`, 'Pass the registry as a URL, e.g. --registry https://npm.example.com/.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ScaffoldError('INVALID_REGISTRY', `${JSON.stringify(registry)} is not an http(s) registry URL`, 'Pass the registry as a URL, e.g. --registry https://npm.example.com/.');
  }
  const href = url.href.endsWith('/') ? url.href : `${url.href}/`;
  return href === PUBLIC_REGISTRY ? undefined : href;
}

async function assertVacant(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) return;
  const hint = 'Choose a new directory name; create-airlock-plugin never writes into an existing project.';
  if (!info.isDirectory()) throw new ScaffoldError('TARGET_EXISTS', `${dir} already exists and is not a directory`, hint);
  const entries = await readdir(dir);
  if (entries.length > 0) throw new ScaffoldError('TARGET_EXISTS', `${dir} already exists and is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'})`, hint);
}

async function moveIntoPlace(staging: string, dir: string): Promise<void> {
  // rename(2) replaces an empty directory atomically and fails on a non-empty one,
  // so a directory filled in the meantime is never overwritten.
  try {
    await rename(staging, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') {
      throw new ScaffoldError('TARGET_EXISTS', `${dir} was created by something else while the project was being written`, 'Choose a new directory name.');
    }
    throw err;
  }
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).split(sep).join('/'))
    .sort();
}

async function writeRendered(from: string, to: string, tokens: Record<string, string>): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await writeFile(to, render(await readFile(from, 'utf8'), tokens, from.endsWith('.json'), from));
}

/**
 * Replace `{{token}}` (no spaces; `{{ config.key }}` in manifests is the
 * host's and stays). In JSON files values are JSON-escaped.
 */
export function render(text: string, tokens: Record<string, string>, json = false, where = 'template'): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = tokens[key];
    if (value === undefined) throw new ScaffoldError('TEMPLATE_BROKEN', `${where} uses an unknown token {{${key}}}`);
    return json ? JSON.stringify(value).slice(1, -1) : value;
  });
}

const titleCase = (id: string) =>
  id
    .split('-')
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(' ');

interface Workspace {
  root: string;
  ranges: typeof PUBLISHED_RANGES;
}

/**
 * The pnpm workspace `dir` would be a package of, if that workspace contains
 * `@airlock/sdk`; with the workspace catalog's ranges where it has them.
 */
export function findWorkspace(dir: string): Workspace | undefined {
  for (let root = dirname(dir); ; root = dirname(root)) {
    const file = join(root, 'pnpm-workspace.yaml');
    if (existsSync(file)) {
      const yaml = readFileSync(file, 'utf8');
      const patterns = yamlList(yaml, 'packages');
      const rel = relative(root, dir).split(sep).join('/');
      if (!patterns.some((p) => globMatches(p, rel))) return undefined;
      if (!workspaceHasSdk(root, patterns)) return undefined;
      const catalog = yamlMap(yaml, 'catalog');
      const pick = (name: string, fallback: string) => (catalog[name] !== undefined ? 'catalog:' : fallback);
      return {
        root,
        ranges: {
          typesNodeRange: pick('@types/node', PUBLISHED_RANGES.typesNodeRange),
          typescriptRange: pick('typescript', PUBLISHED_RANGES.typescriptRange),
          vitestRange: pick('vitest', PUBLISHED_RANGES.vitestRange),
        },
      };
    }
    if (dirname(root) === root) return undefined;
  }
}

function workspaceHasSdk(root: string, patterns: string[]): boolean {
  for (const pattern of patterns) {
    const base = pattern.replace(/\/\*\*?$/, '');
    if (base.includes('*')) continue;
    const candidates = pattern === base ? [base] : safeReaddir(join(root, base)).map((d) => `${base}/${d}`);
    for (const c of candidates) {
      try {
        if ((JSON.parse(readFileSync(join(root, c, 'package.json'), 'utf8')) as { name?: string }).name === '@airlock/sdk') return true;
      } catch {
        // not a package
      }
    }
  }
  return false;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** `packages/*` matches one level, `packages/**` any depth, anything else exactly. Negations never include. */
function globMatches(pattern: string, rel: string): boolean {
  if (pattern.startsWith('!') || rel.startsWith('..') || rel === '') return false;
  const re = new RegExp(
    '^' +
      pattern
        .replace(/\/$/, '')
        .split('/')
        .map((part) => (part === '**' ? '.*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')))
        .join('/') +
      '$',
  );
  return re.test(rel);
}

/** The string items of a top-level YAML block list (`key:` then `  - item` lines). */
function yamlList(yaml: string, key: string): string[] {
  return yamlBlock(yaml, key)
    .map((l) => /^\s+-\s+(.+?)\s*$/.exec(l)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(unquote);
}

/** The entries of a top-level YAML block map (`key:` then `  name: value` lines). */
function yamlMap(yaml: string, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of yamlBlock(yaml, key)) {
    const m = /^\s+('[^']+'|"[^"]+"|[^:#\s][^:#]*?):\s*(.+?)\s*$/.exec(line);
    if (m) out[unquote(m[1]!)] = unquote(m[2]!);
  }
  return out;
}

function yamlBlock(yaml: string, key: string): string[] {
  const lines = yaml.split(/\r?\n/);
  const start = lines.findIndex((l) => l.replace(/\s+#.*$/, '').trimEnd() === `${key}:`);
  if (start < 0) return [];
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\S/.test(line)) break;
    if (line.trim() && !line.trim().startsWith('#')) block.push(line);
  }
  return block;
}

const unquote = (s: string) => s.replace(/^(['"])(.*)\1$/, '$2');
