/** The HTTP endpoints: each parses its request, asks the {@link Authority}, and shapes the reply. */
import type { IncomingMessage } from 'node:http';
import type { Authority, IssuedTokens } from './authority.js';
import { OAuthError } from './errors.js';
import { html, json, optional, readForm, required, type Reply } from './http.js';
import type { Settings } from './options.js';
import { renderDevicePage } from './page.js';

/** The `grant_type` of a device access token request (RFC 8628 §3.4). */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Where each endpoint lives, relative to the server's URL. */
export const PATHS = {
  deviceAuthorization: '/device/code',
  token: '/token',
  revocation: '/revoke',
  userinfo: '/userinfo',
  verification: '/device',
  metadata: '/.well-known/oauth-authorization-server',
} as const;

/** One line of the request log. `time` is the server clock's, in milliseconds. */
export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  time: number;
  /** The `grant_type` of a token request. */
  grantType?: string;
  /** The `client_id` the request named. */
  clientId?: string;
  /** The `error` code of an error response, such as `slow_down`. */
  error?: string;
}

/** Handles one request; may fill in `record` (grant type, client) for the log. */
export type Handler = (req: IncomingMessage, query: URLSearchParams, record: RequestRecord) => Reply | Promise<Reply>;

/** Handlers by path, then by method. */
export type Routes = Map<string, Partial<Record<string, Handler>>>;

/** The handlers of every endpoint. `url` is the server's base URL. */
export function createRoutes(authority: Authority, settings: Settings, url: string): Routes {
  const verificationUri = url + PATHS.verification;

  /** Log and check the `client_id` a request names. */
  const identify = (record: RequestRecord, clientId: string): string => {
    record.clientId = clientId;
    authority.checkClient(clientId);
    return clientId;
  };

  const deviceAuthorization: Handler = async (req, _query, record) => {
    const form = await readForm(req);
    const grant = authority.authorizeDevice(identify(record, required(form, 'client_id')), optional(form, 'scope'));
    return json(200, {
      device_code: grant.deviceCode,
      user_code: grant.userCode,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${grant.userCode}`,
      expires_in: toSeconds(settings.deviceCodeTtlMs),
      interval: toSeconds(grant.intervalMs),
    });
  };

  const token: Handler = async (req, _query, record) => {
    const form = await readForm(req);
    const grantType = required(form, 'grant_type');
    record.grantType = grantType;
    if (grantType === DEVICE_CODE_GRANT) {
      const clientId = identify(record, required(form, 'client_id'));
      return tokenReply(authority.pollDeviceCode(clientId, required(form, 'device_code')));
    }
    if (grantType === 'refresh_token') {
      const clientId = optional(form, 'client_id');
      if (clientId !== undefined) identify(record, clientId);
      return tokenReply(authority.refresh(clientId, required(form, 'refresh_token'), optional(form, 'scope')));
    }
    throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported; use ${DEVICE_CODE_GRANT} or refresh_token`);
  };

  const revocation: Handler = async (req, _query, record) => {
    const form = await readForm(req);
    const tokenToRevoke = required(form, 'token');
    const clientId = optional(form, 'client_id');
    if (clientId !== undefined) identify(record, clientId);
    authority.revoke(tokenToRevoke, clientId);
    return json(200, {});
  };

  const userinfo: Handler = (req) => {
    const accessToken = /^Bearer +([\w\-.~+/]+=*) *$/i.exec(req.headers.authorization ?? '')?.[1];
    const challenge = 'Bearer realm="airlock-oauth-server"';
    // RFC 6750 §3.1: no error attributes in the challenge when the request carried no token.
    if (accessToken === undefined) {
      return json(401, { error: 'invalid_token', error_description: 'missing bearer token' }, { 'www-authenticate': challenge });
    }
    const verification = authority.verify(accessToken);
    if (!verification.valid) {
      const description = 'the access token is unknown, expired or revoked';
      const header = `${challenge}, error="invalid_token", error_description="${description}"`;
      return json(401, { error: 'invalid_token', error_description: description }, { 'www-authenticate': header });
    }
    return json(200, { sub: verification.account, name: verification.account });
  };

  const devicePage: Handler = (_req, query) => {
    const userCode = query.get('user_code') ?? '';
    const grant = authority.pendingGrant(userCode);
    return html(200, renderDevicePage({ userCode: grant?.userCode ?? userCode, request: grant }));
  };

  const deviceDecision: Handler = async (req) => {
    const form = await readForm(req);
    const userCode = form.get('user_code') ?? '';
    const action = form.get('action');
    if (action !== 'approve' && action !== 'deny') {
      return html(400, renderDevicePage({ userCode, notice: { kind: 'error', text: 'Choose Approve or Deny.' } }));
    }
    try {
      authority.decide(userCode, action === 'approve' ? 'approved' : 'denied');
    } catch (err) {
      return html(400, renderDevicePage({ userCode, notice: { kind: 'error', text: `Cannot ${action}: ${(err as Error).message}.` } }));
    }
    const text = action === 'approve' ? 'Approved. Your device is now connected.' : 'Denied. Your device will not be connected.';
    return html(200, renderDevicePage({ notice: { kind: 'success', text } }));
  };

  const issuer = settings.issuer ?? url;
  const metadata: Handler = () =>
    json(200, {
      issuer,
      device_authorization_endpoint: issuer + PATHS.deviceAuthorization,
      token_endpoint: issuer + PATHS.token,
      revocation_endpoint: issuer + PATHS.revocation,
      userinfo_endpoint: issuer + PATHS.userinfo,
      grant_types_supported: [DEVICE_CODE_GRANT, 'refresh_token'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
    });

  const routes: Routes = new Map([
    [PATHS.deviceAuthorization, { POST: deviceAuthorization }],
    [PATHS.token, { POST: token }],
    [PATHS.revocation, { POST: revocation }],
    [PATHS.userinfo, { GET: userinfo }],
    [PATHS.verification, { GET: devicePage, POST: deviceDecision }],
    [PATHS.metadata, { GET: metadata }],
  ]);
  return routes;
}

/** The successful token response (RFC 6749 §5.1); `scope` is left out when nothing was granted. */
function tokenReply(tokens: IssuedTokens): Reply {
  return json(200, {
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    expires_in: toSeconds(tokens.expiresInMs),
    refresh_token: tokens.refreshToken,
    ...(tokens.scope ? { scope: tokens.scope } : {}),
  });
}

/** Whole seconds for the wire, rounded up: fractional test durations still read as at least 1. */
function toSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}
