/**
 * @airlock/oauth-server — a loopback OAuth 2.0 authorization server for tests, demos and plugin
 * authors: the device authorization grant (RFC 8628), refresh tokens with rotation (RFC 6749 §6),
 * token revocation (RFC 7009), a `/userinfo` endpoint and server metadata (RFC 8414).
 */
export { startOAuthServer, type OAuthServer, type OAuthServerEvents } from './server.js';
export type { OAuthServerOptions } from './options.js';
export type { TokenVerification } from './authority.js';
export type { OAuthErrorCode } from './errors.js';
export { DEVICE_CODE_GRANT, type RequestRecord } from './routes.js';
export { MAX_BODY_BYTES } from './http.js';
export { main, HELP, type CliIo } from './cli.js';
