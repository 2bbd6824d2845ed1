// Every code block of docs/PLUGIN_SDK.md is checked here: TypeScript is
// type-checked against the SDK, JSON manifests go through the host's manifest
// parser, each shell command is checked against that command's own help
// (or, for `npm create`, run), and WIT (an integrator's interfaces) becomes the
// declarations a plugin project gets from it, which the TypeScript is checked with.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '@airlock/host';
import { generateInterfaceTypes } from '@airlock/plugin-kit/build';
import { run } from '../src/index.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const guidePath = fileURLToPath(new URL('../../../docs/PLUGIN_SDK.md', import.meta.url));
const require = createRequire(import.meta.url);
const bin = (pkg: string, file: string) => join(dirname(require.resolve(`${pkg}/package.json`)), file);
const BINS = {
  'airlock-plugin': bin('@airlock/plugin-kit', 'bin/airlock-plugin.js'),
  airlock: bin('@airlock/cli', 'bin/airlock.js'),
  'create-airlock-plugin': bin('create-airlock-plugin', 'bin/create-airlock-plugin.js'),
};

interface Block {
  lang: string;
  code: string;
  line: number;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let m; (m = re.exec(markdown)); ) out.push({ lang: m[1]!, code: m[2]!, line: markdown.slice(0, m.index).split('\n').length });
  return out;
}

const guide = await readFile(guidePath, 'utf8');
const all = blocks(guide);
const where = (b: Block) => `docs/PLUGIN_SDK.md:${b.line}`;

it('has code blocks of known kinds only', () => {
  expect(all.length).toBeGreaterThan(10);
  for (const b of all) expect(['ts', 'json', 'sh', 'wit'], `${where(b)}: fence language`).toContain(b.lang);
});

describe('TypeScript blocks', () => {
  // Written where module resolution finds this package's dependencies (the SDK, the host, vitest).
  const dir = join(here, 'node_modules/.cache/guide-blocks');
  const tsBlocks = all.filter((b) => b.lang === 'ts');

  beforeAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
  });

  /**
   * The guide's WIT in the `wit/` folder of a project whose manifest is the guide's that names
   * interfaces: the declarations the build would write for it, which its TypeScript imports.
   */
  async function interfaceDeclarations(): Promise<string[]> {
    const witBlocks = all.filter((b) => b.lang === 'wit');
    if (witBlocks.length === 0) return [];
    const manifest = all.find((b) => b.lang === 'json' && /"interfaces"/.test(b.code));
    expect(manifest, 'a JSON block names the interfaces of the WIT blocks').toBeDefined();
    const project = join(dir, 'interfaces-project');
    await mkdir(join(project, 'wit'), { recursive: true });
    await writeFile(join(project, 'package.json'), manifest!.code);
    for (const b of witBlocks) await writeFile(join(project, 'wit', `line-${b.line}.wit`), b.code);
    const file = await generateInterfaceTypes({ dir: project });
    expect(file, 'declarations for the interfaces').toBeDefined();
    return [file!];
  }

  it('type-check against the SDK, each as its own module', async () => {
    expect(tsBlocks.length).toBeGreaterThanOrEqual(8);
    const declarations = await interfaceDeclarations();
    const blockFiles = await Promise.all(
      tsBlocks.map(async (b) => {
        const file = join(dir, `line-${b.line}.ts`);
        await writeFile(file, b.code);
        return file;
      }),
    );
    const files = [...blockFiles, ...declarations];
    const program = ts.createProgram(files, {
      strict: true,
      noUncheckedIndexedAccess: true,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      skipLibCheck: true,
      noEmit: true,
      isolatedModules: true,
      verbatimModuleSyntax: true,
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file || d.start === undefined) return text;
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      const blockLine = Number(/line-(\d+)\.ts$/.exec(d.file.fileName)?.[1] ?? 0);
      const file = d.file.fileName.includes('guide-blocks') ? `docs/PLUGIN_SDK.md:${blockLine + line + 1}:${character + 1}` : d.file.fileName;
      return `${file}: ${text}`;
    });
    expect(problems).toEqual([]);
  }, 120_000);
});

describe('JSON blocks', () => {
  const jsonBlocks = all.filter((b) => b.lang === 'json');
  let dir: string;
  beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'airlock-guide-json-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each(jsonBlocks.map((b) => [where(b), b] as const))('%s is a package.json whose manifest the host accepts', async (_, b) => {
    const pkg = JSON.parse(b.code) as { airlock?: { id?: string } };
    expect(pkg.airlock, 'has an "airlock" manifest').toBeDefined();
    const pluginDir = join(dir, String(b.line));
    await mkdir(pluginDir, { recursive: true });
    await writeFile(join(pluginDir, 'package.json'), b.code);
    const manifest = await readManifest(pluginDir);
    expect(manifest.id).toBe(pkg.airlock!.id);
  });
});

describe('shell blocks', () => {
  const lines = all
    .filter((b) => b.lang === 'sh')
    .flatMap((b) => b.code.split('\n').map((text, i) => ({ text: text.trim(), at: `docs/PLUGIN_SDK.md:${b.line + i + 1}` })))
    .filter((l) => l.text !== '');
  let dir: string;
  let scaffolded: { scripts: Record<string, string> } | undefined;
  beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'airlock-guide-sh-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const helpCache = new Map<string, string>();
  async function help(cmd: keyof typeof BINS, words: string[]): Promise<string> {
    const key = [cmd, ...words].join(' ');
    if (!helpCache.has(key)) {
      const r = await run(process.execPath, [BINS[cmd], ...words, '--help'], dir);
      expect(r.code, `${key} --help:\n${r.stderr}`).toBe(0);
      helpCache.set(key, r.stdout);
    }
    return helpCache.get(key)!;
  }
  const flags = (words: string[]) => words.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]!);

  it.each(lines.map((l) => [l.at, l.text] as const))('%s: %s', async (_, text) => {
    const words = text.split(/\s+/);
    const [cmd, ...args] = words;
    if (text.startsWith('npm create airlock-plugin@latest ')) {
      // Run it: the project it makes is what the following lines work in.
      const sep = args.indexOf('--');
      const r = await run(process.execPath, [BINS['create-airlock-plugin'], ...args.slice(2, sep < 0 ? undefined : sep), ...(sep < 0 ? [] : args.slice(sep + 1))], dir);
      expect(r.code, r.stderr).toBe(0);
      scaffolded = JSON.parse(await readFile(join(dir, args[2]!, 'package.json'), 'utf8'));
      return;
    }
    if (text === 'pnpm registry') {
      // Run in a clone of this repository: its root script, and the command it starts.
      const root = JSON.parse(await readFile(join(here, '../../package.json'), 'utf8')) as { scripts: Record<string, string> };
      expect(root.scripts.registry).toMatch(/node tools\/registry\/bin\/airlock-registry\.js$/);
      const r = await run(process.execPath, [join(here, '../registry/bin/airlock-registry.js'), '--help'], dir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('serve this clone');
      return;
    }
    if (cmd === 'airlock-plugin') {
      const usage = await help('airlock-plugin', []);
      expect(usage, `airlock-plugin has a ${args[0]} command`).toMatch(new RegExp(`airlock-plugin ${args[0]}\\b`));
      for (const f of flags(args)) expect(usage, `airlock-plugin knows ${f}`).toContain(f);
      return;
    }
    if (cmd === 'airlock') {
      const sub = args.filter((a) => /^[a-z]+$/.test(a)).slice(0, ['plugin', 'keys', 'auth'].includes(args[0]!) ? 2 : 1);
      const usage = await help('airlock', sub);
      expect(usage).toContain(`airlock ${sub.join(' ')}`);
      for (const f of flags(args)) expect(usage, `airlock ${sub.join(' ')} knows ${f}`).toContain(f);
      return;
    }
    if (cmd === 'npm' && args[0] === 'run') {
      expect(scaffolded?.scripts, 'a scaffolded project precedes npm run').toHaveProperty(args[1]!);
      return;
    }
    // npm's own commands, run in the scaffolded project by the authoring end-to-end test.
    expect([`cd`, 'npm install', 'npm test', 'npm pack', 'npm publish'].some((c) => text === c || text.startsWith(`${c} `)), `unchecked command: ${text}`).toBe(true);
  });
});
