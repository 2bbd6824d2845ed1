/**
 * Server-sent events, as far as chat streams need them: `data:` lines joined
 * per event, events split on a blank line, CRLF or LF, split anywhere across
 * network chunks.
 *
 * Written with `indexOf` and one pass over each line, not regular
 * expressions and array helpers: inside the sandbox JavaScript runs in an
 * interpreter, where this parser was most of a stream's cost per chunk.
 */
export class SseParser {
  /** The start of a line whose end has not arrived yet. */
  #tail = '';
  /** The `data` lines of the event being read. */
  #data: string[] = [];
  readonly #decoder = new TextDecoder();

  /** Feed bytes; returns the `data` of every event they complete. */
  push(bytes: Uint8Array): string[] {
    const text = this.#tail + this.#decoder.decode(bytes, { stream: true });
    const events: string[] = [];
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; start = end + 1, end = text.indexOf('\n', start)) {
      const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      if (stop === start) {
        // A blank line ends the event.
        if (this.#data.length > 0) {
          events.push(this.#data.length === 1 ? this.#data[0]! : this.#data.join('\n'));
          this.#data = [];
        }
      } else if (text.startsWith('data:', start)) {
        this.#data.push(text.slice(text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, stop));
      }
    }
    this.#tail = text.slice(start);
    return events;
  }
}
