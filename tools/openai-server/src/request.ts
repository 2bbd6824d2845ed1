/**
 * Reading and validating a chat completion request body.
 */
import type { IncomingMessage } from 'node:http';
import { invalidRequest, type HttpError } from './errors.js';
import type { ChatCompletionRequest } from './types.js';

/** OpenAI's rule for function names, which also makes them safe inside a RegExp. */
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The body of `req` parsed as JSON. A body over `maxBytes` is read to its end
 * but not kept (so the client gets the answer rather than a broken pipe), then
 * refused with 413.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxBytes) chunks.push(chunk);
  }
  if (size > maxBytes) {
    throw invalidRequest(413, `The request body is ${size} bytes; the limit is ${maxBytes} bytes.`, 'request_too_large');
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw invalidRequest(400, 'We could not parse the JSON body of your request. Send a JSON object.', 'invalid_json');
  }
}

/** `body` as a chat completion request, or the 400 error OpenAI would answer. */
export function parseChatRequest(body: unknown): ChatCompletionRequest {
  if (!isObject(body)) throw invalidType('body', 'a JSON object');
  checkModel(body.model);
  checkMessages(body.messages);
  checkOptional(body.stream, 'stream', 'a boolean', (value) => typeof value === 'boolean');
  checkOptional(body.stream_options, 'stream_options', 'an object', isObject);
  if (isObject(body.stream_options)) {
    checkOptional(body.stream_options.include_usage, 'stream_options.include_usage', 'a boolean', (value) => typeof value === 'boolean');
  }
  for (const param of ['max_tokens', 'max_completion_tokens']) {
    checkOptional(body[param], param, 'a positive integer', (value) => Number.isInteger(value) && (value as number) > 0);
  }
  checkTools(body.tools);
  return body as ChatCompletionRequest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidType(param: string, expected: string): HttpError {
  return invalidRequest(400, `Invalid type for '${param}': expected ${expected}.`, 'invalid_type', param);
}

/** `null` counts as absent, as it does for OpenAI. */
function checkOptional(value: unknown, param: string, expected: string, valid: (value: unknown) => boolean): void {
  if (value != null && !valid(value)) throw invalidType(param, expected);
}

function checkModel(model: unknown): void {
  if (model == null) throw invalidRequest(400, 'You must provide a model parameter.', 'missing_required_parameter', 'model');
  if (typeof model !== 'string' || model === '') throw invalidType('model', 'a non-empty string');
}

function checkMessages(messages: unknown): void {
  if (messages == null) throw invalidRequest(400, "Missing required parameter: 'messages'.", 'missing_required_parameter', 'messages');
  if (!Array.isArray(messages)) throw invalidType('messages', 'an array');
  if (messages.length === 0) {
    throw invalidRequest(400, "Invalid 'messages': empty array. Expected an array with minimum length 1.", 'empty_array', 'messages');
  }
  messages.forEach((message: unknown, i) => {
    if (!isObject(message)) throw invalidType(`messages[${i}]`, 'an object');
    if (typeof message.role !== 'string') throw invalidType(`messages[${i}].role`, 'a string');
    const { content } = message;
    checkOptional(content, `messages[${i}].content`, 'a string or an array of objects', (value) => typeof value === 'string' || (Array.isArray(value) && value.every(isObject)));
  });
}

function checkTools(tools: unknown): void {
  if (tools == null) return;
  if (!Array.isArray(tools)) throw invalidType('tools', 'an array');
  tools.forEach((tool: unknown, i) => {
    if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function)) {
      throw invalidType(`tools[${i}]`, "an object with type 'function' and a 'function' object");
    }
    const { name } = tool.function;
    if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) {
      throw invalidRequest(400, `Invalid 'tools[${i}].function.name': must match ${FUNCTION_NAME.source}.`, 'invalid_value', `tools[${i}].function.name`);
    }
  });
}
