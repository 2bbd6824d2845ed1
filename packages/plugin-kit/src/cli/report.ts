/** How the command reports builds and build errors. */
import { basename } from 'node:path';
import { formatDiagnostic, type BuildResult } from '../build/index.js';
import { dim, green, red, yellow } from './paint.js';

/** `built notes (tool) → …/plugin.wasm` and a line with size, time and whether the cache served it. */
export function describeBuild(result: BuildResult, verb = 'built'): string {
  const mb = (result.bytes / 1024 / 1024).toFixed(1);
  const steps = `typecheck ${fmt(result.ms.typecheck)}, bundle ${fmt(result.ms.bundle)}`;
  const engine = result.dev ? 'engine ' : '';
  const how = result.cached ? `${engine}cached; ${steps}` : `${steps}, ${engine}componentize ${fmt(result.ms.componentize)}`;
  const kind = `${result.kind}${result.release ? ', release' : ''}${result.dev ? ', development build' : ''}`;
  const output = result.bundle ? `${result.component} + ${basename(result.bundle)}` : result.component;
  return `${green(verb)} ${result.id} (${kind}) → ${output}\n` + `  ${mb} MB in ${(result.ms.total / 1000).toFixed(1)} s ${dim(`(${how})`)}\n`;
}

/** The error, its compiler messages (`file:line:col: …`, location highlighted on a terminal) and its hint. */
export function describeError(err: Error, dir?: string, title = 'build failed'): string {
  const e = err as Error & { details?: string; hint?: string; diagnostics?: { file?: string; line?: number; column?: number; code?: string; message: string }[] };
  let out = `${red(title)}: ${dir && !e.message.includes(dir) ? `${dir}: ` : ''}${e.message}\n`;
  if (e.diagnostics?.length) {
    for (const d of e.diagnostics) {
      const line = formatDiagnostic(d);
      const at = d.file ? line.indexOf(': error') : -1;
      out += at > 0 ? `${yellow(line.slice(0, at))}${line.slice(at)}\n` : `${line}\n`;
    }
  } else if (e.details) out += `${e.details.trimEnd()}\n`;
  if (e.hint) out += `${dim('hint:')} ${e.hint}\n`;
  return out;
}

export const fmt = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
