/**
 * Everything the CLI touches outside itself, injectable so tests run in-process.
 */
import { createInterface } from 'node:readline';
import { text } from 'node:stream/consumers';
import { Interrupted } from './output.js';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal (colors on stdout). */
  isTTY: boolean;
  /** Whether stderr is a terminal (colors and the spinner on stderr). */
  stderrIsTTY: boolean;
  /** All of standard input as text, for `airlock chat -`. */
  readStdin: () => Promise<string>;
  /** Run `handler` on Ctrl-C (SIGINT) instead of exiting; returns a function that stops listening. */
  onInterrupt: (handler: () => void) => () => void;
  /**
   * Whether stdin is a terminal, so the CLI may ask the user a question
   * (`plugin add` and `plugin update` without --yes). Absent: it never asks.
   */
  stdinIsTTY?: boolean;
  /**
   * Ask `question` (on stderr) and resolve with the line the user types; an
   * empty string at end of input. Used only when `stdinIsTTY`.
   */
  prompt?: (question: string) => Promise<string>;
}

/** One line from the terminal; Ctrl-C rejects with `Interrupted`, end of input answers ''. */
function promptTerminal(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      rl.close();
      finish();
    };
    rl.on('SIGINT', () =>
      settle(() => {
        process.stderr.write('\n');
        reject(new Interrupted());
      }),
    );
    rl.on('close', () => settle(() => resolve('')));
    rl.question(question, (answer) => settle(() => resolve(answer)));
  });
}

export const defaultIo: Io = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  env: process.env,
  isTTY: !!process.stdout.isTTY,
  stderrIsTTY: !!process.stderr.isTTY,
  stdinIsTTY: !!process.stdin.isTTY,
  readStdin: () => text(process.stdin),
  onInterrupt: (handler) => {
    process.on('SIGINT', handler);
    return () => void process.off('SIGINT', handler);
  },
  prompt: promptTerminal,
};
