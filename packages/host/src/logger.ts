/** Logging: every line is tagged with the plugin that wrote it. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  level: LogLevel;
  message: string;
  /** The plugin that wrote the line; absent for the host's own lines. */
  plugin?: string;
}

/** Receives every log line. Must not throw. */
export type Logger = (entry: LogEntry) => void;

const ORDER: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

/** A logger that writes `level` and above to stderr as `[plugin] level: message`. */
export function stderrLogger(minLevel: LogLevel = 'info'): Logger {
  return ({ level, message, plugin }) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    process.stderr.write(`[${plugin ?? 'airlock'}] ${level}: ${message}\n`);
  };
}
