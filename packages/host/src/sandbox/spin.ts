import { CTRL_STATE } from './protocol.js';

/**
 * Poll the control word for up to `micros` before blocking. Waking a thread
 * blocked in the kernel costs tens of microseconds on a VM and lets its core go
 * cold; a short poll keeps back-to-back calls fast. Returns whether `until` held.
 */
export function spinFor(ctrl: Int32Array, until: (s: number) => boolean, micros: number): boolean {
  if (micros <= 0) return until(Atomics.load(ctrl, CTRL_STATE));
  const deadline = performance.now() + micros / 1000;
  for (let i = 1; ; i++) {
    if (until(Atomics.load(ctrl, CTRL_STATE))) return true;
    // Reading the clock costs more than the load: check it every 64 rounds.
    if ((i & 63) === 0 && performance.now() >= deadline) return false;
  }
}

const PROBE_EVERY = 16;

/**
 * Polling pays off only while the other side usually answers within the
 * budget. On a busy machine a polling thread takes the core the other side
 * needs, and latency gets several times worse. So each side keeps a moving
 * average of how often its polls saw the answer, polls only while that stays
 * above one half, and otherwise blocks at once, with an occasional probe to
 * notice when polling pays again.
 */
export class AdaptiveSpin {
  /** Moving average of polls that saw the answer, 0..1. */
  #hitRate = 1;
  #skipped = 0;

  constructor(readonly maxMicros: number) {}

  /** Poll until `until` holds or the budget runs out; returns whether it held. */
  spin(ctrl: Int32Array, until: (s: number) => boolean): boolean {
    if (this.maxMicros <= 0) return false;
    if (this.#hitRate < 0.5 && ++this.#skipped % PROBE_EVERY !== 0) return false;
    const seen = spinFor(ctrl, until, this.maxMicros);
    this.#hitRate += ((seen ? 1 : 0) - this.#hitRate) / 8;
    return seen;
  }
}
