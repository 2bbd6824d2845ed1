/**
 * Helpers shared by the test files.
 */
import { expect } from 'vitest';
import type { OpenAIServer } from '../src/index.js';

export const API_KEY = 'sk-test';

/** The error `promise` rejects with; fails if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  );
}

/** POST `body` (an object, or a string sent as is) to the chat completions endpoint with fetch. */
export function postChat(server: OpenAIServer, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

/** The `data:` payloads of a complete SSE body, checking every event is a single `data:` line. */
export function sseData(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((event) => {
      expect(event).toMatch(/^data: [^\n]+$/);
      return event.slice('data: '.length);
    });
}

/** Read until `count` SSE events arrived; returns their data, leaving the rest unread. */
export async function readEvents(reader: ReadableStreamDefaultReader<Uint8Array>, count: number): Promise<string[]> {
  const decoder = new TextDecoder();
  let text = '';
  while (text.split('\n\n').length - 1 < count) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended after ${text.split('\n\n').length - 1} events`);
    text += decoder.decode(value, { stream: true });
  }
  return text.split('\n\n').slice(0, count).map((event) => event.slice('data: '.length));
}
