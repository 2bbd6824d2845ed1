/**
 * Errors answered in OpenAI's shape: `{ error: { message, type, param, code } }`.
 */
import type { FailureStatus, ScriptedFailure } from './types.js';

/** An error response body, as OpenAI sends it. */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error the server answers with its status, headers and an OpenAI error body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
    readonly param: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  get body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** An `invalid_request_error`: the request itself is at fault. */
export function invalidRequest(status: number, message: string, code: string | null, param: string | null = null): HttpError {
  return new HttpError(status, message, 'invalid_request_error', code, param);
}

/** An unexpected exception while answering, as a 500 `server_error`. */
export function serverError(cause: unknown): HttpError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new HttpError(500, `The server had an error while processing your request: ${detail}`, 'server_error', null);
}

const FAILURES: Record<FailureStatus, { type: string; code: string | null; message: (retryAfter?: number) => string }> = {
  400: { type: 'invalid_request_error', code: null, message: () => 'Bad request (scripted failure).' },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: () => 'Incorrect API key provided (scripted failure).' },
  429: {
    type: 'rate_limit_exceeded',
    code: 'rate_limit_exceeded',
    message: (retryAfter) => `Rate limit reached for requests. Please try again in ${retryAfter}s.`,
  },
  500: { type: 'server_error', code: null, message: () => 'The server had an error while processing your request. Sorry about that!' },
  503: { type: 'server_error', code: 'service_unavailable', message: () => 'The server is overloaded or not ready yet.' },
};

/** The response a queued {@link ScriptedFailure} stands for. */
export function scriptedError({ status, retryAfter = status === 429 ? 1 : undefined, message }: ScriptedFailure): HttpError {
  const failure = FAILURES[status];
  const headers = retryAfter === undefined ? {} : retryHeaders(status, retryAfter);
  return new HttpError(status, message ?? failure.message(retryAfter), failure.type, failure.code, null, headers);
}

/**
 * `retry-after` must be whole seconds; the openai client prefers the
 * non-standard `retry-after-ms`, which keeps fractional waits exact.
 */
function retryHeaders(status: FailureStatus, seconds: number): Record<string, string> {
  const headers = { 'retry-after': String(Math.ceil(seconds)), 'retry-after-ms': String(Math.round(seconds * 1000)) };
  if (status !== 429) return headers;
  return { ...headers, 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': `${seconds}s` };
}
