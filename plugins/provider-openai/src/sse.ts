/**
 * Server-sent events, as far as chat streams need them: `data:` lines joined
 * per event, events split on a blank line, CRLF or LF, split anywhere across
 * network chunks.
 */
export class SseParser {
  #buffer = '';
  readonly #decoder = new TextDecoder();

  /** Feed bytes; returns the `data` of every event they complete. */
  push(bytes: Uint8Array): string[] {
    this.#buffer += this.#decoder.decode(bytes, { stream: true });
    const events: string[] = [];
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.#buffer);
      if (!m) return events;
      const block = this.#buffer.slice(0, m.index);
      this.#buffer = this.#buffer.slice(m.index + m[0].length);
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
      if (data.length) events.push(data.join('\n'));
    }
  }
}
