/**
 * Plugin stack traces in the plugin's own sources. A plugin's JavaScript runs
 * as one bundle, so StarlingMonkey's frames read `run@plugin.js:158:5`; the
 * build attaches the bundle's source map to the component (the custom section
 * `airlock:source-map`), the host keeps it beside the transpiled component, and
 * errors that carry a plugin stack name `src/index.ts:12:7` instead.
 *
 * Invariants: mapping only rewrites locations it can resolve (anything else is
 * left as written); a map is parsed once per component, on the first stack
 * that needs it; a damaged map means no mapping, never a failed call.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';

/** A location in the bundle, as SpiderMonkey prints it: `plugin.js:LINE:COLUMN` (both 1-based). */
const BUNDLE_LOCATION = /(?<![\w/.-])plugin\.js:(\d+):(\d+)/g;

export class StackMapper {
  readonly #file: string;
  readonly #sha256: string | undefined;
  #map: TraceMap | null | undefined;

  /**
   * `file`: the source map JSON the host stored when it transpiled the
   * component; `sha256`: its recorded digest. A file that no longer has it is
   * not used (stacks stay as written).
   */
  constructor(file: string, sha256?: string) {
    this.#file = file;
    this.#sha256 = sha256;
  }

  /** `text` with every bundle location it can resolve replaced by `source:line:column`. */
  map(text: string): string {
    const map = this.#load();
    if (!map) return text;
    return text.replace(BUNDLE_LOCATION, (whole, line: string, column: string) => {
      const found = originalPositionFor(map, { line: Number(line), column: Math.max(0, Number(column) - 1) });
      return found.source === null || found.line === null ? whole : `${found.source}:${found.line}:${(found.column ?? 0) + 1}`;
    });
  }

  #load(): TraceMap | null {
    if (this.#map === undefined) {
      try {
        const bytes = readFileSync(this.#file);
        if (this.#sha256 !== undefined && createHash('sha256').update(bytes).digest('hex') !== this.#sha256) throw new Error('the source map changed');
        this.#map = new TraceMap(bytes.toString('utf8'));
      } catch {
        this.#map = null;
      }
    }
    return this.#map;
  }
}

/** `err` with the plugin stacks it carries (its message, and a plugin's `details`) in source terms. Changes the error in place. */
export function mapErrorStacks<T>(err: T, stacks: StackMapper | undefined): T {
  if (!stacks || !(err instanceof Error)) return err;
  err.message = stacks.map(err.message);
  const { details } = err as { details?: unknown };
  if (typeof details === 'string') Object.assign(err, { details: stacks.map(details) });
  return err;
}
