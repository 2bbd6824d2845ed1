/**
 * Typed errors. Every error the host throws is an `AirlockError` with a stable
 * string `code`; callers switch on the code, people read `message` and `hint`.
 */

import { formatProblems } from './schema.js';
import type { Refusal } from './capabilities/refusal.js';

const BRAND = Symbol.for('airlock.error');

/** Stable codes of every error the host throws. */
export type ErrorCode =
  | 'MANIFEST_INVALID'
  | 'PLUGIN_NOT_FOUND'
  | 'PLUGIN_ALREADY_LOADED'
  | 'COMPONENT_INVALID'
  | 'CONTRACT_UNSUPPORTED'
  | 'CAPABILITY_NOT_GRANTED'
  | 'CAPABILITY_UNAVAILABLE'
  | 'CONFIG_INVALID'
  /** The host's policy refuses what a plugin asks for, whatever was granted: a public-suffix wildcard, a protected directory, more memory than the host allows. */
  | 'POLICY_REFUSED'
  /** A plugin's required environment variable (`capabilities.env`, `required: true`) is not set where the host runs. */
  | 'ENV_MISSING'
  | 'TOOL_NOT_FOUND'
  | 'TOOL_AMBIGUOUS'
  | 'TOOL_ARGUMENTS_INVALID'
  | 'TOOL_FAILED'
  | 'TOOL_RESULT_INVALID'
  | 'RESULT_TOO_LARGE'
  | 'PLUGIN_BUSY'
  | 'PLUGIN_ERROR'
  | 'PLUGIN_TRAPPED'
  | 'PLUGIN_TIMEOUT'
  | 'PLUGIN_MEMORY_LIMIT'
  | 'PLUGIN_CRASHED'
  /** The plugin failed (trapped, timed out, hit its memory limit, crashed) too often in a row; its calls are refused until its backoff ends or it is reloaded. */
  | 'PLUGIN_FAILED'
  | 'PLUGIN_START_FAILED'
  /** The plugin's `init` hook refused to start the instance (its message says why); at load, the load fails. */
  | 'PLUGIN_INIT_FAILED'
  /** An event topic or payload the host was asked to publish, or a topic pattern to subscribe to, is malformed or too large. */
  | 'EVENT_INVALID'
  | 'STORAGE_FAILED'
  /** One of the home's SQLite files (`state.db`, `storage.db`) is not a readable database. Nothing was changed. */
  | 'DATABASE_CORRUPT'
  /** The host was asked not to create its home (`createHost({ create: false })`), and there is none. */
  | 'HOME_NOT_FOUND'
  /** The home path cannot hold a host's state: not a directory, not writable, or on a filesystem that is not a disk (`/proc`). */
  | 'HOME_UNUSABLE'
  | 'PROVIDER_NOT_FOUND'
  | 'PROVIDER_AUTH'
  | 'PROVIDER_RATE_LIMITED'
  | 'PROVIDER_INVALID_REQUEST'
  | 'PROVIDER_UNAVAILABLE'
  | 'PROVIDER_FAILED'
  | 'CHAT_REQUEST_INVALID'
  /** A chat stream ended without its `done` event. */
  | 'CHAT_STREAM_INCOMPLETE'
  /** `chatWithTools`: the model still asked for tools after the last round allowed. */
  | 'TOOL_ROUNDS_EXCEEDED'
  | 'AUTH_DENIED'
  | 'AUTH_EXPIRED'
  | 'AUTH_NOT_SIGNED_IN'
  | 'AUTH_REFRESH_FAILED'
  | 'AUTH_UNSUPPORTED'
  | 'AUTH_FAILED'
  | 'HOST_CLOSED'
  /** An option given to `createHost()` is malformed (e.g. a `connectTo` entry that is not an origin and a loopback URL). */
  | 'HOST_OPTIONS_INVALID'
  /** A plugin archive is corrupt: a header checksum fails, data is truncated, or it is not a (gzipped) tar. */
  | 'ARCHIVE_INVALID'
  /** A plugin archive holds an entry that could escape its directory or is not a plain file or directory. */
  | 'ARCHIVE_UNSAFE'
  /** A plugin archive is over a size limit (compressed, unpacked, one file, entries or path length). */
  | 'ARCHIVE_TOO_LARGE'
  /** A plugin's signature does not verify, or the package changed after it was signed. */
  | 'SIGNATURE_INVALID'
  /** Signed plugins are required, and a plugin is unsigned or signed by a key that is not trusted. */
  | 'SIGNATURE_REQUIRED'
  /** A signing key or trusted key is not a valid ed25519 key in PEM form. */
  | 'SIGNING_KEY_INVALID'
  /** An install source is not a directory, tarball, `npm:` spec or git URL, or holds no valid package. */
  | 'SOURCE_INVALID'
  /** An install source could not be fetched (npm or git failed). */
  | 'SOURCE_UNAVAILABLE'
  /** A plugin needs another host version (`engines.airlock`). */
  | 'PLUGIN_INCOMPATIBLE'
  /** A plugin requires another plugin that is missing, disabled, or at a version outside the range. */
  | 'DEPENDENCY_MISSING'
  /** A plugin cannot be removed or disabled while other plugins require it. */
  | 'DEPENDENTS_EXIST'
  | 'PLUGIN_NOT_INSTALLED'
  | 'PLUGIN_ALREADY_INSTALLED'
  /** An installed plugin's component or manifest changed since it was installed. */
  | 'INTEGRITY_FAILED'
  /** An update asks for capabilities the current grant lacks; it waits for the user's consent. */
  | 'CONSENT_REQUIRED'
  /** An update could not be applied; the previous version stays installed. */
  | 'UPDATE_FAILED'
  /** A hook plugin refused a tool call or chat (before it ran, or its result after): the message gives the hook's reason, `plugin` the hook plugin. */
  | 'HOOK_DENIED'
  /** A hook plugin rewrote a tool call's arguments or result, or a chat request or answer, into something the host refuses: not JSON, not valid for the tool's schema or the request's shape, another provider or model, tools not offered, or over the size limit. */
  | 'HOOK_REWRITE_INVALID'
  /** A `before` hook failed (returned an error, trapped, timed out, crashed): hooks fail closed, so the call it guards was refused. */
  | 'HOOK_FAILED'
  /** A grant item (`http <origin>`, `filesystem <path>[:read-write]`, …) is not written as its capability expects. */
  | 'GRANT_ITEM_INVALID'
  /** No loaded prompt-template plugin offers a template by that name (or qualified name). */
  | 'PROMPT_NOT_FOUND'
  /** Several loaded plugins offer a template by that name; call it by its qualified name `<plugin>.<template>`. */
  | 'PROMPT_AMBIGUOUS'
  /** A template's variables do not match its JSON Schema; the plugin was not called. */
  | 'PROMPT_ARGUMENTS_INVALID'
  /** A prompt-template plugin returned an error while rendering (`pluginCode` and the message are the plugin's). */
  | 'PROMPT_FAILED'
  /** A prompt-template plugin rendered something that is not a prompt: no messages, an unknown role, too much text. */
  | 'PROMPT_RESULT_INVALID'
  /** `host.context` was asked with a malformed query or options (a budget that is not a positive integer, …). */
  | 'CONTEXT_REQUEST_INVALID'
  /** Every context plugin asked failed (one that fails while others answer is reported in the result's `failures`). */
  | 'CONTEXT_FAILED';

export interface AirlockErrorOptions {
  /** What the caller can do about it. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** The plugin involved, if any. */
  plugin?: string;
}

/**
 * Base class of every error thrown by `@airlock/host`.
 *
 * @example
 * try { await host.callTool('add_note', {}) }
 * catch (e) { if (AirlockError.isInstance(e) && e.code === 'TOOL_ARGUMENTS_INVALID') … }
 */
export class AirlockError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly plugin: string | undefined;

  constructor(code: ErrorCode, message: string, options: AirlockErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AirlockError';
    this.code = code;
    this.hint = options.hint;
    this.plugin = options.plugin;
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is AirlockError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, hint: this.hint, plugin: this.plugin };
  }
}

/** One problem found in a manifest, located by a JSON path such as `airlock.capabilities.http[2]`. */
export interface ManifestIssue {
  path: string;
  message: string;
  hint?: string;
}

/** A plugin's manifest (the `"airlock"` field of its package.json) is invalid. */
export class ManifestError extends AirlockError {
  readonly file: string;
  /** Every problem found, not only the first: an author fixes them in one go. */
  readonly issues: readonly ManifestIssue[];

  constructor(file: string, issues: ManifestIssue[]) {
    const first = issues[0]!;
    const general = 'Fix the fields in the plugin\'s package.json; see docs/MANIFEST.md for the format.';
    const message =
      issues.length === 1
        ? `${file}: ${first.path}: ${first.message}`
        : `${file}: ${issues.length} problems in the manifest:\n${issues.map((i) => `  - ${i.path}: ${i.message}${i.hint ? ` (${i.hint})` : ''}`).join('\n')}`;
    super('MANIFEST_INVALID', message, { hint: issues.length === 1 ? (first.hint ?? general) : general });
    this.name = 'ManifestError';
    this.file = file;
    this.issues = issues;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), file: this.file, issues: this.issues };
  }
}

/** A tool's arguments do not match its JSON Schema; the plugin was not called. */
export class ToolArgumentsError extends AirlockError {
  readonly tool: string;
  readonly errors: readonly { path: string; message: string }[];

  constructor(tool: string, plugin: string, errors: { path: string; message: string }[]) {
    super('TOOL_ARGUMENTS_INVALID', `invalid arguments for tool \`${tool}\`: ${formatProblems(errors)}`, {
      plugin,
      hint: 'Call the tool with arguments that match its `parameters` schema (see host.tools()).',
    });
    this.name = 'ToolArgumentsError';
    this.tool = tool;
    this.errors = errors;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), tool: this.tool, errors: this.errors };
  }
}

/** The plugin's own code reported an error (a WIT `err`), with the plugin's message. */
export class PluginError extends AirlockError {
  /** The plugin's machine-readable error code or variant case, e.g. `not-found`. */
  readonly pluginCode: string;
  /** Extra detail from the plugin (e.g. its stack), for logs. */
  readonly details: string | undefined;
  /** What the host refused the plugin during the call (a fetch its grant does not cover); the message names them too. */
  readonly refused: readonly Refusal[];

  constructor(
    code: 'TOOL_FAILED' | 'PROMPT_FAILED' | 'PLUGIN_ERROR',
    plugin: string,
    pluginCode: string,
    message: string,
    details?: string,
    options: { hint?: string | undefined; refused?: readonly Refusal[] | undefined } = {},
  ) {
    super(code, `plugin \`${plugin}\` failed: ${message}`, { plugin, hint: options.hint });
    this.name = 'PluginError';
    this.pluginCode = pluginCode;
    this.details = details;
    this.refused = options.refused ?? [];
  }
}

/** Codes of the failures an auth plugin reports. */
export type AuthErrorCode = 'AUTH_DENIED' | 'AUTH_EXPIRED' | 'AUTH_NOT_SIGNED_IN' | 'AUTH_REFRESH_FAILED' | 'AUTH_UNSUPPORTED' | 'AUTH_FAILED';

/** An auth plugin reported a failure (a WIT `auth-error`), or a device login expired while waiting. */
export class AuthError extends AirlockError {
  declare readonly code: AuthErrorCode;
  /** The `auth-error` case, e.g. `access-denied`; `undefined` when the plugin sent no valid one. */
  readonly pluginCode: string | undefined;
  /** Extra detail from the plugin (e.g. its stack), for logs. */
  readonly details: string | undefined;
  /** What the host refused the plugin during the call (a fetch its grant does not cover); the message names them too. */
  readonly refused: readonly Refusal[];

  constructor(
    code: AuthErrorCode,
    message: string,
    options: { plugin: string; pluginCode?: string | undefined; details?: string | undefined; hint?: string | undefined; refused?: readonly Refusal[] | undefined },
  ) {
    super(code, message, { plugin: options.plugin, hint: options.hint });
    this.name = 'AuthError';
    this.pluginCode = options.pluginCode;
    this.details = options.details;
    this.refused = options.refused ?? [];
  }
}

/** Codes of the failures a provider plugin reports. */
export type ProviderErrorCode = 'PROVIDER_AUTH' | 'PROVIDER_RATE_LIMITED' | 'PROVIDER_INVALID_REQUEST' | 'PROVIDER_UNAVAILABLE' | 'PROVIDER_FAILED';

/** A provider plugin reported a failure (a WIT `provider-error`). */
export class ProviderError extends AirlockError {
  declare readonly code: ProviderErrorCode;
  /** The `provider-error` case, e.g. `rate-limited`; `undefined` when the plugin sent no valid one. */
  readonly pluginCode: string | undefined;
  /** Extra detail from the plugin (e.g. its stack), for logs. */
  readonly details: string | undefined;
  /** For `PROVIDER_RATE_LIMITED`: how long the backend asked to wait, when it said. */
  readonly retryAfterMs: number | undefined;
  /** What the host refused the plugin during the call (a fetch its grant does not cover); the message names them too. */
  readonly refused: readonly Refusal[];

  constructor(
    code: ProviderErrorCode,
    message: string,
    options: {
      plugin: string;
      pluginCode?: string | undefined;
      details?: string | undefined;
      retryAfterMs?: number | undefined;
      hint?: string | undefined;
      refused?: readonly Refusal[] | undefined;
    },
  ) {
    super(code, message, { plugin: options.plugin, hint: options.hint });
    this.name = 'ProviderError';
    this.pluginCode = options.pluginCode;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
    this.refused = options.refused ?? [];
  }
}
