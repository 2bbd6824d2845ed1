/** Errors of the test harness itself. Errors of the host pass through unchanged (AirlockError). */

/** Stable codes of the harness's own errors. */
export type TestHostErrorCode =
  /** The plugin directory does not exist, has no package.json, or its package.json has no `"airlock"` manifest. */
  | 'PLUGIN_DIR_INVALID'
  /** Building the plugin failed (type errors, bundling, componentizing); `details` holds the compiler output. */
  | 'BUILD_FAILED'
  /** `build: false` and the plugin has no component yet. */
  | 'COMPONENT_MISSING'
  /** An entry of the `fetch` table is not an origin mapped to a handler or a loopback server URL. */
  | 'FAKE_ORIGIN_INVALID'
  /** Another option is malformed. */
  | 'OPTIONS_INVALID'
  /** A helper was used on a plugin of another kind (e.g. `deviceLogin` on a tool plugin). */
  | 'WRONG_KIND'
  /** The test host was used after `close()`. */
  | 'CLOSED';

const BRAND = Symbol.for('airlock.test-host-error');

/** An error of the test harness: `code` to switch on, `message` and `hint` to read, `details` for long output. */
export class TestHostError extends Error {
  readonly [BRAND] = true;
  readonly code: TestHostErrorCode;
  /** What to do about it. */
  readonly hint: string | undefined;
  /** Long output, e.g. the compiler's messages of a failed build. */
  readonly details: string | undefined;

  constructor(code: TestHostErrorCode, message: string, options: { hint?: string; details?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TestHostError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is TestHostError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
