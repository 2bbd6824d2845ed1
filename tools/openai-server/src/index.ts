/**
 * @airlock/openai-server — a loopback OpenAI-compatible chat server for tests,
 * demos, benchmarks and plugin authors. Answers are a pure function of the
 * request; see README.md for the rules.
 */
export { DEFAULT_API_KEYS, DEFAULT_MAX_BODY_BYTES, DEFAULT_MODELS, OpenAIServer, startOpenAIServer } from './server.js';
export { BENCH_CHUNK_TEXT, MAX_BENCH_CHUNKS, STALL_MODEL_CHUNKS, countTokens } from './rules.js';
export type {
  ChatCompletionRequest,
  ChatMessage,
  ChatTool,
  ContentPart,
  FailureStatus,
  MessageContent,
  OpenAIServerEvents,
  OpenAIServerOptions,
  RecordedRequest,
  ScriptedFailure,
  StreamRecord,
  StreamState,
} from './types.js';
