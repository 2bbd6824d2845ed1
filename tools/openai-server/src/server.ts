/**
 * The HTTP server: routing, auth, scripted failures, and the records tests read.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { HttpError, invalidRequest, scriptedError, serverError } from './errors.js';
import { parseChatRequest, readJsonBody } from './request.js';
import { planCompletion, specialModel, STALL_MODEL_CHUNKS, usage, type Completion } from './rules.js';
import { SSE_HEADERS, writeEvents } from './stream.js';
import type {
  ChatCompletionRequest,
  OpenAIServerEvents,
  OpenAIServerOptions,
  RecordedRequest,
  ScriptedFailure,
  StreamRecord,
  StreamState,
} from './types.js';
import { chatCompletion, chunkPlan, newEnvelope } from './wire.js';

/** Models served when the `models` option is not given. */
export const DEFAULT_MODELS: readonly string[] = ['gpt-4o-mini', 'airlock-echo-1'];

/** API keys accepted when neither `apiKeys` nor `verifyToken` is given. */
export const DEFAULT_API_KEYS: readonly string[] = ['sk-test'];

/** Default `maxBodyBytes`: 4 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The `created` of every model object (2025-01-01), so model listings are deterministic. */
const MODEL_CREATED = 1_735_689_600;

const MODELS_PATH = '/v1/models';
const MODEL_PATH = /^\/v1\/models\/[^/]+$/;
const CHAT_PATH = '/v1/chat/completions';

/** The options once defaults are applied. */
interface Settings {
  models: readonly string[];
  apiKeys: readonly string[];
  verifyToken: OpenAIServerOptions['verifyToken'];
  reply: OpenAIServerOptions['reply'];
  chunkDelayMs: number;
  stallAfterChunks: number | undefined;
  maxBodyBytes: number;
}

/** One request being answered. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  record: RecordedRequest;
}

/**
 * Start a loopback OpenAI-compatible chat server. Resolves once it listens;
 * `url` is then the base URL to give a client (`http://127.0.0.1:<port>/v1`).
 */
export async function startOpenAIServer(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const http = createServer();
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  return new OpenAIServer(http, `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`, {
    models: options.models ?? DEFAULT_MODELS,
    apiKeys: options.apiKeys ?? (options.verifyToken ? [] : DEFAULT_API_KEYS),
    verifyToken: options.verifyToken,
    reply: options.reply,
    chunkDelayMs: options.chunkDelayMs ?? 0,
    stallAfterChunks: options.stallAfterChunks,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  });
}

/**
 * A running server, from {@link startOpenAIServer}. It is an EventEmitter of
 * {@link OpenAIServerEvents}.
 */
export class OpenAIServer extends EventEmitter<OpenAIServerEvents> {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:40123/v1`. */
  readonly url: string;
  readonly #http: Server;
  readonly #settings: Settings;
  readonly #requests: RecordedRequest[] = [];
  readonly #streams: StreamRecord[] = [];
  readonly #failures: ScriptedFailure[] = [];
  /** Responses whose connection has not closed yet. */
  readonly #open = new Set<ServerResponse>();
  #closed: Promise<void> | undefined;

  /** @internal Use {@link startOpenAIServer}. */
  constructor(http: Server, url: string, settings: Settings) {
    super();
    this.#http = http;
    this.url = url;
    this.#settings = settings;
    http.on('request', (req, res) => void this.#handle({ req, res, record: this.#record(req, res) }));
  }

  /** Every request received, oldest first (live records). */
  get requests(): readonly RecordedRequest[] {
    return this.#requests;
  }

  /** Every streamed response, oldest first (live records). */
  get streams(): readonly StreamRecord[] {
    return this.#streams;
  }

  /**
   * Answer the next `count` chat completion requests with `failure` instead.
   * Failures queue up in call order; a request takes one only once it passed
   * auth and validation.
   */
  failNext(count: number, failure: ScriptedFailure): void {
    for (let i = 0; i < count; i++) this.#failures.push(failure);
  }

  /**
   * The first stream, already ended or ending later, that is no longer
   * `streaming` and matches `predicate`. Rejects after `timeoutMs`.
   */
  waitForStream(predicate: (stream: StreamRecord) => boolean = () => true, timeoutMs = 5_000): Promise<StreamRecord> {
    const matches = (stream: StreamRecord) => stream.state !== 'streaming' && predicate(stream);
    const ended = this.#streams.find(matches);
    if (ended) return Promise.resolve(ended);
    return new Promise((resolve, reject) => {
      const onEnd = (stream: StreamRecord) => {
        if (!matches(stream)) return;
        settle();
        resolve(stream);
      };
      const timer = setTimeout(() => {
        settle();
        reject(new Error(`no matching stream ended within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        this.off('stream-end', onEnd);
      };
      this.on('stream-end', onEnd);
    });
  }

  /** The first stream whose client closed the connection before the end. Rejects after `timeoutMs`. */
  waitForStreamClosed(timeoutMs = 5_000): Promise<StreamRecord> {
    return this.waitForStream((stream) => stream.state === 'client-closed', timeoutMs);
  }

  /** Forget recorded requests and streams, and drop queued failures. */
  reset(): void {
    this.#requests.length = 0;
    this.#streams.length = 0;
    this.#failures.length = 0;
  }

  /**
   * Stop listening and close every connection, open streams included. Resolves
   * once every response saw its connection close, so records are final.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const responsesClosed = [...this.#open].map((res) => once(res, 'close'));
      const serverClosed = new Promise<void>((resolve, reject) => this.#http.close((error) => (error ? reject(error) : resolve())));
      this.#http.closeAllConnections();
      await Promise.all([serverClosed, ...responsesClosed]);
    })();
    return this.#closed;
  }

  #record(req: IncomingMessage, res: ServerResponse): RecordedRequest {
    const record: RecordedRequest = {
      id: `req_${randomBytes(12).toString('hex')}`,
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?', 1)[0] ?? '/',
      authorization: redactAuthorization(req.headers.authorization),
    };
    res.setHeader('x-request-id', record.id);
    this.#open.add(res);
    res.on('close', () => this.#open.delete(res));
    this.#requests.push(record);
    this.emit('request', record);
    return record;
  }

  async #handle(exchange: Exchange): Promise<void> {
    try {
      await this.#route(exchange);
    } catch (error) {
      const httpError = error instanceof HttpError ? error : serverError(error);
      // Mid-stream, or with the client gone, there is no one to tell.
      if (exchange.res.headersSent || exchange.res.destroyed) exchange.res.destroy();
      else this.#sendJson(exchange, httpError.status, httpError.body, httpError.headers);
    }
  }

  async #route(exchange: Exchange): Promise<void> {
    const { method, path } = exchange.record;
    const allowed = endpointMethod(path);
    if (!allowed) throw invalidRequest(404, `Invalid URL (${method} ${path}).`, 'unknown_url');
    if (method !== allowed) {
      throw new HttpError(405, `Method ${method} not allowed on ${path}; use ${allowed}.`, 'invalid_request_error', 'method_not_allowed', null, {
        allow: allowed,
      });
    }
    await this.#authorize(exchange.req.headers.authorization);
    if (path === CHAT_PATH) return this.#chat(exchange);
    if (path === MODELS_PATH) return this.#sendJson(exchange, 200, { object: 'list', data: this.#settings.models.map(modelObject) });
    const id = decodePathSegment(path.slice(MODELS_PATH.length + 1));
    if (!this.#knows(id)) throw modelNotFound(id);
    this.#sendJson(exchange, 200, modelObject(id));
  }

  async #authorize(header: string | undefined): Promise<void> {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
    if (token === undefined) {
      throw unauthorized("You didn't provide an API key. Provide it in an Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY).");
    }
    const { apiKeys, verifyToken } = this.#settings;
    if (apiKeys.includes(token) || (await verifyToken?.(token))) return;
    throw unauthorized(`Incorrect API key provided: ${redact(token)}.`);
  }

  #knows(model: string): boolean {
    return this.#settings.models.includes(model) || specialModel(model) !== undefined;
  }

  async #chat(exchange: Exchange): Promise<void> {
    const request = parseChatRequest(await readJsonBody(exchange.req, this.#settings.maxBodyBytes));
    const stream = request.stream === true;
    exchange.record.model = request.model;
    exchange.record.stream = stream;
    if (!this.#knows(request.model)) throw modelNotFound(request.model);
    const failure = this.#failures.shift();
    if (failure) throw scriptedError(failure);
    const completion = planCompletion(request, this.#settings.reply);
    if (stream) return this.#stream(exchange, request, completion);
    // A non-streamed request to `stall` never gets an answer.
    if (specialModel(request.model)?.kind === 'stall') return;
    this.#sendJson(exchange, 200, chatCompletion(newEnvelope(request.model), completion, usage(request, completion)));
  }

  async #stream({ res, record }: Exchange, request: ChatCompletionRequest, completion: Completion): Promise<void> {
    // The client may have left while its body was read; its 'close' is then past.
    if (res.destroyed) return;
    const envelope = newEnvelope(request.model);
    const plan = chunkPlan(envelope, completion, request.stream_options?.include_usage ? usage(request, completion) : undefined);
    const special = specialModel(request.model);
    const stream: StreamRecord = {
      requestId: record.id,
      completionId: envelope.id,
      model: request.model,
      chunksPlanned: plan.count,
      chunksWritten: 0,
      state: 'streaming',
      stalled: false,
      delayMs: special?.kind === 'bench' ? 0 : this.#settings.chunkDelayMs,
    };
    this.#streams.push(stream);
    const closed = new AbortController();
    res.on('close', () => {
      if (stream.state !== 'streaming' || res.writableFinished) return;
      closed.abort();
      this.#endStream(stream, this.#closed ? 'server-closed' : 'client-closed');
    });
    record.status = 200;
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    this.emit('stream-start', stream);
    const outcome = await writeEvents(res, plan.chunks, stream, {
      delayMs: stream.delayMs,
      stallAfter: special?.kind === 'stall' ? (this.#settings.stallAfterChunks ?? STALL_MODEL_CHUNKS) : this.#settings.stallAfterChunks,
      signal: closed.signal,
    });
    if (outcome === 'done') this.#endStream(stream, 'completed');
    if (outcome === 'stalled') {
      stream.stalled = true;
      this.emit('stream-stalled', stream);
    }
  }

  #endStream(stream: StreamRecord, state: Exclude<StreamState, 'streaming'>): void {
    stream.state = state;
    this.emit('stream-end', stream);
  }

  #sendJson({ res, record }: Exchange, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
    const text = JSON.stringify(body);
    record.status = status;
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

/** The method an endpoint answers to; undefined for a path that is none. */
function endpointMethod(path: string): 'GET' | 'POST' | undefined {
  if (path === CHAT_PATH) return 'POST';
  if (path === MODELS_PATH || MODEL_PATH.test(path)) return 'GET';
  return undefined;
}

function modelObject(id: string) {
  return { id, object: 'model', created: MODEL_CREATED, owned_by: 'airlock' };
}

function modelNotFound(model: string): HttpError {
  return invalidRequest(404, `The model \`${model}\` does not exist or you do not have access to it.`, 'model_not_found', 'model');
}

function unauthorized(message: string): HttpError {
  return invalidRequest(401, message, 'invalid_api_key');
}

/** A path segment percent-decoded, or as is when it is not valid percent-encoding. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** At most 6 characters, and at most half, of a secret. */
function redact(secret: string): string {
  return `${secret.slice(0, Math.min(6, Math.floor(secret.length / 2)))}…`;
}

/** `Bearer sk-…`: the scheme and a redacted prefix of the credentials; null when there is no header. */
function redactAuthorization(header: string | undefined): string | null {
  if (header === undefined) return null;
  const [, scheme, credentials] = /^(\S+)\s+(.*)$/.exec(header.trim()) ?? [];
  return scheme === undefined || credentials === undefined ? redact(header) : `${scheme} ${redact(credentials)}`;
}
