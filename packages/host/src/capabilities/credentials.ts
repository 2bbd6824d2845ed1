/**
 * The `credentials` host interface: a plugin uses the sign-in of an auth
 * plugin it was granted (`capabilities.credentials`).
 *
 * A plain grant (`"auth-x"`) lets it ask for the token itself
 * (`credentials.get-token`). A bound grant (`{ "plugin": "auth-x", "inject":
 * [origins] }`) never hands the token over: the HTTP broker adds it to the
 * plugin's requests to those origins (see http.ts), and `get-token` is
 * refused. Either way `credentials.signed-in` says whether the user is signed
 * in. Errors are WIT `credential-error` variants the plugin can handle; only
 * the case and a masked message cross to the asking plugin, never the auth
 * plugin's stack.
 */
import { errorOf, type PluginCaller } from '../sandbox/instance.js';
import type { HostReply } from '../sandbox/protocol.js';
import { readAuthError } from '../kinds/auth.js';
import type { SecretMask } from '../secrets.js';
import { credentialPlugin, PLUGIN_ID, type CredentialGrant } from '../manifest.js';
import { originCovers } from './http.js';
import { withoutEntries, type CapabilitySpec, type ItemOf } from './spec.js';

/** The entry of a credentials grant that names `authPlugin`. */
export const credentialEntry = (granted: readonly CredentialGrant[] | undefined, authPlugin: string): CredentialGrant | undefined =>
  granted?.find((entry) => credentialPlugin(entry) === authPlugin);

const entryOf = (item: ItemOf<'credentials'>): CredentialGrant => (item.inject ? { plugin: item.id, inject: [...item.inject] } : item.id);

export const credentialsCapability: CapabilitySpec<'credentials'> = {
  name: 'credentials',
  form: 'credentials <auth-plugin-id>',
  items: (entries) => entries.map((e) => (typeof e === 'string' ? { capability: 'credentials', id: e } : { capability: 'credentials', id: e.plugin, inject: [...e.inject] })),
  // The token itself covers any use of it; a binding covers a binding to origins within its own.
  covers(granted, item) {
    const entry = credentialEntry(granted, item.id);
    if (entry === undefined) return false;
    if (typeof entry === 'string') return true;
    return item.inject !== undefined && item.inject.every((origin) => entry.inject.some((g) => originCovers(g, origin)));
  },
  // One entry per auth plugin: granting it again replaces the binding (or its absence).
  add(granted, item) {
    const list = granted ?? [];
    const at = list.findIndex((e) => credentialPlugin(e) === item.id);
    return at < 0 ? [...list, entryOf(item)] : list.map((e, i) => (i === at ? entryOf(item) : e));
  },
  remove: (granted, item) => withoutEntries(granted, (e) => credentialPlugin(e) === item.id),
  parse: (value) => (value !== undefined && PLUGIN_ID.test(value) ? { capability: 'credentials', id: value } : { problem: `\`${value}\` is not a plugin id` }),
  describe: (item) => (item.inject ? `credentials ${item.id} (injected for ${item.inject.join(', ')})` : `credentials ${item.id}`),
  // Injected, the token cannot leave: the plugin can make requests as the user only where its http grant (shown, and risky) lets it.
  show: (item) =>
    item.inject
      ? { value: `sign-in of ${item.id}, added by the host to requests to ${item.inject.join(', ')} (the plugin never sees the token)`, risky: false }
      : { value: `sign-in of ${item.id}`, risky: true },
};

export interface CredentialsBroker {
  /** The running auth plugin `id`, or undefined when none is loaded under that id. */
  authPlugin(id: string): PluginCaller | undefined;
  secrets: SecretMask;
}

/** The contract's `credentials.token`, as the auth plugin returned it. */
export interface BrokeredToken {
  accessToken: string;
  tokenType: string;
  expiresAt?: bigint;
  scopes: string[];
}

/** A WIT `credential-error`. */
export type CredentialError = { tag: 'denied' | 'not-signed-in' | 'unavailable'; val: string };

/**
 * A token from auth plugin `authPlugin`, asked of it each time (it caches and
 * refreshes as it sees fit; the host keeps nothing). The value is a secret
 * from the moment it exists: the auth plugin's log lines wait until the mask
 * knows it.
 */
export async function tokenFrom(broker: CredentialsBroker, authPlugin: string): Promise<{ ok: BrokeredToken } | { err: CredentialError }> {
  const auth = broker.authPlugin(authPlugin);
  if (!auth) return { err: { tag: 'unavailable', val: `auth plugin \`${authPlugin}\` is not loaded` } };
  const outcome = await broker.secrets.holdingLogs(authPlugin, () => auth.call('auth.getToken', []), (o) => (o.ok ? [(o.value as BrokeredToken).accessToken] : []));
  if (outcome.ok) return { ok: outcome.value as BrokeredToken };
  const e = readAuthError(errorOf(outcome));
  return { err: { tag: e?.tag === 'not-signed-in' ? 'not-signed-in' : 'unavailable', val: `auth plugin \`${authPlugin}\`: ${broker.secrets.scrub(e?.val.message ?? e?.tag ?? 'failed')}` } };
}

/** Serve `credentials.get-token(authPlugin)` or `credentials.signed-in(authPlugin)` (`fn`) for `pluginId`, which holds the grant `granted`. */
export async function serveCredentials(broker: CredentialsBroker, pluginId: string, granted: readonly CredentialGrant[] | undefined, fn: string, authPlugin: unknown): Promise<HostReply> {
  const entry = typeof authPlugin === 'string' ? credentialEntry(granted, authPlugin) : undefined;
  if (typeof authPlugin !== 'string' || entry === undefined) {
    return {
      err: {
        tag: 'denied',
        val: `plugin \`${pluginId}\` holds no credentials grant for \`${String(authPlugin)}\`: list "${String(authPlugin)}" in "capabilities.credentials" of its manifest, and have the user grant it`,
      },
    };
  }
  if (fn === 'signedIn') {
    const auth = broker.authPlugin(authPlugin);
    if (!auth) return { err: { tag: 'unavailable', val: `auth plugin \`${authPlugin}\` is not loaded` } };
    const status = await auth.call('auth.status', []);
    if (status.ok) return { ok: !!(status.value as { signedIn?: unknown }).signedIn };
    const e = readAuthError(errorOf(status));
    if (e?.tag === 'not-signed-in') return { ok: false };
    return { err: { tag: 'unavailable', val: `auth plugin \`${authPlugin}\`: ${broker.secrets.scrub(e?.val.message ?? e?.tag ?? 'failed')}` } };
  }
  if (typeof entry !== 'string') {
    return {
      err: {
        tag: 'denied',
        val:
          `the host injects the credential of \`${authPlugin}\` into plugin \`${pluginId}\`'s requests to ${entry.inject.join(', ')}, and does not hand it out: ` +
          `make the request without an Authorization header (credentials.signedIn("${authPlugin}") says whether the user is signed in)`,
      },
    };
  }
  const token = await tokenFrom(broker, authPlugin);
  return 'ok' in token ? { ok: token.ok } : { err: token.err };
}
