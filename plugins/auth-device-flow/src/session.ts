/**
 * What the plugin keeps in its storage: the signed-in session (tokens,
 * expiry, scopes, account) and the device logins in progress. Storage
 * survives restarts of the plugin and of the host.
 */
import { storage } from '@airlock/sdk';

export interface Session {
  method: 'device-flow' | 'api-key';
  accessToken: string;
  tokenType: string;
  refreshToken: string | undefined;
  /** Milliseconds since the Unix epoch; undefined when the token does not expire. */
  expiresAt: number | undefined;
  /** When the token was obtained (ms since the epoch), for its lifetime; undefined in sessions stored before it was kept. */
  obtainedAt?: number;
  scopes: string[];
  account: string | undefined;
}

/** The device login started last by `start-device-flow`, while it is not finished. */
export interface PendingLogin {
  deviceCode: string;
  /** Current polling interval in seconds (grows with `slow_down`). */
  interval: number;
  expiresAt: number;
}

const SESSION = 'session';
const PENDING = 'pending-login';

export const session = {
  read: (): Session | undefined => storage.getJson<Session>(SESSION),
  write: (s: Session): void => storage.setJson(SESSION, s),
  clear: (): void => void storage.delete(SESSION),
};

export const pending = {
  /** The pending login with this device code, if it is the one started last. */
  read: (deviceCode: string): PendingLogin | undefined => {
    const login = storage.getJson<PendingLogin>(PENDING);
    return login?.deviceCode === deviceCode ? login : undefined;
  },
  write: (login: PendingLogin): void => storage.setJson(PENDING, login),
  clear: (): void => void storage.delete(PENDING),
};
