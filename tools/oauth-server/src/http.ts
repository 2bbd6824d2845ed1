/** Reading requests and shaping responses. */
import type { IncomingMessage } from 'node:http';
import { OAuthError } from './errors.js';

/** Request bodies larger than this are refused with 413. */
export const MAX_BODY_BYTES = 64 * 1024;

/** A response to send. `error` is the OAuth error code it carries, for the request log. */
export interface Reply {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
  error?: string;
}

/** A failure outside the OAuth endpoints' own error vocabulary: 404, 405, 413. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = 'HttpError';
  }
}

/** A JSON reply. Never cached: token responses must not be (RFC 6749 §5.1), and nothing else needs to be. */
export function json(status: number, value: object, headers: Record<string, string> = {}): Reply {
  const error = 'error' in value && typeof value.error === 'string' ? value.error : undefined;
  return {
    status,
    contentType: 'application/json',
    body: JSON.stringify(value),
    headers: { 'cache-control': 'no-store', pragma: 'no-cache', ...headers },
    ...(error === undefined ? {} : { error }),
  };
}

/** An HTML reply. */
export function html(status: number, markup: string): Reply {
  return { status, contentType: 'text/html; charset=utf-8', body: markup, headers: { 'cache-control': 'no-store' } };
}

/** The JSON reply for a thrown error: OAuth and HTTP errors as themselves, anything else as a 500. */
export function errorReply(err: unknown): Reply {
  if (err instanceof OAuthError) return json(err.status, err.toJSON());
  if (err instanceof HttpError) return json(err.status, { error: err.code, error_description: err.message }, err.headers);
  return json(500, { error: 'server_error', error_description: err instanceof Error ? err.message : String(err) });
}

/**
 * Read an `application/x-www-form-urlencoded` body (RFC 6749 §3.2). Other content types and
 * repeated parameters are `invalid_request`; bodies over {@link MAX_BODY_BYTES} are a 413.
 */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded');
  }
  const form = new URLSearchParams(await readBody(req));
  for (const name of new Set(form.keys())) {
    if (form.getAll(name).length > 1) throw new OAuthError('invalid_request', `parameter ${name} is repeated`);
  }
  return form;
}

/** A parameter the request must carry; its absence (or emptiness) is `invalid_request`. */
export function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw new OAuthError('invalid_request', `missing parameter ${name}`);
  return value;
}

/** An optional parameter; empty counts as absent (RFC 6749 §3.1). */
export function optional(form: URLSearchParams, name: string): string | undefined {
  return form.get(name) || undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  const tooLarge = () => new HttpError(413, 'invalid_request', `the request body exceeds ${MAX_BODY_BYTES} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      // Stop buffering but keep draining, so the 413 can still be written on this connection.
      req.off('data', onData).off('end', onEnd);
      reject(tooLarge());
    };
    const onEnd = () => resolve(Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData).once('end', onEnd).once('error', reject);
  });
}
