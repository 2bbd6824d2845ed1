/**
 * How the dev REPL shows an error from the plugin: its code and message, the
 * plugin's own frames (in its sources, when the component carries a source
 * map), and the hint. Not the host's Node.js frames, which say nothing about
 * the plugin, and not the frames of the SDK's wrappers, the build's entry
 * shim or a development build's engine, which every call passes through.
 */
import { AirlockError } from '@airlock/host';
import { ENGINE_FILE } from '../build/dev-engine.js';

/** A SpiderMonkey frame: `name@location`, the name possibly empty. */
const FRAME = /^(.*?)@(.+:\d+:\d+)$/;

/** The plugin's own frames of a stack it reported, as `at name (location)` lines. */
export function ownFrames(stack: string): string[] {
  return stack
    .split('\n')
    .map((line) => FRAME.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null && isOwn(m[2]!))
    .map((m) => (m[1] ? `at ${m[1]} (${m[2]})` : `at ${m[2]}`));
}

/** A location in the plugin's own sources: relative to it, and not a dependency. */
function isOwn(location: string): boolean {
  return (
    !location.startsWith('/') &&
    !location.startsWith('../') &&
    !location.includes('node_modules/') &&
    !location.startsWith('airlock-entry.js:') &&
    !location.startsWith('plugin.js:') &&
    // A development build's engine, which forwards every call to the bundle.
    !location.startsWith(`${ENGINE_FILE}:`)
  );
}

/** Errors made by {@link forRepl}: the REPL's writer prints their text as it is. */
const shown = new WeakSet<object>();

/** The REPL's writer, printing errors made by {@link forRepl} as their text, anything else as `writer` does. */
export function replWriter(writer: (value: unknown) => string): (value: unknown) => string {
  return (value) => (typeof value === 'object' && value !== null && shown.has(value) ? (value as Error).stack! : writer(value));
}

/** The error the REPL prints for `err`: for an Airlock error, code, message, own frames and hint; anything else as it is. */
export function forRepl(err: unknown): unknown {
  if (!AirlockError.isInstance(err)) return err;
  const details = (err as { details?: unknown }).details;
  const frames = typeof details === 'string' ? ownFrames(details) : [];
  const text = [`${err.code}: ${err.message}`, ...frames.map((f) => `    ${f}`), ...(err.hint ? [`hint: ${err.hint}`] : [])].join('\n');
  const error = new Error(err.message, { cause: err });
  error.name = err.code;
  // The writer prints `stack`; the original error stays reachable as `_error.cause`.
  Object.defineProperty(error, 'stack', { value: text, enumerable: false });
  shown.add(error);
  return error;
}

/** `fn`, with what it throws or rejects with shown for the REPL. */
export function replFriendly<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    try {
      const result = fn(...args);
      return (result instanceof Promise ? result.catch((err: unknown) => Promise.reject(forRepl(err))) : result) as R;
    } catch (err) {
      throw forRepl(err);
    }
  };
}
