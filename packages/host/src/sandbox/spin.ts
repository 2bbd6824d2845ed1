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
