/**
 * The `credentials` host interface: a plugin asks for a token from an auth
 * plugin it was granted (`capabilities.credentials` lists auth plugin ids),
 * and the host obtains a fresh one from that plugin. Errors are WIT
 * `credential-error` variants the plugin can handle; only the case and a
 * masked message cross to the asking plugin, never the auth plugin's stack.
 */
import { errorOf, type PluginCaller } from '../sandbox/instance.js';
import type { HostReply } from '../sandbox/protocol.js';
import { readAuthError, toToken } from '../kinds/auth.js';
import type { SecretMask } from '../secrets.js';
import { PLUGIN_ID } from '../manifest.js';
import { withEntry, withoutEntries, type CapabilitySpec } from './spec.js';

export const credentialsCapability: CapabilitySpec<'credentials'> = {
  name: 'credentials',
  form: 'credentials <auth-plugin-id>',
  items: (ids) => ids.map((id) => ({ capability: 'credentials', id })),
  covers: (granted, item) => granted?.includes(item.id) ?? false,
  add: (granted, item) => withEntry(granted, item.id),
  remove: (granted, item) => withoutEntries(granted, (id) => id === item.id),
  parse: (value) => (value !== undefined && PLUGIN_ID.test(value) ? { capability: 'credentials', id: value } : { problem: `\`${value}\` is not a plugin id` }),
  describe: (item) => `credentials ${item.id}`,
  show: (item) => ({ value: `sign-in of ${item.id}`, risky: true }),
};

export interface CredentialsBroker {
  /** The running auth plugin `id`, or undefined when none is loaded under that id. */
  authPlugin(id: string): PluginCaller | undefined;
  secrets: SecretMask;
}

/** Serve `credentials.get-token(authPlugin)` or `credentials.signed-in(authPlugin)` (`fn`) for `pluginId`, which holds the grant `granted`. */
export async function serveCredentials(broker: CredentialsBroker, pluginId: string, granted: readonly string[] | undefined, fn: string, authPlugin: unknown): Promise<HostReply> {
  if (typeof authPlugin !== 'string' || !granted?.includes(authPlugin)) {
    return {
      err: {
        tag: 'denied',
        val: `plugin \`${pluginId}\` holds no credentials grant for \`${String(authPlugin)}\`: list "${String(authPlugin)}" in "capabilities.credentials" of its manifest, and have the user grant it`,
      },
    };
  }
  const auth = broker.authPlugin(authPlugin);
  if (!auth) return { err: { tag: 'unavailable', val: `auth plugin \`${authPlugin}\` is not loaded` } };
  if (fn === 'signedIn') {
    const status = await auth.call('auth.status', []);
    if (status.ok) return { ok: !!(status.value as { signedIn?: unknown }).signedIn };
    const e = readAuthError(errorOf(status));
    if (e?.tag === 'not-signed-in') return { ok: false };
    return { err: { tag: 'unavailable', val: `auth plugin \`${authPlugin}\`: ${broker.secrets.scrub(e?.val.message ?? e?.tag ?? 'failed')}` } };
  }
  // The token is a secret from the moment it exists: the auth plugin's log lines wait until it is known.
  const outcome = await broker.secrets.holdingLogs(authPlugin, () => auth.call('auth.getToken', []), (o) => (o.ok ? [toToken(o.value as Parameters<typeof toToken>[0]).accessToken] : []));
  if (outcome.ok) return { ok: outcome.value };
  const e = readAuthError(errorOf(outcome));
  return { err: { tag: e?.tag === 'not-signed-in' ? 'not-signed-in' : 'unavailable', val: `auth plugin \`${authPlugin}\`: ${broker.secrets.scrub(e?.val.message ?? e?.tag ?? 'failed')}` } };
}
