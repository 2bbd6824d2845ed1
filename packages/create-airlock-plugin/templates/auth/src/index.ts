/**
 * {{name}}: an auth plugin. It keeps the user's API key in the plugin's private
 * storage (no other plugin can read it) and hands it out as a token; provider
 * plugins that list `{{id}}` under `capabilities.credentials` receive it
 * through the host, never the key store itself.
 *
 * To sign users in with the OAuth device flow instead, implement
 * `startDeviceFlow` and `pollDeviceFlow` (see docs/PLUGIN_SDK.md).
 */
import { AuthError, defineAuthPlugin, log, storage, type AuthStatus } from '@airlock/sdk';

const KEY = 'api-key';

function status(): AuthStatus {
  const key = storage.getText(KEY);
  return key === undefined
    ? { signedIn: false, scopes: [] }
    : { signedIn: true, method: 'api-key', account: `key ending in ${key.slice(-4)}`, scopes: [] };
}

export default defineAuthPlugin({
  status,

  setApiKey(key) {
    const trimmed = key.trim();
    if (!/^[\x21-\x7e]{8,}$/.test(trimmed)) {
      throw new AuthError('other', 'an API key is at least 8 printable characters without spaces');
    }
    storage.set(KEY, trimmed);
    log.info('API key saved');
    return status();
  },

  getToken() {
    const key = storage.getText(KEY);
    if (key === undefined) throw new AuthError('not-signed-in', 'no API key is stored; set one first');
    return { accessToken: key, tokenType: 'Bearer', scopes: [] };
  },

  logout() {
    storage.delete(KEY);
  },
});
