/**
 * The type check of a build. Type-only changes do not change the bundle, so
 * it runs on every build, made incremental two ways (measured on the notes
 * sample, whose tsconfig takes in ~230 files with the tests' types):
 * - within a process (`airlock-plugin dev`, repeated `buildPlugin()` calls) the
 *   previous program and its parsed files are kept, so a rebuild re-parses and
 *   re-checks only what changed: ~0.1 s unchanged, ~0.3 s after an edit,
 *   against ~2–4 s from scratch;
 * - across processes, TypeScript's `.tsbuildinfo` (kept in the build cache)
 *   spares re-checking unchanged files: ~450 ms of CPU out of ~2.5 s. Creating
 *   the program (reading and parsing every file) is the rest, and remains.
 */
import { statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type ts from 'typescript';
import { BuildError, formatDiagnostic, fromTypeScript } from './errors.js';

interface Checker {
  /** Options and installed packages the kept program was made with; a change starts over. */
  fingerprint: string;
  host: ts.CompilerHost;
  program: ts.EmitAndSemanticDiagnosticsBuilderProgram | undefined;
}

/** Kept programs by plugin directory, most recent last. */
const checkers = new Map<string, Checker>();
const KEPT_PROGRAMS = 4;

export interface TypecheckOptions {
  /** Where TypeScript keeps its incremental state between processes. */
  buildInfoFile?: string;
  /** Start from scratch: ignore the kept program and the build info (which is still written). */
  fresh?: boolean;
  /** Declaration files the build generated (the integrator's interfaces), checked with the plugin whatever its tsconfig includes. */
  declarations?: readonly string[];
}

/** Type-check the plugin in `dir`; throws TYPE_ERROR with `file:line:col` positions. */
export async function typecheck(dir: string, entry: string, options: TypecheckOptions = {}): Promise<void> {
  // Loaded on first use: importing TypeScript takes most of a second, which --no-typecheck builds skip.
  const ts = (await import('typescript')).default;
  const configFile = ts.findConfigFile(dir, ts.sys.fileExists, 'tsconfig.json');
  let parsed: Pick<ts.ParsedCommandLine, 'options' | 'fileNames' | 'errors'>;
  if (configFile && dirname(configFile) === dir) {
    const read = ts.readConfigFile(configFile, ts.sys.readFile);
    parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dir, undefined, configFile);
    if (read.error) parsed.errors.push(read.error);
  } else {
    parsed = { options: { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true }, fileNames: [entry], errors: [] };
  }
  const compilerOptions: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    // Nothing is emitted, so declaration-only diagnostics do not apply.
    declaration: false,
    declarationMap: false,
    composite: false,
    emitDeclarationOnly: false,
    incremental: options.buildInfoFile !== undefined,
    tsBuildInfoFile: options.buildInfoFile,
  };
  const declarations = (options.declarations ?? []).map((f) => resolve(f));
  const rootNames = [...new Set([...(parsed.fileNames.length ? parsed.fileNames : [entry]).map((f) => resolve(f)), ...declarations])];

  const fingerprint = JSON.stringify([compilerOptions, mtime(`${dir}/node_modules`), mtime(`${dir}/package.json`)]);
  let checker = checkers.get(dir);
  if (!checker || checker.fingerprint !== fingerprint || options.fresh) checker = { fingerprint, host: cachingHost(ts, compilerOptions), program: undefined };
  checkers.delete(dir);
  checkers.set(dir, checker);
  if (checkers.size > KEPT_PROGRAMS) checkers.delete(checkers.keys().next().value!);

  const old = checker.program ?? (compilerOptions.incremental && !options.fresh ? ts.readBuilderProgram(compilerOptions, checker.host) : undefined);
  const program = ts.createEmitAndSemanticDiagnosticsBuilderProgram(rootNames, compilerOptions, checker.host, old, parsed.errors);
  const diagnostics = [
    ...program.getConfigFileParsingDiagnostics(),
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...program.getSemanticDiagnostics(),
  ].filter((d) => d.category === ts.DiagnosticCategory.Error);
  // With noEmit, this writes only the build info (and remembers which files had errors).
  if (compilerOptions.incremental) program.emit();
  checker.program = program;
  if (diagnostics.length === 0) return;
  const found = fromTypeScript(ts, diagnostics, dir);
  throw new BuildError('TYPE_ERROR', `type errors in ${relative(process.cwd(), dir) || '.'} (${diagnostics.length})`, found.map(formatDiagnostic).join('\n'), undefined, found);
}

/** A compiler host that hands back the same parsed file while its text is unchanged. */
function cachingHost(ts: typeof import('typescript'), options: ts.CompilerOptions): ts.CompilerHost {
  // The incremental host versions each file by the hash of its text.
  const host = ts.createIncrementalCompilerHost(options);
  const parse = host.getSourceFile.bind(host);
  const files = new Map<string, { text: string; file: ts.SourceFile }>();
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const format = typeof languageVersion === 'object' ? `${languageVersion.languageVersion}:${languageVersion.impliedNodeFormat}` : String(languageVersion);
    const key = `${format}:${fileName}`;
    const text = host.readFile(fileName);
    const kept = files.get(key);
    if (text !== undefined && kept?.text === text) return kept.file;
    const file = parse(fileName, languageVersion, onError, shouldCreate);
    if (file && text !== undefined) files.set(key, { text, file });
    else files.delete(key);
    return file;
  };
  return host;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
