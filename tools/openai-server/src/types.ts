/**
 * Public types: the chat request as the server reads it, the options, and the
 * records a test inspects afterwards.
 */

/** One part of an array-form message content. Only parts with a string `text` contribute text. */
export interface ContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/** A message's content: a string or an array of parts. */
export type MessageContent = string | ContentPart[];

/** A chat message. Only `role` and `content` matter to the server. */
export interface ChatMessage {
  role: string;
  content?: MessageContent | null;
  [key: string]: unknown;
}

/** A function tool offered to the model. */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

/** A validated `POST /v1/chat/completions` body. Fields the server ignores are kept as sent. */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  tools?: ChatTool[];
  [key: string]: unknown;
}

/** Options of {@link startOpenAIServer}. Every field is optional. */
export interface OpenAIServerOptions {
  /** Port to listen on. Default `0`: a free port. */
  port?: number;
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** Model ids served by `/v1/models` and accepted by chat completions. Default {@link DEFAULT_MODELS}. */
  models?: readonly string[];
  /**
   * Bearer tokens accepted as API keys. Default `['sk-test']`, or none when
   * `verifyToken` is given (then only `verifyToken` decides).
   */
  apiKeys?: readonly string[];
  /** Accepts a bearer token not in `apiKeys`, e.g. an access token issued by an OAuth server. */
  verifyToken?: (token: string) => boolean | Promise<boolean>;
  /** Replaces the default text answer (`You said: …` / `The tool returned: …`). Tool-call detection still comes first. */
  reply?: (request: ChatCompletionRequest) => string;
  /** Delay in milliseconds between two streamed events. Default `0`. Ignored by `bench-<n>` models. */
  chunkDelayMs?: number;
  /** Every stream stops after this many chunks and then stays open without ending. Default: streams end. */
  stallAfterChunks?: number;
  /** Largest request body accepted; larger ones get 413. Default 4 MiB. */
  maxBodyBytes?: number;
}

/** Statuses a scripted failure can answer with. */
export type FailureStatus = 400 | 401 | 429 | 500 | 503;

/** A failure queued with {@link OpenAIServer.failNext}. */
export interface ScriptedFailure {
  status: FailureStatus;
  /**
   * Seconds the client should wait, sent as `retry-after` (rounded up to whole
   * seconds) and `retry-after-ms`. Default `1` for 429, none otherwise.
   */
  retryAfter?: number;
  /** The error message. Default: a message like OpenAI's for that status. */
  message?: string;
}

/**
 * One HTTP request the server received. Recorded on arrival and filled in as
 * the request progresses, so `model`, `stream` and `status` may still be unset.
 */
export interface RecordedRequest {
  /** The `x-request-id` sent back (`req_…`). */
  id: string;
  method: string;
  /** Path without the query string. */
  path: string;
  /** The `Authorization` header redacted to its scheme and a short prefix (`Bearer sk-…`), or null when absent. */
  authorization: string | null;
  /** The body's `model`, once a chat request's body is validated. */
  model?: string;
  /** Whether a validated chat request asked to stream. */
  stream?: boolean;
  /** Status of the response, once its head is sent. */
  status?: number;
}

/** How a streamed response ended so far. */
export type StreamState = 'streaming' | 'completed' | 'client-closed' | 'server-closed';

/** The lifecycle of one streamed (`stream: true`) response, updated live. */
export interface StreamRecord {
  /** The {@link RecordedRequest.id} of the request being answered. */
  requestId: string;
  /** The `chatcmpl-…` id every chunk carries. */
  completionId: string;
  model: string;
  /** `chat.completion.chunk` events the full stream has (`data: [DONE]` not counted). */
  chunksPlanned: number;
  /** `chat.completion.chunk` events written so far. */
  chunksWritten: number;
  /**
   * `completed`: `data: [DONE]` written and the response ended. `client-closed`:
   * the client closed the connection first; nothing is written after that.
   * `server-closed`: {@link OpenAIServer.close} cut it.
   */
  state: StreamState;
  /** Whether the stream stopped writing on purpose (`stall` model or `stallAfterChunks`). */
  stalled: boolean;
  /** The pause between two chunks, in ms: `chunkDelayMs`, or 0 for `bench-<n>` models. */
  delayMs: number;
}

/** Events of {@link OpenAIServer}, with their arguments. */
export type OpenAIServerEvents = {
  /** A request arrived (its record is then filled in as it progresses). */
  request: [RecordedRequest];
  /** A streamed response sent its head. */
  'stream-start': [StreamRecord];
  /** A stream wrote its last chunk before stalling. */
  'stream-stalled': [StreamRecord];
  /** A stream left the `streaming` state. */
  'stream-end': [StreamRecord];
};
