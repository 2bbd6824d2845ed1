/** Collect a provider's streamed answer into text, tool calls, finish reason and usage. */
import { ToolCallAssembler, type ChatStreamEvent, type FinishReason, type ToolCall, type Usage } from '@airlock/host';

/** A streamed answer, collected. */
export interface CollectedStream {
  /** Every text delta, joined. */
  text: string;
  /** Every event, in order, `done` included. */
  events: ChatStreamEvent[];
  /** The tool calls, assembled from their deltas as the host's chat loop does (ToolCallAssembler). */
  toolCalls: ToolCall[];
  /** From the `done` event; undefined when the stream was stopped before it. */
  finishReason: FinishReason | undefined;
  /** The last `usage` event, if any. */
  usage: Usage | undefined;
  /** The `done` event (provider, model, redactions), if the stream got that far. */
  done: Extract<ChatStreamEvent, { type: 'done' }> | undefined;
  /** Whether `until` stopped the stream before its end (which cancels it in the plugin). */
  stopped: boolean;
}

export interface CollectOptions {
  /**
   * Called after each event with what is collected so far; return true to
   * stop reading, which leaves the loop and so cancels the stream.
   */
  until?: (event: ChatStreamEvent, collected: CollectedStream) => boolean | void;
}

/**
 * Read a chat stream to its end (or until `until` says stop) and collect it.
 * Rejects with the stream's error.
 *
 * @example
 * const { text, finishReason } = await collectStream(host.chatStream(request));
 */
export async function collectStream(stream: AsyncIterable<ChatStreamEvent>, options: CollectOptions = {}): Promise<CollectedStream> {
  const collected: CollectedStream = { text: '', events: [], toolCalls: [], finishReason: undefined, usage: undefined, done: undefined, stopped: false };
  const calls = new ToolCallAssembler();
  for await (const event of stream) {
    collected.events.push(event);
    switch (event.type) {
      case 'text-delta':
        collected.text += event.text;
        break;
      case 'tool-call-delta':
        calls.add(event);
        collected.toolCalls = calls.calls();
        break;
      case 'usage':
        collected.usage = event.usage;
        break;
      case 'done':
        collected.done = event;
        collected.finishReason = event.finishReason;
        break;
    }
    if (event.type !== 'done' && options.until?.(event, collected) === true) {
      collected.stopped = true;
      break;
    }
  }
  return collected;
}
