/** Build failures, and compiler messages in `file:line:col: message` form. */
import { isAbsolute, relative, sep } from 'node:path';
import type * as esbuild from 'esbuild';
import type ts from 'typescript';

export type BuildErrorCode =
  | 'TYPE_ERROR'
  | 'BUNDLE_FAILED'
  | 'COMPONENTIZE_FAILED'
  | 'ENTRY_NOT_FOUND'
  | 'KIND_MISMATCH'
  | 'CONTRACT_UNSUPPORTED'
  /** `capabilities.interfaces` names an interface the project's wit/ does not declare. */
  | 'INTERFACE_NOT_FOUND'
  /** The project's wit/ does not parse or resolve. */
  | 'WIT_INVALID'
  /** The project's wit/ declares a package in the host's own namespaces (`airlock:`, `wasi:`). */
  | 'WIT_RESERVED'
  /** Build options that cannot go together (`dev` and `release`). */
  | 'OPTIONS_CONFLICT';

/** One compiler message. `file` is relative to the plugin directory; `line` and `column` count from 1. */
export interface BuildDiagnostic {
  file?: string;
  line?: number;
  column?: number;
  /** `TS2322` for the type checker; absent for the bundler. */
  code?: string;
  message: string;
}

/**
 * A build failed; `message` says where and why, `details` holds compiler
 * output (one `file:line:col: message` per problem), `diagnostics` the same
 * messages as data, `hint` what to do about it.
 */
export class BuildError extends Error {
  readonly code: BuildErrorCode;
  readonly details: string | undefined;
  readonly hint: string | undefined;
  readonly diagnostics: BuildDiagnostic[];

  constructor(code: BuildErrorCode, message: string, details?: string, hint?: string, diagnostics: BuildDiagnostic[] = []) {
    super(message);
    this.name = 'BuildError';
    this.code = code;
    this.details = details;
    this.hint = hint;
    this.diagnostics = diagnostics;
  }
}

/** `src/index.ts:2:7: error TS2322: Type 'string' is not assignable to type 'number'.` */
export function formatDiagnostic(d: BuildDiagnostic): string {
  const where = d.file ? `${d.file}${d.line ? `:${d.line}:${d.column ?? 1}` : ''}: ` : '';
  return `${where}error${d.code ? ` ${d.code}` : ''}: ${d.message}`;
}

export function fromTypeScript(tsApi: typeof ts, diagnostics: readonly ts.Diagnostic[], dir: string): BuildDiagnostic[] {
  return diagnostics.map((d) => {
    const message = tsApi.flattenDiagnosticMessageText(d.messageText, '\n  ');
    const code = `TS${d.code}`;
    if (!d.file || d.start === undefined) return { code, message };
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return { file: relativeTo(dir, d.file.fileName), line: line + 1, column: character + 1, code, message };
  });
}

/** esbuild's lines count from 1 and its columns from 0. */
export function fromEsbuild(messages: readonly esbuild.Message[]): BuildDiagnostic[] {
  return messages.map((m) => {
    const notes = m.notes.map((n) => n.text).filter(Boolean);
    const message = [m.text, ...notes].join('\n  ');
    return m.location ? { file: m.location.file, line: m.location.line, column: m.location.column + 1, message } : { message };
  });
}

function relativeTo(dir: string, file: string): string {
  const rel = relative(dir, file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel.split(sep).join('/');
}
