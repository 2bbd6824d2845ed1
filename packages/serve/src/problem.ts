/** RFC 9457 problem details, with the host's error code: what every non-OpenAI route answers an error with. */
import type { HostEvents } from '@airlock/host';

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 413: 'Content Too Large', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/**
 * A problem+json response. `fields` are extra members of the problem (`hint`,
 * the capability difference of an update…); its `title` is the status's reason
 * unless `fields` names one.
 */
export function problem(status: number, code: string, detail: string, options: { headers?: Record<string, string>; fields?: Record<string, unknown> } = {}): Response {
  const body = { type: 'about:blank', title: REASONS[status] ?? 'Error', status, code, detail, ...options.fields };
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/problem+json', ...options.headers } });
}

/** The host's events about its plugins (the management API streams them all). */
export const PLUGIN_EVENTS = [
  'plugin-loaded',
  'plugin-unloaded',
  'plugin-reloaded',
  'plugin-installed',
  'plugin-updated',
  'plugin-rolled-back',
  'plugin-removed',
  'plugin-enabled',
  'plugin-disabled',
  'plugin-granted',
] as const satisfies readonly (keyof HostEvents)[];
