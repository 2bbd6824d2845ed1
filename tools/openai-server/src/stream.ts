/**
 * Writing chunks as server-sent events, with pacing, backpressure, stalls, and
 * a hard stop as soon as the client goes away.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { setTimeout } from 'node:timers/promises';
import type { StreamRecord } from './types.js';

/** How a stream is written. */
export interface Pacing {
  /** Delay before every event but the first. */
  delayMs: number;
  /** Write this many chunks, then nothing more (not even `[DONE]`). Undefined: write everything. */
  stallAfter: number | undefined;
  /** Aborted when the connection closes: nothing is written after that. */
  signal: AbortSignal;
}

/** Headers of a streamed response. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
} as const;

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await setTimeout(ms, undefined, { signal });
  signal.throwIfAborted();
}

/**
 * Write each chunk as `data: <json>` and end with `data: [DONE]`, counting
 * chunks in `record.chunksWritten`. Resolves `done` once the response is ended,
 * `stalled` once it stops on purpose (left open), `closed` if the signal aborts.
 */
export async function writeEvents(res: ServerResponse, chunks: Iterable<unknown>, record: StreamRecord, pacing: Pacing): Promise<'done' | 'stalled' | 'closed'> {
  const { delayMs, stallAfter, signal } = pacing;
  try {
    for (const chunk of chunks) {
      if (record.chunksWritten === stallAfter) return 'stalled';
      await pause(record.chunksWritten > 0 ? delayMs : 0, signal);
      const flushed = res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      record.chunksWritten++;
      if (!flushed) await once(res, 'drain', { signal });
    }
    if (stallAfter !== undefined) return 'stalled';
    await pause(delayMs, signal);
    res.end('data: [DONE]\n\n');
    return 'done';
  } catch (error) {
    if (signal.aborted) return 'closed';
    throw error;
  }
}
