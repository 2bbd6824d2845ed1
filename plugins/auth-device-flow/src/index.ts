/**
 * Sign in with the OAuth 2.0 device authorization grant (RFC 8628) against
 * any provider the configuration names: GitHub, Google, Microsoft, or the
 * loopback server in `tools/oauth-server`. Tokens live in the plugin's
 * storage; `get-token` refreshes them shortly before they expire, and
 * `logout` revokes them where the provider allows.
 *
 * Nothing here logs a token: the host masks tokens it sees, but a plugin
 * should not rely on that.
 */
import { AuthError, config, defineAuthPlugin, log, type AuthStatus, type DeviceAuthorization, type PollOutcome, type Token } from '@airlock/sdk';
import { describe, isObject, originOf, postForm, seconds, tokenResponse, type Settings, type TokenResponse } from './oauth.js';
import { pending, session, type Session } from './session.js';
import { discover } from './discovery.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * The configuration, with the endpoints it leaves out taken from the
 * issuer's metadata when it names an `issuer` (configured ones win).
 */
async function settings(): Promise<Settings> {
  const all = config.all();
  const text = (key: string) => (typeof all[key] === 'string' && all[key] !== '' ? (all[key] as string) : undefined);
  const issuer = text('issuer');
  const configured = {
    deviceAuthorizationEndpoint: text('deviceAuthorizationEndpoint'),
    tokenEndpoint: text('tokenEndpoint'),
    revocationEndpoint: text('revocationEndpoint'),
    userinfoEndpoint: text('userinfoEndpoint'),
  };
  const found = issuer && (!configured.deviceAuthorizationEndpoint || !configured.tokenEndpoint) ? await discover(issuer) : undefined;
  const endpoint = (key: keyof typeof configured) => configured[key] ?? found?.[key];
  const deviceAuthorizationEndpoint = endpoint('deviceAuthorizationEndpoint');
  const tokenEndpoint = endpoint('tokenEndpoint');
  if (!deviceAuthorizationEndpoint || !tokenEndpoint) {
    throw new AuthError('unsupported', `${issuer ?? 'the configured server'} has no ${deviceAuthorizationEndpoint ? 'token endpoint' : 'device authorization endpoint'} in its metadata: it may not offer the device flow; configure the endpoint if it does`);
  }
  return {
    clientId: text('clientId') ?? '',
    clientSecret: text('clientSecret'),
    deviceAuthorizationEndpoint,
    tokenEndpoint,
    revocationEndpoint: endpoint('revocationEndpoint'),
    userinfoEndpoint: endpoint('userinfoEndpoint'),
    scopes: Array.isArray(all.scopes) ? (all.scopes as string[]) : [],
    refreshMarginSeconds: refreshMarginSeconds(all.refreshMarginSeconds),
  };
}

const statusOf = (s: Session | undefined): AuthStatus => ({
  signedIn: s !== undefined && (s.refreshToken !== undefined || s.expiresAt === undefined || s.expiresAt > Date.now()),
  account: s?.account,
  expiresAt: s?.expiresAt === undefined ? undefined : BigInt(s.expiresAt),
  scopes: s?.scopes ?? [],
  method: s?.method,
});

/** A session from a token answer; what the answer leaves out is kept from `previous`. */
function sessionFrom(answer: TokenResponse, requested: string[], previous?: Session): Session {
  return {
    method: 'device-flow',
    accessToken: answer.access_token,
    tokenType: answer.token_type ? capitalise(answer.token_type) : 'Bearer',
    refreshToken: answer.refresh_token ?? previous?.refreshToken,
    expiresAt: answer.expires_in === undefined ? undefined : Date.now() + seconds(answer.expires_in, 0) * 1000,
    obtainedAt: Date.now(),
    scopes: typeof answer.scope === 'string' ? answer.scope.split(/[ ,]+/).filter(Boolean) : (previous?.scopes ?? requested),
    account: previous?.account,
  };
}

const capitalise = (s: string) => (s.toLowerCase() === 'bearer' ? 'Bearer' : s);

/** The account name from the userinfo endpoint, when one is configured; undefined if it cannot say. */
async function accountName(s: Settings, token: string): Promise<string | undefined> {
  if (!s.userinfoEndpoint) return undefined;
  try {
    const res = await fetch(s.userinfoEndpoint, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    const body: unknown = res.ok ? await res.json() : undefined;
    if (!isObject(body)) return undefined;
    const name = [body.login, body.preferred_username, body.email, body.name, body.sub].find((v) => typeof v === 'string' && v !== '');
    return name as string | undefined;
  } catch (e) {
    log.debug(`userinfo at ${originOf(s.userinfoEndpoint)} failed: ${(e as Error).message}`);
    return undefined;
  }
}

async function startDeviceFlow(): Promise<DeviceAuthorization> {
  const s = await settings();
  const answer = await postForm<Record<string, unknown>>(s.deviceAuthorizationEndpoint, {
    client_id: s.clientId,
    scope: s.scopes.length ? s.scopes.join(' ') : undefined,
  });
  if (!answer.ok) throw new AuthError('protocol', `${originOf(s.deviceAuthorizationEndpoint)} refused to start a device login (${describe(answer.error)})`);
  const b = answer.body;
  const verificationUri = b.verification_uri ?? b.verification_url;
  if (typeof b.device_code !== 'string' || typeof b.user_code !== 'string' || typeof verificationUri !== 'string') {
    throw new AuthError('protocol', `${originOf(s.deviceAuthorizationEndpoint)} answered without device_code, user_code and verification_uri`);
  }
  const expiresIn = seconds(b.expires_in, 900);
  const interval = seconds(b.interval, 5);
  pending.write({ deviceCode: b.device_code, interval, expiresAt: Date.now() + expiresIn * 1000 });
  return {
    deviceCode: b.device_code,
    userCode: b.user_code,
    verificationUri,
    verificationUriComplete: typeof b.verification_uri_complete === 'string' ? b.verification_uri_complete : undefined,
    expiresIn,
    interval,
  };
}

async function pollDeviceFlow(deviceCode: string): Promise<PollOutcome> {
  const s = await settings();
  const login = pending.read(deviceCode);
  const answer = await postForm<unknown>(s.tokenEndpoint, {
    grant_type: DEVICE_CODE_GRANT,
    device_code: deviceCode,
    client_id: s.clientId,
    client_secret: s.clientSecret,
  });
  if (answer.ok) {
    const signedIn = sessionFrom(tokenResponse(answer.body, s.tokenEndpoint), s.scopes);
    signedIn.account = await accountName(s, signedIn.accessToken);
    session.write(signedIn);
    pending.clear();
    log.info(`signed in${signedIn.account ? ` as ${signedIn.account}` : ''} at ${originOf(s.tokenEndpoint)}`);
    return { tag: 'complete', val: statusOf(signedIn) };
  }
  switch (answer.error.error) {
    case 'authorization_pending':
      return { tag: 'pending' };
    case 'slow_down': {
      // RFC 8628 §3.5: add 5 seconds; GitHub also says the new interval.
      const current = login?.interval ?? 5;
      const interval = Math.max(current + 5, seconds(answer.error.interval, 0));
      if (login) pending.write({ ...login, interval });
      return { tag: 'slow-down', val: interval };
    }
    case 'access_denied':
      pending.clear();
      throw new AuthError('access-denied', 'the user declined the sign-in at the verification page');
    case 'expired_token':
      pending.clear();
      throw new AuthError('expired', 'the user code expired before the user finished; start a new login');
    default:
      throw new AuthError('protocol', `${originOf(s.tokenEndpoint)} refused the device code (${describe(answer.error)})`);
  }
}

/** One refresh at a time: concurrent callers share it (a rotated refresh token works once). */
let refreshing: Promise<Session> | undefined;

async function refresh(s: Settings, current: Session): Promise<Session> {
  const answer = await postForm<unknown>(s.tokenEndpoint, {
    grant_type: 'refresh_token',
    refresh_token: current.refreshToken,
    client_id: s.clientId,
    client_secret: s.clientSecret,
  });
  if (!answer.ok) {
    if (answer.error.error === 'invalid_grant') {
      // The grant is gone (revoked, rotated elsewhere, expired): only a new sign-in helps.
      session.clear();
      throw new AuthError('refresh-failed', `the provider no longer accepts the refresh token (${describe(answer.error)}); sign in again`);
    }
    throw new AuthError('refresh-failed', `${originOf(s.tokenEndpoint)} refused to refresh the token (${describe(answer.error)})`);
  }
  const next = sessionFrom(tokenResponse(answer.body, s.tokenEndpoint), s.scopes, current);
  session.write(next);
  log.info('refreshed the access token');
  return next;
}

/** The configured refresh margin in seconds (60 unless set). */
const refreshMarginSeconds = (configured: unknown): number => (typeof configured === 'number' ? configured : 60);

/**
 * When a token is refreshed: `refreshMarginSeconds` before it expires, but
 * never more than a quarter of its lifetime before, so that a token living a
 * minute (or less) is used for most of its life instead of being refreshed on
 * every call.
 */
function refreshDueAt(s: Pick<Settings, 'refreshMarginSeconds'>, expiresAt: number, obtainedAt: number | undefined): number {
  const lifetime = obtainedAt === undefined ? Infinity : Math.max(0, expiresAt - obtainedAt);
  return expiresAt - Math.min(s.refreshMarginSeconds * 1000, lifetime / 4);
}

async function getToken(): Promise<Token> {
  let current = session.read();
  if (!current) throw new AuthError('not-signed-in', 'nobody is signed in; start a device login');
  const now = Date.now();
  const margin = { refreshMarginSeconds: refreshMarginSeconds(config.get('refreshMarginSeconds')) };
  const due = current.expiresAt !== undefined && now >= refreshDueAt(margin, current.expiresAt, current.obtainedAt);
  if (due) {
    if (current.refreshToken === undefined) {
      if (now >= current.expiresAt!) throw new AuthError('not-signed-in', 'the token expired and the provider gave no refresh token; sign in again');
    } else {
      const stillValid = now < current.expiresAt!;
      try {
        // The endpoints (and the issuer's metadata, when they come from it) are needed only to refresh.
        const s = await settings();
        refreshing ??= refresh(s, current).finally(() => (refreshing = undefined));
        current = await refreshing;
      } catch (e) {
        // A provider that cannot be reached right now does not end a session whose token still works.
        if (!(e instanceof AuthError && e.code === 'network' && stillValid)) throw e;
        log.warn(`could not refresh the token yet: ${e.message}`);
      }
    }
  }
  return {
    accessToken: current.accessToken,
    tokenType: current.tokenType,
    expiresAt: current.expiresAt === undefined ? undefined : BigInt(current.expiresAt),
    scopes: current.scopes,
  };
}

function setApiKey(key: string): AuthStatus {
  if (key.trim() === '' || /\s/.test(key)) throw new AuthError('other', 'an API key is one word without spaces');
  const signedIn: Session = { method: 'api-key', accessToken: key, tokenType: 'Bearer', refreshToken: undefined, expiresAt: undefined, scopes: [], account: undefined };
  session.write(signedIn);
  return statusOf(signedIn);
}

/** Forget the session first, so the user is signed out even when revocation fails, then revoke it. */
async function logout(): Promise<void> {
  const old = session.read();
  session.clear();
  pending.clear();
  if (!old || old.method !== 'device-flow') return;
  const s = await settings().catch((e: unknown) => void log.warn(`cannot revoke the tokens: ${(e as Error).message}`));
  if (!s?.revocationEndpoint) return;
  // RFC 7009: revoking the refresh token ends the grant; the access token is revoked too for servers that do not cascade.
  const tokens: [string, string][] = [[old.accessToken, 'access_token']];
  if (old.refreshToken) tokens.unshift([old.refreshToken, 'refresh_token']);
  for (const [token, hint] of tokens) {
    try {
      const answer = await postForm(s.revocationEndpoint, { token, token_type_hint: hint, client_id: s.clientId, client_secret: s.clientSecret });
      if (!answer.ok) log.warn(`revoking the ${hint} failed (${describe(answer.error)}); it stays valid until it expires`);
    } catch (e) {
      log.warn(`revoking the ${hint} failed: ${(e as Error).message}; it stays valid until it expires`);
    }
  }
}

export default defineAuthPlugin({
  status: () => statusOf(session.read()),
  startDeviceFlow,
  pollDeviceFlow,
  setApiKey,
  getToken,
  logout,
});
