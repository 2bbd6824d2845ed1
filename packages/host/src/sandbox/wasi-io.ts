/**
 * wasi:io and wasi:clocks for the plugin's thread: pollables on the monotonic
 * clock, and the stream classes the other WASI interfaces hand out.
 */
export const symbolDispose: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('dispose');

const sleeper = new Int32Array(new SharedArrayBuffer(4));
export const monotonicNow = (): bigint => process.hrtime.bigint();

/**
 * With `importBindings: 'hybrid'`, jco asks an import function for a
 * ready-made core function under this symbol and skips its generic (task-
 * tracking) trampoline. StarlingMonkey reads the monotonic clock several times
 * per call, so this halves the cost of a small call. Only for signatures where
 * the JS value is the core value (`() -> u64` is a BigInt either way).
 */
const cabiLower = Symbol.for('cabiLower');
const hrtimeBigint = process.hrtime.bigint;
export const resolutionNs = () => 1n;
Object.assign(monotonicNow, { [cabiLower]: () => hrtimeBigint });
Object.assign(resolutionNs, { [cabiLower]: () => resolutionNs });

/** Block the thread until the monotonic clock reaches `instant` (ns). */
export function sleepUntil(instant: bigint): void {
  for (;;) {
    const left = instant - monotonicNow();
    if (left <= 0n) return;
    Atomics.wait(sleeper, 0, 0, Number(left) / 1e6);
  }
}

// ── wasi:io ────────────────────────────────────────────────────────────────

/** A pollable that is ready at a monotonic instant (`0n`: always ready). */
export class Pollable {
  constructor(readonly readyAt: bigint = 0n) {}
  ready(): boolean {
    return monotonicNow() >= this.readyAt;
  }
  block(): void {
    sleepUntil(this.readyAt);
  }
}

/**
 * A pollable that becomes ready through I/O the host thread does (a response
 * body), not at an instant. Its kind answers for a whole list at once
 * (`pollAll`), so one `poll` is one round trip to the host however many bodies it names.
 */
export abstract class IoPollable extends Pollable {
  constructor() {
    super(NEVER);
  }
  abstract override ready(): boolean;
  abstract override block(): void;
}

/** `readyAt` of a pollable no clock makes ready. */
const NEVER = 0xffff_ffff_ffff_ffffn;

/** How `poll` asks about the I/O pollables of a list: those ready, waiting at most `timeoutMs` (forever when undefined). */
export type IoPoller = (io: IoPollable[], timeoutMs: number | undefined) => Set<IoPollable>;

/**
 * wasi:io/poll: the indices of the pollables that are ready, waiting until
 * one is. Clock pollables are waited for on this thread; I/O ones by asking
 * the host (`pollIo`) with a timeout up to the next clock deadline, so a
 * timer still fires while a body is quiet, and a body that gets data ends
 * the wait before the timer.
 */
export function poll(list: Pollable[], pollIo?: IoPoller): Uint32Array {
  if (list.length === 0) throw new Error('poll on an empty list');
  const io = list.filter((p): p is IoPollable => p instanceof IoPollable);
  const earliest = list.reduce((min, p) => (p.readyAt < min ? p.readyAt : min), NEVER);
  if (io.length === 0 || !pollIo) {
    sleepUntil(earliest);
    const ready: number[] = [];
    list.forEach((p, i) => p.ready() && ready.push(i));
    return Uint32Array.from(ready);
  }
  for (;;) {
    const left = earliest === NEVER ? undefined : Math.max(0, Number(earliest - monotonicNow()) / 1e6);
    const readyIo = pollIo(io, left);
    const now = monotonicNow();
    const ready: number[] = [];
    list.forEach((p, i) => (p instanceof IoPollable ? readyIo.has(p) : p.readyAt <= now) && ready.push(i));
    if (ready.length > 0) return Uint32Array.from(ready);
  }
}

export class IoError {
  /** The wasi:filesystem error code behind this error, for `filesystem-error-code`. */
  constructor(
    readonly message: string,
    readonly fsCode?: string,
  ) {}
  toDebugString(): string {
    return this.message;
  }
}

export const closed = { tag: 'closed' } as const;

/** An input stream with nothing in it; readers override `read`, the rest follows from it. */
export class InputStream {
  read(_len: bigint): Uint8Array {
    throw closed;
  }
  blockingRead(len: bigint): Uint8Array {
    return this.read(len);
  }
  skip(len: bigint): bigint {
    return BigInt(this.read(len).length);
  }
  blockingSkip(len: bigint): bigint {
    return this.skip(len);
  }
  subscribe(): Pollable {
    return new Pollable();
  }
}

/** An output stream that hands every write to a sink. */
export class OutputStream {
  readonly #sink: (bytes: Uint8Array) => void;
  constructor(sink: (bytes: Uint8Array) => void) {
    this.#sink = sink;
  }
  checkWrite(): bigint {
    return 1n << 20n;
  }
  write(bytes: Uint8Array): void {
    this.#sink(bytes);
  }
  blockingWriteAndFlush(bytes: Uint8Array): void {
    this.#sink(bytes);
  }
  flush(): void {}
  blockingFlush(): void {}
  writeZeroes(len: bigint): void {
    this.#sink(new Uint8Array(Number(len)));
  }
  blockingWriteZeroesAndFlush(len: bigint): void {
    this.writeZeroes(len);
  }
  splice(): bigint {
    throw closed;
  }
  blockingSplice(): bigint {
    throw closed;
  }
  subscribe(): Pollable {
    return new Pollable();
  }
}

