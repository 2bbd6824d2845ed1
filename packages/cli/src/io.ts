/**
 * Everything the CLI touches outside itself, injectable so tests run in-process.
 */
import { text } from 'node:stream/consumers';

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
}

export const defaultIo: Io = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  env: process.env,
  isTTY: !!process.stdout.isTTY,
  stderrIsTTY: !!process.stderr.isTTY,
  readStdin: () => text(process.stdin),
  onInterrupt: (handler) => {
    process.on('SIGINT', handler);
    return () => void process.off('SIGINT', handler);
  },
};
