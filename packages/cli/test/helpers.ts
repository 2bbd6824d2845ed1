/**
 * In-process I/O for `main()`: captured output, scripted stdin, and a Ctrl-C
 * the test presses.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { main, type Io } from '../src/index.js';

export const fixtures = new URL('../../../tools/sandbox-tests/fixtures/', import.meta.url).pathname;
export const notes = new URL('../../../plugins/notes', import.meta.url).pathname;
export const scriptedAuth = `${fixtures}scripted-auth`;
export const echoProvider = `${fixtures}echo-provider`;

export interface Captured extends Io {
  out: string;
  err: string;
  /** Every stdout write, in order: a streamed answer arrives in several. */
  outWrites: string[];
  /** Press Ctrl-C. */
  interrupt: () => void;
  /** Ctrl-C handlers currently registered. */
  readonly listening: number;
  /** The questions asked through `prompt`, in order. */
  questions: string[];
}

export interface CaptureOptions {
  stdin?: string;
  stderrIsTTY?: boolean;
  /** A terminal on stdin: the CLI may ask, and `answers` are the lines typed (in order; '' when they run out). */
  stdinIsTTY?: boolean;
  answers?: string[];
  env?: NodeJS.ProcessEnv;
  /** Called after each write, to act on what was printed (press Ctrl-C, say). */
  onWrite?: (io: Captured) => void;
}

export function capture(options: CaptureOptions = {}): Captured {
  const handlers = new Set<() => void>();
  const io: Captured = {
    out: '',
    err: '',
    outWrites: [],
    env: options.env ?? {},
    isTTY: false,
    stderrIsTTY: options.stderrIsTTY ?? false,
    stdout: (s) => {
      io.out += s;
      io.outWrites.push(s);
      options.onWrite?.(io);
    },
    stderr: (s) => {
      io.err += s;
      options.onWrite?.(io);
    },
    stdinIsTTY: options.stdinIsTTY ?? false,
    questions: [],
    prompt: async (question) => {
      io.questions.push(question);
      return options.answers?.shift() ?? '';
    },
    readStdin: async () => options.stdin ?? '',
    onInterrupt: (handler) => {
      handlers.add(handler);
      return () => void handlers.delete(handler);
    },
    interrupt: () => {
      for (const h of [...handlers]) h();
    },
    get listening() {
      return handlers.size;
    },
  };
  return io;
}

/** stdout as NDJSON. */
export function lines(out: string): Record<string, unknown>[] {
  return out
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `airlock <argv> --home <home>` (`sign` takes no home), in-process. */
export async function airlockAt(home: string, argv: string[], options: CaptureOptions = {}) {
  const io = capture(options);
  const code = await main(argv[0] === 'sign' ? argv : [...argv, '--home', home], io);
  return { code, out: io.out, err: io.err, io };
}

/** Fresh, empty homes `home-1`, `home-2`, … under the directory `dir()` names: every test gets its own. */
export function homeMaker(dir: () => string): () => Promise<string> {
  let homes = 0;
  return async () => {
    const home = join(dir(), `home-${++homes}`);
    await mkdir(home);
    return home;
  };
}
