/**
 * Known secrets, and keeping them out of what leaves the host. The host
 * remembers the tokens it brokers and the values of secret-named environment
 * variables it hands plugins, and masks them in every log line, error and
 * progress message on its way to the integrator. An auth plugin's log lines
 * during a call that returns a token are held until the token is known, so a
 * plugin that logs a token before returning it has it masked too.
 */
import type { LogEntry, Logger } from './logger.js';

const MASK = '[REDACTED]';
/** Shorter values would mask ordinary words; real tokens and keys are long. */
const MIN_LENGTH = 8;
/**
 * The most recent secrets kept. A host serving for weeks refreshes tokens
 * many times over; the oldest are forgotten first (they expired long ago),
 * so the set, and the cost of masking a line, stay flat.
 */
export const MAX_SECRETS = 512;

export class SecretMask {
  /** In the order they were last seen, oldest first. */
  readonly #secrets = new Set<string>();
  readonly #held = new Map<string, { calls: number; entries: LogEntry[] }>();
  readonly #out: Logger;

  /** `out` receives every line, masked. */
  constructor(out: Logger) {
    this.#out = out;
  }

  /** Mask `secret` from now on. */
  remember = (secret: string): void => {
    if (typeof secret !== 'string' || secret.length < MIN_LENGTH) return;
    this.#secrets.delete(secret);
    this.#secrets.add(secret);
    if (this.#secrets.size > MAX_SECRETS) this.#secrets.delete(this.#secrets.values().next().value!);
  };

  /** How many secrets are known now. */
  get size(): number {
    return this.#secrets.size;
  }

  /** `text` with every known secret masked. */
  scrub = (text: string): string => {
    for (const secret of this.#secrets) if (text.includes(secret)) text = text.split(secret).join(MASK);
    return text;
  };

  /** Send a line out, masked; a plugin's line waits while its logs are held. */
  log = (entry: LogEntry): void => {
    const held = entry.plugin === undefined ? undefined : this.#held.get(entry.plugin);
    if (held) held.entries.push(entry);
    else this.#send(entry);
  };

  #send(entry: LogEntry): void {
    this.#out({ ...entry, message: this.scrub(entry.message) });
  }

  /**
   * Run `call`, whose result holds secrets (`pick` finds them), with
   * `pluginId`'s log lines held until they are known and masked.
   */
  holdingLogs = async <T>(pluginId: string, call: () => Promise<T>, pick: (value: T) => string[]): Promise<T> => {
    const held = this.#held.get(pluginId) ?? { calls: 0, entries: [] };
    held.calls++;
    this.#held.set(pluginId, held);
    try {
      const value = await call();
      for (const s of pick(value)) this.remember(s);
      return value;
    } finally {
      if (--held.calls === 0) {
        this.#held.delete(pluginId);
        for (const entry of held.entries) this.#send(entry);
      }
    }
  };

  /** `err` with known secrets masked in its message, stack and a plugin's `details`. */
  masked = (err: unknown): unknown => {
    if (err instanceof Error) {
      // Defined rather than assigned: a DOMException (an abort's reason) has `message` as a getter only.
      const message = this.scrub(err.message);
      if (message !== err.message) Object.defineProperty(err, 'message', { value: message, writable: true, configurable: true });
      if (err.stack) {
        const stack = this.scrub(err.stack);
        if (stack !== err.stack) Object.defineProperty(err, 'stack', { value: stack, writable: true, configurable: true });
      }
      // Errors a plugin reported carry its own stack as `details`, which can hold a secret as well as a message can.
      const { details } = err as { details?: unknown };
      if (typeof details === 'string') Object.assign(err, { details: this.scrub(details) });
    }
    return err;
  };
}
