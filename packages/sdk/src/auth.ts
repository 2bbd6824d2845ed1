/**
 * Auth plugins: sign the user in to a service (OAuth 2.0 device flow, API
 * keys) and hand out fresh tokens. `defineAuthPlugin` turns plain (async)
 * functions into the contract's `auth` export; anything they throw or reject
 * with becomes the WIT `auth-error` (an AuthError keeps its kind) with the
 * message and, for an Error, its stack, never a trap.
 */
/// <reference types="@airlock/wit/guest" />
import type { AuthError as WitAuthError, AuthStatus, DeviceAuthorization, PollOutcome, Token } from 'airlock:plugin/auth@0.2.0';
import { lifecycleExports, type LifecycleExports, type LifecycleHooks } from './lifecycle.js';
import { HostError, failureOf } from './errors.js';

export type { AuthStatus, DeviceAuthorization, PollOutcome, Token };

export type AuthErrorCode = WitAuthError['tag'];

/** A failure with a kind the host acts on: `access-denied`, `expired`, `not-signed-in`, `refresh-failed`, `unsupported`, `protocol`, `network` or `other`. */
export class AuthError extends Error {
  readonly code: AuthErrorCode;
  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthError';
    this.code = code;
  }
}

/**
 * The WIT `auth-error` for any thrown value. Its kind: an AuthError's code;
 * `network` for a refused HTTP request or a failed fetch (a TypeError);
 * `other` for the rest. Its payload: the message and, for an Error, the stack
 * as `details`.
 */
export function toAuthError(thrown: unknown): WitAuthError {
  const val = failureOf(thrown);
  if (thrown instanceof AuthError) return { tag: thrown.code, val };
  if (thrown instanceof HostError) return { tag: thrown.code === 'HTTP-request-denied' || thrown.interface === 'http' ? 'network' : 'other', val };
  // fetch rejects with a TypeError when the request fails or is refused.
  return { tag: thrown instanceof TypeError ? 'network' : 'other', val };
}

type MaybePromise<T> = T | Promise<T>;

/** What an auth plugin implements. Every function may be async; leave out what the service does not support. */
export interface AuthDefinition extends LifecycleHooks {
  status: () => MaybePromise<AuthStatus>;
  startDeviceFlow?: () => MaybePromise<DeviceAuthorization>;
  pollDeviceFlow?: (deviceCode: string) => MaybePromise<PollOutcome>;
  setApiKey?: (key: string) => MaybePromise<AuthStatus>;
  getToken: () => MaybePromise<Token>;
  logout: () => MaybePromise<void>;
}

/** What `defineAuthPlugin` returns; the build exports it as the component's `auth` interface. */
export interface AuthPlugin {
  readonly kind: 'auth';
  readonly exports: {
    status(): Promise<AuthStatus>;
    startDeviceFlow(): Promise<DeviceAuthorization>;
    pollDeviceFlow(deviceCode: string): Promise<PollOutcome>;
    setApiKey(key: string): Promise<AuthStatus>;
    getToken(): Promise<Token>;
    logout(): Promise<void>;
  };
  /** The hooks; the build exports them as the component's `lifecycle` interface. */
  readonly lifecycle: LifecycleExports;
}

async function guarded<T>(f: () => MaybePromise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw toAuthError(e);
  }
}

function unsupported(what: string): never {
  throw new AuthError('unsupported', `this plugin does not support ${what}`);
}

/**
 * Define an auth plugin. Export the result as the module's default export.
 *
 * @example
 * export default defineAuthPlugin({
 *   status: () => ({ signedIn: false, scopes: [] }),
 *   setApiKey: (key) => { storage.set('key', key); return { signedIn: true, scopes: [], method: 'api-key' }; },
 *   getToken: () => ({ accessToken: storage.getText('key')!, tokenType: 'Bearer', scopes: [] }),
 *   logout: () => storage.delete('key'),
 * });
 */
export function defineAuthPlugin(definition: AuthDefinition): AuthPlugin {
  return {
    kind: 'auth',
    lifecycle: lifecycleExports(definition),
    exports: {
      status: () => guarded(definition.status),
      startDeviceFlow: () => guarded(() => (definition.startDeviceFlow ?? (() => unsupported('the device flow')))()),
      pollDeviceFlow: (code) => guarded(() => (definition.pollDeviceFlow ?? (() => unsupported('the device flow')))(code)),
      setApiKey: (key) => guarded(() => (definition.setApiKey ?? (() => unsupported('API keys')))(key)),
      getToken: () => guarded(definition.getToken),
      logout: () => guarded(definition.logout),
    },
  };
}
