/**
 * Typed access to the host interfaces from plugin code. Each call crosses into
 * the host; failures arrive as a HostError with the WIT error case as `code`.
 */
/// <reference types="@airlock/wit/guest" />
import * as logImport from 'airlock:plugin/log@0.2.0';
import * as storageImport from 'airlock:plugin/storage@0.2.0';
import * as configImport from 'airlock:plugin/config@0.2.0';
import * as credentialsImport from 'airlock:plugin/credentials@0.2.0';
import * as progressImport from 'airlock:plugin/progress@0.2.0';
import * as eventsImport from 'airlock:plugin/events@0.2.0';
import { hostError } from './errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function guard<T>(iface: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw hostError(iface, e);
  }
}

/** Format one log argument. Never throws: logging must not fail a tool. */
function format(part: unknown): string {
  if (typeof part === 'string') return part;
  if (part instanceof Error) return part.stack ?? `${part.name}: ${part.message}`;
  if (part === undefined || typeof part === 'function' || typeof part === 'symbol' || typeof part === 'bigint') return String(part);
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(part, (_key, value: unknown) => {
      if (typeof value === 'bigint') return `${value}n`;
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[Circular]';
        seen.add(value);
      }
      return value;
    });
  } catch {
    return Object.prototype.toString.call(part);
  }
}

const write = (level: logImport.Level, parts: unknown[]) => logImport.write(level, parts.map(format).join(' '));

/** Log lines, tagged with the plugin by the host. */
export const log = {
  trace: (...parts: unknown[]) => write('trace', parts),
  debug: (...parts: unknown[]) => write('debug', parts),
  info: (...parts: unknown[]) => write('info', parts),
  warn: (...parts: unknown[]) => write('warn', parts),
  error: (...parts: unknown[]) => write('error', parts),
};

/**
 * Say how far the running tool call has come: `fraction` from 0 (started) to
 * 1 (done), and optionally what is happening, in a few words. Hosts show it
 * (an MCP client's progress bar). Never fails and costs next to nothing: the
 * host forwards a few reports a second and drops the rest, and reports that
 * do not move forward.
 *
 * @example
 * for (const [i, file] of files.entries()) {
 *   progress(i / files.length, `indexing ${file}`);
 *   index(file);
 * }
 */
export function progress(fraction: number, message?: string): void {
  progressImport.report(fraction, message);
}

/** The plugin's private key-value store (needs the `storage` capability). */
export const storage = {
  /** The raw bytes under `key`, or undefined. */
  get: (key: string): Uint8Array | undefined => guard('storage', () => storageImport.get(key)),
  /** The text under `key`, or undefined. */
  getText(key: string): string | undefined {
    const bytes = storage.get(key);
    return bytes === undefined ? undefined : decoder.decode(bytes);
  },
  /** The JSON value under `key`, or undefined. */
  getJson<T = unknown>(key: string): T | undefined {
    const text = storage.getText(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  },
  /** Store bytes or text under `key`. */
  set: (key: string, value: Uint8Array | string): void =>
    guard('storage', () => storageImport.set(key, typeof value === 'string' ? encoder.encode(value) : value)),
  /** Store `value` as JSON under `key`. */
  setJson: (key: string, value: unknown): void => storage.set(key, JSON.stringify(value)),
  /** Remove `key`; returns whether it existed. */
  delete: (key: string): boolean => guard('storage', () => storageImport.delete(key)),
  /** Keys starting with `prefix`, sorted. */
  list: (prefix = ''): string[] => guard('storage', () => storageImport.list(prefix)),
};

/** The configuration the user set (validated by the host against the manifest's configSchema). */
export const config = {
  /** The value of `key`, or undefined. */
  get<T = unknown>(key: string): T | undefined {
    const text = configImport.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  },
  /** All values. */
  all: (): Record<string, unknown> => JSON.parse(configImport.getAll()) as Record<string, unknown>,
};

/** An access token brokered by the host. Mirrors the contract's `credentials.token` record. */
export interface Token {
  accessToken: string;
  tokenType: string;
  /** Milliseconds since the Unix epoch. */
  expiresAt?: bigint;
  scopes: string[];
}

// Compile-time proof that Token and the generated contract type agree both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _tokenMatchesContract: Same<Token, credentialsImport.Token> = true;
void _tokenMatchesContract;

/**
 * The sign-in of auth plugins (needs the `credentials` capability naming the auth plugin).
 *
 * Two kinds of grant: a plain id (`"credentials": ["acme-login"]`) lets the
 * plugin take the token with {@link credentials.getToken}; a credential bound
 * to origins (`{ "plugin": "acme-login", "inject": ["https://api.acme.example"] }`)
 * is injected by the host: it adds `Authorization: <type> <token>` to the
 * plugin's requests to those origins (replacing one the plugin set), never to
 * another origin nor across a redirect away from them, and the plugin never
 * sees the token. Signed out, such a request fails rather than going out
 * without it. See "Credentials the host injects" in docs/PLUGIN_SDK.md.
 */
export const credentials = {
  /**
   * A fresh token from the auth plugin `authPlugin`. Throws `HostError`
   * (`denied`) without a grant, and for a credential the host injects (the
   * message names its origins: just make the request).
   */
  getToken: (authPlugin: string): Token => guard('credentials', () => credentialsImport.getToken(authPlugin)),
  /**
   * Whether the user is signed in to `authPlugin`, without taking a token:
   * works for both kinds of grant, and is how a plugin whose credential the
   * host injects checks before making requests. Throws `HostError` (`denied`)
   * without a grant.
   *
   * @example if (!credentials.signedIn('acme-login')) throw new ToolError('not-signed-in', 'run `airlock auth login acme-login`');
   */
  signedIn: (authPlugin: string): boolean => guard('credentials', () => credentialsImport.signedIn(authPlugin)),
};

/**
 * Events on named topics (needs the `events` capability). What a plugin
 * receives comes to its `onEvent` hook (see `defineToolPlugin` and the
 * others); what it publishes reaches the host and the plugins subscribed.
 */
export const events = {
  /**
   * Publish `payload` (anything JSON can carry) on `topic`, e.g. `notes.saved`.
   * Never waits for a subscriber. Throws a HostError with code `denied` (no
   * grant for the topic; the message says what to grant) or `invalid`.
   */
  publish(topic: string, payload: unknown = null): void {
    const text = JSON.stringify(payload);
    guard('events', () => eventsImport.publish(topic, text === undefined ? 'null' : text));
  },
};
