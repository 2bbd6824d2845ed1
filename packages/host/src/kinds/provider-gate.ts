/**
 * The limits a provider declares (contract 0.2.0 `provider-limits`), enforced
 * by the host before a request reaches the plugin: requests in flight at once
 * (`maxConcurrency`) and requests started per second (`requestsPerSecond`, a
 * token bucket holding one second's worth, so a burst of that many goes at
 * once and the average holds). A request over either limit waits its turn, in
 * the order requests came; its caller's signal takes it out of the line.
 * The line is bounded: past `MAX_WAITING`, a request is refused at once as
 * rate-limited, so a flood cannot grow the host. `maxTokensPerRequest` is
 * checked where the request is converted (kinds/provider.ts).
 */
import { ProviderError } from '../errors.js';

/** What a provider allows; an absent field is no limit. */
export interface ProviderLimits {
  /** Largest `maxTokens` a request may ask for. */
  maxTokensPerRequest?: number;
  /** Requests (chats and streams) in flight at once. */
  maxConcurrency?: number;
  /** Requests started per second, on average. */
  requestsPerSecond?: number;
}

/** Requests that may wait for one provider; more are refused. */
export const MAX_WAITING = 256;

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class ProviderGate {
  readonly #providerId: string;
  readonly #maxConcurrency: number;
  readonly #rate: number;
  readonly #capacity: number;
  #active = 0;
  #tokens: number;
  #refilledAt = performance.now();
  readonly #waiting: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(providerId: string, limits: ProviderLimits) {
    this.#providerId = providerId;
    this.#maxConcurrency = limits.maxConcurrency ?? Infinity;
    this.#rate = limits.requestsPerSecond ?? Infinity;
    this.#capacity = Number.isFinite(this.#rate) ? Math.max(1, this.#rate) : Infinity;
    this.#tokens = this.#capacity;
  }

  /** Whether this gate limits anything (a gate with no limits lets every request straight through). */
  get limited(): boolean {
    return this.#maxConcurrency !== Infinity || this.#rate !== Infinity;
  }

  /** How many requests are in flight, and how many wait. */
  get load(): { active: number; waiting: number } {
    return { active: this.#active, waiting: this.#waiting.length };
  }

  /**
   * Wait for this request's turn. Resolves with the function that ends the
   * request (call it exactly once, when the answer or the stream is over);
   * rejects with the signal's reason when it aborts first, or with
   * PROVIDER_RATE_LIMITED when too many requests already wait.
   */
  enter(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#waiting.length === 0 && this.#mayStart()) return Promise.resolve(this.#start());
    if (this.#waiting.length >= MAX_WAITING) {
      return Promise.reject(
        new ProviderError('PROVIDER_RATE_LIMITED', `${MAX_WAITING} requests already wait for provider \`${this.#providerId}\` (its limits: ${this.#describe()})`, {
          plugin: this.#providerId,
          hint: 'Send fewer requests at once, or retry shortly.',
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiting.indexOf(waiter);
          if (at >= 0) this.#waiting.splice(at, 1);
          reject(signal!.reason);
          this.#pump();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
      this.#pump();
    });
  }

  #refill(): void {
    if (this.#rate === Infinity) return;
    const now = performance.now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate);
    this.#refilledAt = now;
  }

  #mayStart(): boolean {
    this.#refill();
    return this.#active < this.#maxConcurrency && this.#tokens >= 1;
  }

  #start(): () => void {
    this.#active++;
    if (this.#rate !== Infinity) this.#tokens -= 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#active--;
      this.#pump();
    };
  }

  /** Start waiting requests while the limits allow; when only the rate holds them back, look again when the next token is due. */
  #pump(): void {
    while (this.#waiting.length > 0 && this.#mayStart()) {
      const waiter = this.#waiting.shift()!;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(this.#start());
    }
    if (this.#waiting.length > 0 && this.#active < this.#maxConcurrency && this.#timer === undefined) {
      const dueMs = Math.max(1, Math.ceil(((1 - this.#tokens) / this.#rate) * 1000));
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, dueMs);
    }
  }

  #describe(): string {
    const parts = [];
    if (this.#maxConcurrency !== Infinity) parts.push(`${this.#maxConcurrency} at once`);
    if (this.#rate !== Infinity) parts.push(`${this.#rate} per second`);
    return parts.join(', ') || 'none';
  }
}
