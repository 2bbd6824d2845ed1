/**
 * Everything the CLI prints goes through here: colors (only on a terminal,
 * never with NO_COLOR or CI), aligned tables, NDJSON, the stderr status line
 * that carries spinners, and the one error path.
 */
import { AirlockError } from '@airlock/host';
import type { Io } from './io.js';

/** A mistake in how the command was called: exit 2. */
export class UsageError extends Error {}

/** The abort reason when the user presses Ctrl-C: exit 130. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/** A failure of the CLI's own, with a stable code like the host's errors: exit 1. */
export class CliError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, hint?: string) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.hint = hint;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, hint: this.hint };
  }
}

export interface Painter {
  /** Whether this stream gets colors at all. */
  colors: boolean;
  red: (s: string) => string;
  green: (s: string) => string;
  yellow: (s: string) => string;
  bold: (s: string) => string;
  dim: (s: string) => string;
}

function painter(enabled: boolean): Painter {
  const sgr = (open: number, close: number) => (s: string) => (enabled ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { colors: enabled, red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), bold: sgr(1, 22), dim: sgr(2, 22) };
}

const CLEAR_LINE = '\r\x1b[2K';

/** The CLI's view of its output streams. */
export class Ui {
  readonly io: Io;
  /** `--json`: machine-readable stdout. */
  readonly json: boolean;
  /** Colors for text written to stdout. */
  readonly out: Painter;
  /** Colors for text written to stderr. */
  readonly err: Painter;
  #status: string | undefined;
  #stdoutAtLineStart = true;

  constructor(io: Io, json: boolean) {
    this.io = io;
    this.json = json;
    const colors = !io.env.NO_COLOR && !io.env.CI;
    this.out = painter(colors && io.isTTY);
    this.err = painter(colors && io.stderrIsTTY);
  }

  /** Write to stdout as is (streamed text may end mid-line). */
  print(s: string): void {
    if (s === '') return;
    this.io.stdout(s);
    this.#stdoutAtLineStart = s.endsWith('\n');
  }

  /** End a partial stdout line, so what follows starts on its own line. */
  endLine(): void {
    if (!this.#stdoutAtLineStart) this.print('\n');
  }

  /** One NDJSON line on stdout. */
  event(value: unknown): void {
    this.print(`${JSON.stringify(value)}\n`);
  }

  /** A line for people on stderr; the status line, if shown, is redrawn below it. */
  log(line: string): void {
    if (this.#status === undefined) return this.io.stderr(`${line}\n`);
    this.io.stderr(`${CLEAR_LINE}${line}\n${this.#status}`);
  }

  /** Show `text` on the last stderr line (a terminal only), or clear it with `undefined`. */
  status(text: string | undefined): void {
    if (!this.io.stderrIsTTY) return;
    if (text === undefined && this.#status === undefined) return;
    this.#status = text;
    this.io.stderr(`${CLEAR_LINE}${text ?? ''}`);
  }
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A spinner on the stderr status line, redrawn every 100 ms with `label(elapsedMs)`.
 * Shown only when stderr is a terminal. Returns the function that removes it.
 */
export function startSpinner(ui: Ui, label: (elapsedMs: number) => string): () => void {
  if (!ui.io.stderrIsTTY) return () => {};
  const started = Date.now();
  let frame = 0;
  const draw = () => ui.status(`${ui.err.dim(FRAMES[frame++ % FRAMES.length]!)} ${label(Date.now() - started)}`);
  draw();
  const timer = setInterval(draw, 100);
  timer.unref();
  return () => {
    clearInterval(timer);
    ui.status(undefined);
  };
}

/** Columns padded to their widest cell; `style` colors a padded cell. */
export function table(header: string[], rows: string[][], style: (padded: string, row: number, column: number) => string = (s) => s): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[], paint: (padded: string, column: number) => string) =>
    `${cells.map((cell, c) => (c === cells.length - 1 ? paint(cell, c) : paint(cell.padEnd(widths[c]!), c))).join('  ')}\n`;
  return line(header, (s) => s) + rows.map((r, i) => line(r, (s, c) => style(s, i, c))).join('');
}

/** `m:ss` for a duration in milliseconds. */
export function clock(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/** "in 59 min", "3 h ago": a time relative to `now`, to the largest whole unit. */
export function relativeTime(at: number, now = Date.now()): string {
  const diff = Math.abs(at - now);
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  const [size, unit] = units.find(([size]) => diff >= size) ?? [1000, 's'];
  const n = Math.floor(diff / size);
  const amount = `${n} ${unit}${unit === 'day' && n !== 1 ? 's' : ''}`;
  return at >= now ? `in ${amount}` : `${amount} ago`;
}

/** At most `max` characters, with an ellipsis when cut. */
export function truncate(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Extra hints for host errors whose fix, on the command line, is a flag. */
const CLI_HINTS: Partial<Record<string, string>> = {
  CAPABILITY_NOT_GRANTED: 'pass --yes to grant what the manifest asks for',
  CONFIG_INVALID: 'set configuration with --config <plugin-id>.<key>=<value>',
  PROVIDER_NOT_FOUND: 'install a provider with `airlock plugin add <source>` or load one with --plugin <dir>; choose one with --provider <id>',
  HOME_NOT_FOUND: '`airlock plugin add <source>` creates the home; --plugin <dir> runs a plugin without installing it',
};

/** Print an error for people (stderr) and, with --json, as `{"error":…}` on stdout. Returns the exit code. */
export function reportError(ui: Ui, err: unknown): number {
  ui.status(undefined);
  if (err instanceof Interrupted) {
    ui.endLine();
    ui.log(ui.err.dim('interrupted'));
    return 130;
  }
  if (err instanceof UsageError) {
    ui.log(`${ui.err.red('error')}: ${err.message}\nRun \`airlock --help\` for usage.`);
    return 2;
  }
  ui.endLine();
  const known = AirlockError.isInstance(err) || err instanceof CliError;
  if (ui.json) ui.event({ error: known ? err.toJSON() : { message: String(err) } });
  ui.log(`${ui.err.red('error')}: ${err instanceof Error ? err.message : String(err)}`);
  if (known && err.hint) ui.log(`${ui.err.dim('hint:')} ${err.hint}`);
  const extra = known ? CLI_HINTS[err.code] : undefined;
  if (extra) ui.log(`${ui.err.dim('hint:')} ${extra}`);
  return 1;
}
