/**
 * Refusals: a plugin asked for something its grant does not cover.
 *
 * Some refusals reach plugin code only as a generic failure: StarlingMonkey
 * turns a refused `wasi:http` request into `fetch` rejecting with "NetworkError
 * when attempting to fetch resource", whatever the reason. So the host keeps
 * its own record of each refusal during a call (the instance collects them
 * from its host-call replies), and a call that then fails carries them: the
 * error the caller gets names what was refused and the manifest entry to add.
 */

/** One thing the host refused a plugin during a call. */
export interface Refusal {
  /** The manifest capability that would have allowed it. */
  capability: 'http' | 'credentials';
  /** What was refused and why: "GET https://api.example.com: no http grant covers this origin". */
  message: string;
  /** What the plugin's author (or user) does to allow it. */
  hint: string;
}

/** A host-call reply for a refused request: the WIT error the plugin sees, and the refusal the host keeps. */
export interface RefusedReply {
  err: unknown;
  refused: Refusal;
}

/**
 * The message and hint of a failed call, given what the host refused during
 * it. The plugin's own message comes first; the refusals follow, since they
 * are the likely cause.
 */
export function explainRefusals(message: string, refused: readonly Refusal[] | undefined, hint?: string): { message: string; hint: string | undefined } {
  if (!refused?.length) return { message, hint };
  const unique = [...new Map(refused.map((r) => [r.message, r])).values()];
  return {
    message: `${message} (the host refused ${unique.map((r) => r.message).join('; ')})`,
    hint: [...unique.map((r) => r.hint), ...(hint ? [hint] : [])].join(' '),
  };
}

/** The refusal of an outbound request to an origin that no grant covers. */
export function httpOriginRefusal(pluginId: string, method: string, origin: string): Refusal {
  return {
    capability: 'http',
    message: `${method} ${origin}: plugin \`${pluginId}\` holds no http grant for this origin`,
    hint:
      `Add "${origin}" to "capabilities.http" in the "airlock" field of the plugin's package.json, ` +
      `and grant it (\`airlock grant ${pluginId} http ${origin}\`, or load with grant 'manifest').`,
  };
}

/** The refusal of a request whose host name resolves to a private or local address no grant names. */
export function httpAddressRefusal(pluginId: string, method: string, origin: string, address: string): Refusal {
  const range = address.includes(':') ? `${address}/128` : `${address}/32`;
  return {
    capability: 'http',
    message: `${method} ${origin}: it resolves to ${address}, a non-public address, and plugin \`${pluginId}\` holds no grant for that address range`,
    hint: `If the plugin is meant to reach a private network, add the range (e.g. "${range}") to "capabilities.http" in its package.json and grant it.`,
  };
}

/** A request while the plugin holds as many unfinished responses as it may. */
export function httpOpenLimitRefusal(method: string, origin: string, open: number): Refusal {
  return {
    capability: 'http',
    message: `${method} ${origin}: the plugin has ${open} responses whose bodies are still arriving and that it has not read, the most it may have at once`,
    hint: 'Read each response body to its end (`await response.text()`, `await response.arrayBuffer()`) before making more requests: a body that is still arriving holds its connection.',
  };
}

/** A request over the plugin's quota. */
export function httpQuotaRefusal(method: string, origin: string, why: string): Refusal {
  return {
    capability: 'http',
    message: `${method} ${origin}: ${why}`,
    hint: 'Make fewer or smaller requests in a window, or ask the integrator to raise the quota (createHost({ quotas })).',
  };
}

/**
 * A request to an origin whose credential the host injects, failed because
 * there is no token to inject: sent without it, it would only fail upstream,
 * and tell the service what the plugin was about to do.
 */
export function credentialRefusal(method: string, origin: string, authPlugin: string, err: { tag: string; val: string }): Refusal {
  const signedOut = err.tag === 'not-signed-in';
  return {
    capability: 'credentials',
    message: signedOut ? `${method} ${origin}: not signed in to ${authPlugin}: run \`airlock auth login ${authPlugin}\`` : `${method} ${origin}: no credential of ${authPlugin} to add (${err.val})`,
    hint: signedOut ? `Sign in (\`airlock auth login ${authPlugin}\`, or host.auth("${authPlugin}").login()), then retry.` : `Load the auth plugin \`${authPlugin}\` and sign in, then retry.`,
  };
}

/** The refusal of a URL that is not http or https. */
export function httpSchemeRefusal(method: string, url: string): Refusal {
  return {
    capability: 'http',
    message: `${method} ${url}: only http and https URLs can be fetched`,
    hint: 'Fetch an http:// or https:// URL.',
  };
}
