/**
 * Auth plugins, as the host drives them: start a device login, wait for the
 * user honouring the server's interval and `slow_down`, report status, hand
 * out tokens, log out. Token values are registered with the host's secret
 * scrubber so they never appear in logs or errors.
 */
import { AuthError, type AuthErrorCode } from '../errors.js';
import { errorOf, refusalsOf, type PluginCaller } from '../sandbox/instance.js';
import { explainRefusals, type Refusal } from '../capabilities/refusal.js';

export interface AuthStatus {
  signedIn: boolean;
  account: string | undefined;
  /** When the current token expires (ms since the Unix epoch). */
  expiresAt: number | undefined;
  scopes: string[];
  /** `device-flow` or `api-key`. */
  method: string | undefined;
}

export interface Token {
  accessToken: string;
  tokenType: string;
  expiresAt: number | undefined;
  scopes: string[];
}

/** A device login in progress: show `userCode` and `verificationUri` to the user, then `wait()`. */
export interface DeviceLogin {
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | undefined;
  /** When the code expires (ms since the Unix epoch). */
  expiresAt: number;
  /** Current polling interval in seconds (grows on `slow_down`). */
  readonly interval: number;
  /** Poll until the user finishes. Rejects with AUTH_DENIED, AUTH_EXPIRED, or the signal's reason. */
  wait(options?: { signal?: AbortSignal }): Promise<AuthStatus>;
}

/** The contract's `auth-error`: a case, with a `failure` record. */
type WitAuthError = { tag: string; val: { message: string; details?: string } };

const CODES: Record<string, AuthErrorCode> = {
  'access-denied': 'AUTH_DENIED',
  expired: 'AUTH_EXPIRED',
  'not-signed-in': 'AUTH_NOT_SIGNED_IN',
  'refresh-failed': 'AUTH_REFRESH_FAILED',
  unsupported: 'AUTH_UNSUPPORTED',
};

/** The `auth-error` case and failure record in what a plugin sent, if it is one. */
export function readAuthError(error: unknown): WitAuthError | undefined {
  const e = error as Partial<WitAuthError> | null | undefined;
  if (!e || typeof e !== 'object' || typeof e.tag !== 'string' || !e.val || typeof e.val !== 'object' || typeof e.val.message !== 'string') return undefined;
  return { tag: e.tag, val: { message: e.val.message, details: typeof e.val.details === 'string' ? e.val.details : undefined } };
}

/** An AuthError for an auth plugin's WIT error, with the plugin's stack as `details` and what the host refused it meanwhile. */
export function authError(pluginId: string, what: string, error: unknown, refused?: Refusal[]): AuthError {
  const e = readAuthError(error);
  const code = (e && CODES[e.tag]) ?? 'AUTH_FAILED';
  const detail = e ? `${e.tag}: ${e.val.message}` : String(error);
  const hint =
    code === 'AUTH_NOT_SIGNED_IN' || code === 'AUTH_REFRESH_FAILED' || code === 'AUTH_EXPIRED'
      ? `Sign in again: \`airlock auth login ${pluginId}\`.`
      : code === 'AUTH_DENIED'
        ? 'The sign-in was declined at the verification page; start again to retry.'
        : undefined;
  const explained = explainRefusals(`auth plugin \`${pluginId}\` ${what} failed (${detail})`, refused, hint);
  return new AuthError(code, explained.message, { plugin: pluginId, pluginCode: e?.tag, details: e?.val.details, hint: explained.hint, refused });
}

const toStatus = (v: { signedIn: boolean; account?: string; expiresAt?: bigint; scopes: string[]; method?: string }): AuthStatus => ({
  signedIn: v.signedIn,
  account: v.account,
  expiresAt: v.expiresAt === undefined ? undefined : Number(v.expiresAt),
  scopes: [...v.scopes],
  method: v.method,
});

export const toToken = (v: { accessToken: string; tokenType: string; expiresAt?: bigint; scopes: string[] }): Token => ({
  accessToken: v.accessToken,
  tokenType: v.tokenType,
  expiresAt: v.expiresAt === undefined ? undefined : Number(v.expiresAt),
  scopes: [...v.scopes],
});

/** Time as a device login sees it; tests pass one that records the waits instead of waiting. */
export interface LoginClock {
  now(): number;
  sleep(ms: number, signal: AbortSignal | undefined): Promise<void>;
}

const realClock: LoginClock = { now: () => Date.now(), sleep };

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type HoldLogs = <T>(call: () => Promise<T>, secrets: (value: T) => string[]) => Promise<T>;

/** What the host lends an AuthClient to keep secrets out of logs and errors. */
export interface SecretKeeping {
  /** Add a value to what the host masks. */
  rememberSecret: (secret: string) => void;
  /** Run a call whose result holds secrets with the plugin's log lines held until those are known. */
  holdingLogs: HoldLogs;
  /** Mask known secrets in an error before it is thrown to the caller. */
  masked: (err: unknown) => unknown;
}

/** The host's handle on one auth plugin. */
export class AuthClient {
  readonly #id: string;
  readonly #caller: PluginCaller;
  readonly #secrets: SecretKeeping;
  readonly #clock: LoginClock;

  constructor(id: string, caller: PluginCaller, secrets: SecretKeeping, clock: LoginClock = realClock) {
    this.#id = id;
    this.#caller = caller;
    this.#secrets = secrets;
    this.#clock = clock;
  }

  async #call<T>(fn: string, args: unknown[], what: string): Promise<T> {
    const outcome = await this.#caller.call(`auth.${fn}`, args).catch((err: unknown) => {
      throw this.#secrets.masked(err);
    });
    if (!outcome.ok) throw this.#secrets.masked(authError(this.#id, what, errorOf(outcome), refusalsOf(outcome)));
    return outcome.value as T;
  }

  async status(): Promise<AuthStatus> {
    return toStatus(await this.#call('status', [], 'status'));
  }

  /** A fresh token (refreshed by the plugin when near expiry). */
  async token(): Promise<Token> {
    return this.#secrets.holdingLogs(
      async () => toToken(await this.#call('getToken', [], 'get-token')),
      (token) => [token.accessToken],
    );
  }

  async setApiKey(key: string): Promise<AuthStatus> {
    this.#secrets.rememberSecret(key);
    return toStatus(await this.#call('setApiKey', [key], 'set-api-key'));
  }

  async logout(): Promise<void> {
    await this.#call('logout', [], 'logout');
  }

  /** Start a device login (RFC 8628): ask the plugin for a user code. */
  async login(): Promise<DeviceLogin> {
    const clock = this.#clock;
    const started = clock.now();
    const auth = await this.#call<{ deviceCode: string; userCode: string; verificationUri: string; verificationUriComplete?: string; expiresIn: number; interval: number }>(
      'startDeviceFlow',
      [],
      'start-device-flow',
    );
    this.#secrets.rememberSecret(auth.deviceCode);
    let interval = Math.max(1, auth.interval);
    const expiresAt = started + auth.expiresIn * 1000;
    const poll = (code: string) => this.#call<{ tag: 'pending' } | { tag: 'slow-down'; val: number } | { tag: 'complete'; val: Parameters<typeof toStatus>[0] }>('pollDeviceFlow', [code], 'poll-device-flow');
    const id = this.#id;
    return {
      userCode: auth.userCode,
      verificationUri: auth.verificationUri,
      verificationUriComplete: auth.verificationUriComplete,
      expiresAt,
      get interval() {
        return interval;
      },
      async wait(options = {}) {
        for (;;) {
          await clock.sleep(interval * 1000, options.signal);
          if (clock.now() > expiresAt) throw authError(id, 'login', { tag: 'expired', val: { message: 'the user code expired before the user finished' } });
          const outcome = await poll(auth.deviceCode);
          if (outcome.tag === 'complete') return toStatus(outcome.val);
          if (outcome.tag === 'slow-down') interval = Math.max(interval, outcome.val);
        }
      },
    };
  }
}
