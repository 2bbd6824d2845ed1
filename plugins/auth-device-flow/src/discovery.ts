/**
 * The endpoints of an authorization server named by its issuer alone, from
 * its metadata: RFC 8414 (`/.well-known/oauth-authorization-server`, inserted
 * before the issuer's path) first, then OpenID Connect Discovery
 * (`<issuer>/.well-known/openid-configuration`). The document must name the
 * issuer it was asked for (RFC 8414 §3.3), so a server cannot speak for
 * another. What was found is kept in storage for a day.
 */
import { AuthError, storage } from '@airlock/sdk';
import { isObject, originOf } from './oauth.js';

export interface Endpoints {
  deviceAuthorizationEndpoint: string | undefined;
  tokenEndpoint: string | undefined;
  revocationEndpoint: string | undefined;
  userinfoEndpoint: string | undefined;
}

const KEPT = 'issuer-metadata';
const KEEP_MS = 24 * 60 * 60 * 1000;

/** Where an issuer's metadata may be, in the order they are tried. */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [`${url.origin}/.well-known/oauth-authorization-server${path}`, `${url.origin}${path}/.well-known/openid-configuration`];
}

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** The endpoints `issuer` publishes; AuthError `network` when it cannot be reached, `protocol` when what it says is unusable. */
export async function discover(issuer: string): Promise<Endpoints> {
  const kept = storage.getJson<{ issuer: string; at: number; endpoints: Endpoints }>(KEPT);
  if (kept?.issuer === issuer && Date.now() - kept.at < KEEP_MS) return kept.endpoints;
  const tried: string[] = [];
  for (const url of metadataUrls(issuer)) {
    let res: Response;
    try {
      res = await fetch(url, { headers: { accept: 'application/json' } });
    } catch (e) {
      throw new AuthError('network', `cannot reach ${originOf(url)} for the metadata of ${issuer}: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) {
      tried.push(`${url} (HTTP ${res.status})`);
      continue;
    }
    const doc: unknown = await res.json().catch(() => undefined);
    if (!isObject(doc)) throw new AuthError('protocol', `${url} is not a JSON object`);
    // RFC 8414 §3.3 and OpenID Connect Discovery §4.3: the issuer in the document is the one asked for.
    if (text(doc.issuer)?.replace(/\/$/, '') !== issuer.replace(/\/$/, '')) {
      throw new AuthError('protocol', `${url} names the issuer ${JSON.stringify(doc.issuer)}, not ${issuer}`);
    }
    const endpoints: Endpoints = {
      deviceAuthorizationEndpoint: text(doc.device_authorization_endpoint),
      tokenEndpoint: text(doc.token_endpoint),
      revocationEndpoint: text(doc.revocation_endpoint),
      userinfoEndpoint: text(doc.userinfo_endpoint),
    };
    storage.setJson(KEPT, { issuer, at: Date.now(), endpoints });
    return endpoints;
  }
  throw new AuthError('protocol', `${issuer} publishes no metadata (tried ${tried.join(', ')}); configure its endpoints instead`);
}
