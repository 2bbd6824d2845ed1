import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readManifest } from '@airlock/host';
import { KINDS, ScaffoldError, VERSION, findWorkspace, idFromDir, render, scaffold } from '../src/index.js';
import { HELP, main, type Io } from '../src/cli.js';

let base: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'create-airlock-plugin-'));
});
afterEach(() => rm(base, { recursive: true, force: true }));

const json = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

async function refusal(promise: Promise<unknown>): Promise<ScaffoldError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ScaffoldError);
  return err as ScaffoldError;
}

describe('scaffold', () => {
  it.each(KINDS)('writes a complete %s project with a valid manifest', async (kind) => {
    const dir = join(base, `my-${kind}`);
    const result = await scaffold({ dir, kind });
    expect(result).toMatchObject({ dir, id: `my-${kind}`, kind, dependencies: 'published', workspaceRoot: undefined });
    expect(result.files).toEqual(['.gitignore', 'README.md', 'package.json', 'src/index.ts', 'test/global-setup.ts', 'test/plugin.test.ts', 'tsconfig.json', 'vitest.config.ts']);
    expect((await readdir(dir, { recursive: true })).filter((f) => !f.includes('/') || f.includes('.')).sort()).toEqual(
      expect.arrayContaining(['.gitignore', 'README.md', 'package.json', 'tsconfig.json', 'vitest.config.ts']),
    );
    // The host accepts the manifest as written.
    const manifest = await readManifest(dir);
    expect(manifest).toMatchObject({ id: `my-${kind}`, kind, entry: 'src/index.ts' });
    const pkg = await json(join(dir, 'package.json'));
    // Plugin code bundles only the guest SDK; building and testing come from the kit, a dev dependency.
    expect(pkg.dependencies).toEqual({ '@airlock/sdk': `^${VERSION}` });
    expect(pkg.devDependencies).toMatchObject({ '@airlock/plugin-kit': `^${VERSION}` });
    expect(pkg.scripts).toMatchObject({ build: 'airlock-plugin build', test: 'vitest run', dev: 'airlock-plugin dev' });
    // Nothing to build natively on install, so no install settings either.
    expect(pkg.overrides).toBeUndefined();
    expect(pkg.pnpm).toBeUndefined();
    // npm pack must ship the component, which .gitignore keeps out of git.
    expect(pkg.files).toEqual(['src', 'dist/plugin.wasm', 'airlock.sig.json']);
    // No token is left unrendered anywhere (the host's own `{{ config.key }}` templates have spaces).
    for (const f of result.files) expect(await readFile(join(dir, f), 'utf8'), f).not.toMatch(/\{\{\w+\}\}/);
  });

  it('asks for minimal capabilities: none for a tool, a prompt template or a context plugin, storage for auth, its backend and key for a provider', async () => {
    const caps = async (kind: (typeof KINDS)[number]) => (await readManifest((await scaffold({ dir: join(base, kind), kind })).dir)).capabilities;
    expect(await caps('tool')).toEqual({});
    expect(await caps('prompt-template')).toEqual({});
    expect(await caps('context')).toEqual({});
    expect(Object.keys(await caps('auth'))).toEqual(['storage']);
    const provider = await json(join((await scaffold({ dir: join(base, 'p2'), kind: 'provider', id: 'acme-chat' })).dir, 'package.json'));
    expect(provider.airlock.capabilities).toEqual({ http: ['{{ config.baseUrl }}'], env: ['ACME_CHAT_API_KEY'] });
    expect(await caps('hook')).toEqual({ hooks: ['before-tool-call'] });
  });

  it('points the @airlock scope at a private registry in .npmrc, and writes none for the public one', async () => {
    const priv = await scaffold({ dir: join(base, 'priv'), kind: 'tool', registry: 'http://127.0.0.1:4873' });
    expect(priv.files).toContain('.npmrc');
    expect(await readFile(join(priv.dir, '.npmrc'), 'utf8')).toMatch(/^@airlock:registry=http:\/\/127\.0\.0\.1:4873\/$/m);
    const pub = await scaffold({ dir: join(base, 'pub'), kind: 'tool', registry: 'https://registry.npmjs.org' });
    expect(pub.files).not.toContain('.npmrc');
    expect((await readdir(pub.dir)).includes('.npmrc')).toBe(false);
    const bad = await refusal(scaffold({ dir: join(base, 'bad'), kind: 'tool', registry: 'not a url' }));
    expect(bad).toMatchObject({ code: 'INVALID_REGISTRY' });
    expect((await readdir(base)).sort()).toEqual(['priv', 'pub']);
  });

  it('takes the id and description given, JSON-escaped in package.json', async () => {
    const dir = join(base, 'x');
    await scaffold({ dir, kind: 'tool', id: 'weather', description: 'Says "sunny"\\rainy' });
    const pkg = await json(join(dir, 'package.json'));
    expect(pkg).toMatchObject({ name: 'weather', description: 'Says "sunny"\\rainy', airlock: { id: 'weather' } });
    expect(await readFile(join(dir, 'README.md'), 'utf8')).toContain('# Weather\n\nSays "sunny"\\rainy');
  });

  it('never overwrites: a non-empty directory or a file is refused and left as it was', async () => {
    const dir = join(base, 'taken');
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), '{"mine":true}');
    const err = await refusal(scaffold({ dir, kind: 'tool' }));
    expect(err.code).toBe('TARGET_EXISTS');
    expect(err.hint).toContain('new directory');
    expect(await readFile(join(dir, 'package.json'), 'utf8')).toBe('{"mine":true}');
    expect(await readdir(dir)).toEqual(['package.json']);
    await writeFile(join(base, 'a-file'), 'x');
    expect((await refusal(scaffold({ dir: join(base, 'a-file'), kind: 'tool' }))).message).toContain('not a directory');
    // Nothing staged is left behind either.
    expect((await readdir(base)).sort()).toEqual(['a-file', 'taken']);
  });

  it('fills an existing empty directory', async () => {
    const dir = join(base, 'empty');
    await mkdir(dir);
    await scaffold({ dir, kind: 'auth' });
    expect(await readdir(dir)).toContain('package.json');
  });

  it('refuses invalid ids and kinds with a hint', async () => {
    const bad = await refusal(scaffold({ dir: join(base, 'ok'), kind: 'tool', id: 'Not_Valid' }));
    expect(bad).toMatchObject({ code: 'INVALID_ID', message: '"Not_Valid" is not a valid plugin id' });
    expect(bad.hint).toContain('--id');
    expect((await refusal(scaffold({ dir: join(base, '123'), kind: 'tool' }))).code).toBe('INVALID_ID');
    expect((await refusal(scaffold({ dir: join(base, 'k'), kind: 'widget' as never }))).code).toBe('INVALID_KIND');
  });

  it('derives ids from directory names', () => {
    expect(idFromDir('/x/My Cool_Plugin!')).toBe('my-cool-plugin');
    expect(idFromDir('plugins/2fast')).toBe('fast');
  });

  it('renders tokens and refuses unknown ones', () => {
    expect(render('{{a}} {{ config.x }}', { a: '1' })).toBe('1 {{ config.x }}');
    expect(render('"{{a}}"', { a: 'say "hi"' }, true)).toBe('"say \\"hi\\""');
    expect(() => render('{{nope}}', {})).toThrow(/unknown token \{\{nope\}\}/);
  });
});

describe('inside a pnpm workspace', () => {
  async function workspace(withSdk: boolean): Promise<string> {
    const root = join(base, 'ws');
    await mkdir(join(root, 'packages/sdk'), { recursive: true });
    await writeFile(join(root, 'pnpm-workspace.yaml'), "packages:\n  - packages/*\n  - 'plugins/*'\n\ncatalog:\n  typescript: 5.9.3\n  vitest: 4.1.12\n");
    await writeFile(join(root, 'packages/sdk/package.json'), JSON.stringify({ name: withSdk ? '@airlock/sdk' : 'other' }));
    return root;
  }

  it('uses workspace:* and the catalog for a new package of the workspace', async () => {
    const root = await workspace(true);
    const result = await scaffold({ dir: join(root, 'plugins/notes2'), kind: 'tool' });
    expect(result).toMatchObject({ dependencies: 'workspace', workspaceRoot: root });
    const pkg = await json(join(root, 'plugins/notes2/package.json'));
    expect(pkg.dependencies).toEqual({ '@airlock/sdk': 'workspace:*' });
    expect(pkg.devDependencies).toEqual({ '@airlock/plugin-kit': 'workspace:*', '@types/node': '^22.13.0', typescript: 'catalog:', vitest: 'catalog:' });
    expect(pkg.overrides).toBeUndefined();
  });

  it('uses published ranges outside the workspace packages, in a workspace without the SDK, or when asked', async () => {
    const root = await workspace(true);
    expect(findWorkspace(join(root, 'elsewhere/deep/p'))).toBeUndefined();
    expect((await scaffold({ dir: join(root, 'plugins/p1'), kind: 'tool', dependencies: 'published' })).dependencies).toBe('published');
    await writeFile(join(root, 'packages/sdk/package.json'), JSON.stringify({ name: 'other' }));
    expect((await scaffold({ dir: join(root, 'plugins/p2'), kind: 'tool' })).dependencies).toBe('published');
    expect((await refusal(scaffold({ dir: join(root, 'plugins/p3'), kind: 'tool', dependencies: 'workspace' }))).code).toBe('NOT_IN_WORKSPACE');
  });
});

function io(input?: string): Io & { out: string; err: string; asked: string } {
  const captured = { out: '', err: '', asked: '' };
  const output = new PassThrough();
  output.on('data', (d) => (captured.asked += String(d)));
  const result: Io & typeof captured = Object.assign(captured, {
    stdout: (s: string) => void (captured.out += s),
    stderr: (s: string) => void (captured.err += s),
    prompt: input === undefined ? undefined : { input: PassThroughFrom(input), output },
    color: false,
  });
  return result;
}

function PassThroughFrom(text: string): PassThrough {
  const s = new PassThrough();
  s.end(text);
  return s;
}

describe('create-airlock-plugin command', () => {
  it('prints help and version', async () => {
    const a = io();
    expect(await main(['--help'], a)).toBe(0);
    expect(a.out).toBe(HELP);
    expect(HELP).toContain('--kind <kind>');
    const b = io();
    expect(await main(['-v'], b)).toBe(0);
    expect(b.out).toBe(`${VERSION}\n`);
  });

  it('creates a project from flags and tells what to do next', async () => {
    const a = io();
    const dir = join(base, 'weather');
    expect(await main([dir, '--kind', 'tool', '--published'], a)).toBe(0);
    expect(a.out).toContain('created weather (tool plugin)');
    expect(a.out).toContain('npm install');
    expect(a.out).not.toMatch(/\x1b\[/);
    expect((await json(join(dir, 'package.json'))).airlock.kind).toBe('tool');
  });

  it('takes the registry npm create used (npm_config_registry), or --registry, for the project\'s .npmrc', async () => {
    const a = Object.assign(io(), { env: { npm_config_registry: 'http://127.0.0.1:4873/' } });
    expect(await main([join(base, 'from-env'), '--kind', 'tool'], a)).toBe(0);
    expect(await readFile(join(base, 'from-env', '.npmrc'), 'utf8')).toContain('@airlock:registry=http://127.0.0.1:4873/');
    const b = Object.assign(io(), { env: { npm_config_registry: 'https://registry.npmjs.org/' } });
    expect(await main([join(base, 'flag'), '--kind', 'tool', '--registry', 'https://npm.example.com/private'], b)).toBe(0);
    expect(await readFile(join(base, 'flag', '.npmrc'), 'utf8')).toContain('@airlock:registry=https://npm.example.com/private/');
  });

  it('prints JSON with --json, errors included', async () => {
    const a = io();
    expect(await main([join(base, 'j'), '--kind', 'auth', '--json'], a)).toBe(0);
    expect(JSON.parse(a.out)).toMatchObject({ id: 'j', kind: 'auth' });
    const b = io();
    expect(await main([join(base, 'j'), '--kind', 'auth', '--json'], b)).toBe(1);
    expect(JSON.parse(b.out)).toMatchObject({ error: { code: 'TARGET_EXISTS' } });
  });

  it('is a usage error without a kind when not interactive, or with a bad one', async () => {
    const a = io();
    expect(await main([join(base, 'n')], a)).toBe(2);
    expect(a.err).toContain('--kind is required');
    const b = io();
    expect(await main([join(base, 'n'), '--kind', 'widget'], b)).toBe(2);
    expect(b.err).toContain('--kind must be one of tool, auth, provider, hook, prompt-template, context');
    const c = io();
    expect(await main(['--bogus'], c)).toBe(2);
    expect(await readdir(base)).toEqual([]);
  });

  it('asks on a terminal when no flags are given', async () => {
    const dir = join(base, 'asked');
    // directory, an invalid kind then a valid one by number, a bad id then the default, a description
    const a = io(`${dir}\n9\n3\nBad Id\n\nTalks to my backend\n`);
    expect(await main([], a)).toBe(0);
    expect(a.asked).toContain('Kind — 1) tool  2) auth  3) provider  4) hook  5) prompt-template  6) context');
    expect(a.asked).toContain('choose 1–6');
    expect(a.asked).toContain('lowercase letters');
    const pkg = await json(join(dir, 'package.json'));
    expect(pkg).toMatchObject({ name: 'asked', description: 'Talks to my backend', airlock: { id: 'asked', kind: 'provider' } });
  });

  it('stops without writing when the terminal input ends', async () => {
    const a = io('');
    expect(await main([], a)).toBe(2);
    expect(a.err).toContain('cancelled');
    expect(await readdir(base)).toEqual([]);
  });
});
