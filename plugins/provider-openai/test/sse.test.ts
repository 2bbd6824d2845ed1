// The SSE parser on its own (no component): the shapes a backend may send.
import { describe, expect, it } from 'vitest';
import { SseParser } from '../src/sse.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('SseParser', () => {
  it('returns the data of each event, LF or CRLF, with or without the space after the colon', () => {
    const p = new SseParser();
    expect(p.push(bytes('data: {"a":1}\n\ndata:{"b":2}\r\n\r\ndata: [DONE]\n\n'))).toEqual(['{"a":1}', '{"b":2}', '[DONE]']);
  });

  it('joins the data lines of one event and ignores other fields and comments', () => {
    const p = new SseParser();
    expect(p.push(bytes(': keep-alive\nevent: message\nid: 7\ndata: one\ndata: two\nretry: 10\n\n'))).toEqual(['one\ntwo']);
  });

  it('holds what a network chunk cut off until the rest arrives, wherever the cut falls', () => {
    const text = 'data: {"x":"é"}\r\n\r\ndata: second\n\n';
    const whole = new TextEncoder().encode(text);
    for (let cut = 1; cut < whole.length; cut++) {
      const p = new SseParser();
      expect([...p.push(whole.subarray(0, cut)), ...p.push(whole.subarray(cut))]).toEqual(['{"x":"é"}', 'second']);
    }
  });

  it('sends nothing for blank lines without data, and keeps an unfinished event for later', () => {
    const p = new SseParser();
    expect(p.push(bytes('\n\n\r\n'))).toEqual([]);
    expect(p.push(bytes('data: pending\n'))).toEqual([]);
    expect(p.push(bytes('\n'))).toEqual(['pending']);
  });
});
