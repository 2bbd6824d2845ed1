/**
 * The authorization server's state, without HTTP: device grants (RFC 8628), access and refresh
 * tokens (RFC 6749), revocation (RFC 7009). Protocol failures are thrown as {@link OAuthError}s.
 */
import { newOpaqueToken, newUserCode, normalizeUserCode } from './codes.js';
import { OAuthError } from './errors.js';
import type { Settings } from './options.js';

/** A device authorization request and where the user's decision on it stands. */
export interface DeviceGrant {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly clientId: string;
  readonly scope: string;
  readonly expiresAt: number;
  /** The current minimum time between polls; grows with each `slow_down`. */
  intervalMs: number;
  lastPolledAt?: number;
  status: 'pending' | 'approved' | 'denied' | 'exchanged';
}

/** What the user approved: the tokens issued from one device grant, through all refreshes. */
interface Authorization {
  readonly clientId: string;
  readonly account: string;
  readonly scope: string;
}

interface AccessToken {
  readonly authorization: Authorization;
  readonly scope: string;
  readonly expiresAt: number;
}

/** Tokens issued by a successful token request. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresInMs: number;
  scope: string;
}

/**
 * The outcome of {@link OAuthServer.verifyAccessToken}. `scope` is space-separated, empty when
 * none was granted; `expiresAt` is in milliseconds of the server's clock.
 */
export type TokenVerification =
  | { valid: true; clientId: string; account: string; scope: string; expiresAt: number }
  | { valid: false };

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Issues, tracks and checks codes and tokens, on the clock and policy of its {@link Settings}. */
export class Authority {
  private readonly grantsByDeviceCode = new Map<string, DeviceGrant>();
  private readonly grantsByUserCode = new Map<string, DeviceGrant>();
  private readonly accessTokens = new Map<string, AccessToken>();
  private readonly refreshTokens = new Map<string, Authorization>();

  constructor(private readonly settings: Settings) {}

  /** Throw `invalid_client` unless `clientId` is one of the configured clients. */
  checkClient(clientId: string): void {
    if (!this.settings.clients.has(clientId)) throw new OAuthError('invalid_client', `unknown client_id ${JSON.stringify(clientId)}`);
  }

  /** Start a device authorization (RFC 8628 §3.1–3.2). `scope` is the raw parameter, if any. */
  authorizeDevice(clientId: string, scope: string | undefined): DeviceGrant {
    let userCode = newUserCode();
    while (this.grantsByUserCode.has(userCode)) userCode = newUserCode();
    const grant: DeviceGrant = {
      deviceCode: newOpaqueToken(),
      userCode,
      clientId,
      scope: parseScope(scope).join(' '),
      expiresAt: this.settings.now() + this.settings.deviceCodeTtlMs,
      intervalMs: this.settings.intervalMs,
      status: 'pending',
    };
    this.grantsByDeviceCode.set(grant.deviceCode, grant);
    this.grantsByUserCode.set(grant.userCode, grant);
    return grant;
  }

  /** A poll of the token endpoint with a device code (RFC 8628 §3.4–3.5). */
  pollDeviceCode(clientId: string, deviceCode: string): IssuedTokens {
    const grant = this.grantsByDeviceCode.get(deviceCode);
    if (!grant || grant.clientId !== clientId) throw new OAuthError('invalid_grant', 'unknown device_code');
    if (grant.status === 'exchanged') throw new OAuthError('invalid_grant', 'the device_code was already exchanged for tokens');
    const now = this.settings.now();
    if (now >= grant.expiresAt) throw new OAuthError('expired_token', 'the device_code has expired');
    const tooSoon = grant.lastPolledAt !== undefined && now - grant.lastPolledAt < grant.intervalMs;
    grant.lastPolledAt = now;
    if (grant.status === 'pending' && this.settings.autoApprove) grant.status = 'approved';
    if (grant.status === 'denied') throw new OAuthError('access_denied', 'the user denied the request');
    if (grant.status === 'approved') {
      grant.status = 'exchanged';
      return this.issue({ clientId, account: this.settings.account, scope: grant.scope }, grant.scope);
    }
    if (tooSoon) {
      grant.intervalMs += this.settings.slowDownStepMs;
      throw new OAuthError('slow_down', `polling too fast; wait ${grant.intervalMs / 1000} s between requests`);
    }
    throw new OAuthError('authorization_pending', 'the user has not approved the request yet');
  }

  /**
   * A refresh token grant (RFC 6749 §6). The refresh token rotates: the one presented becomes
   * invalid. `scope`, if given, may only narrow the originally granted scope.
   */
  refresh(clientId: string | undefined, refreshToken: string, scope: string | undefined): IssuedTokens {
    const authorization = this.refreshTokens.get(refreshToken);
    if (!authorization || (clientId !== undefined && authorization.clientId !== clientId)) {
      throw new OAuthError('invalid_grant', 'unknown, rotated or revoked refresh_token');
    }
    const granted = parseScope(authorization.scope);
    const requested = scope === undefined ? granted : parseScope(scope);
    const excess = requested.filter((s) => !granted.includes(s));
    if (excess.length) throw new OAuthError('invalid_scope', `scope beyond the original grant: ${excess.join(' ')}`);
    this.refreshTokens.delete(refreshToken);
    return this.issue(authorization, requested.join(' '));
  }

  /** The unexpired, undecided grant a user code names, in any spelling a user may type it. */
  pendingGrant(userCode: string): DeviceGrant | undefined {
    const grant = this.grantsByUserCode.get(normalizeUserCode(userCode));
    return grant?.status === 'pending' && this.settings.now() < grant.expiresAt ? grant : undefined;
  }

  /** Record the user's decision. Throws an `Error` for unknown, expired or already decided codes. */
  decide(userCode: string, decision: 'approved' | 'denied'): void {
    const grant = this.grantsByUserCode.get(normalizeUserCode(userCode));
    if (!grant) throw new Error(`unknown user code ${JSON.stringify(userCode)}`);
    if (this.settings.now() >= grant.expiresAt) throw new Error(`user code ${grant.userCode} has expired`);
    if (grant.status !== 'pending') throw new Error(`user code ${grant.userCode} was already ${grant.status === 'denied' ? 'denied' : 'approved'}`);
    grant.status = decision;
  }

  /** The current polling interval of a device code, in milliseconds. Throws for unknown codes. */
  pollIntervalMs(deviceCode: string): number {
    const grant = this.grantsByDeviceCode.get(deviceCode);
    if (!grant) throw new Error('unknown device code');
    return grant.intervalMs;
  }

  /** Whether `token` is a live (issued, unexpired, unrevoked) access token, and what it grants. */
  verify(token: string): TokenVerification {
    const entry = this.accessTokens.get(token);
    if (!entry || this.settings.now() >= entry.expiresAt) return { valid: false };
    const { clientId, account } = entry.authorization;
    return { valid: true, clientId, account, scope: entry.scope, expiresAt: entry.expiresAt };
  }

  /**
   * Revoke an access or refresh token (RFC 7009 §2.1). Revoking a refresh token also revokes the
   * access tokens of the same authorization. Unknown tokens, and tokens of another client than
   * `clientId` (when given), are left alone.
   */
  revoke(token: string, clientId: string | undefined): void {
    const owned = (a: Authorization) => clientId === undefined || a.clientId === clientId;
    const access = this.accessTokens.get(token);
    if (access && owned(access.authorization)) this.accessTokens.delete(token);
    const authorization = this.refreshTokens.get(token);
    if (authorization && owned(authorization)) {
      this.refreshTokens.delete(token);
      for (const [key, entry] of this.accessTokens) if (entry.authorization === authorization) this.accessTokens.delete(key);
    }
  }

  /**
   * Revoke every token issued so far, as when the user withdraws the application's access in
   * the provider's settings. Returns how many refresh tokens were revoked.
   */
  revokeAll(): number {
    const count = this.refreshTokens.size;
    this.refreshTokens.clear();
    this.accessTokens.clear();
    return count;
  }

  private issue(authorization: Authorization, scope: string): IssuedTokens {
    const accessToken = newOpaqueToken();
    const refreshToken = newOpaqueToken();
    const expiresInMs = this.settings.accessTokenTtlMs;
    this.accessTokens.set(accessToken, { authorization, scope, expiresAt: this.settings.now() + expiresInMs });
    this.refreshTokens.set(refreshToken, authorization);
    return { accessToken, refreshToken, expiresInMs, scope };
  }
}

/** Split a `scope` parameter into distinct scope tokens, rejecting malformed ones with `invalid_scope`. */
function parseScope(scope: string | undefined): string[] {
  const tokens = (scope ?? '').split(' ').filter(Boolean);
  const bad = tokens.find((t) => !SCOPE_TOKEN.test(t));
  if (bad !== undefined) throw new OAuthError('invalid_scope', `malformed scope token ${JSON.stringify(bad)}`);
  return [...new Set(tokens)];
}
