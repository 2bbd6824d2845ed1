// Stands in for `airlock:plugin/log@0.2.0`: records every line.
import type { Level } from 'airlock:plugin/log@0.2.0';

export type { Level };

export const lines: [Level, string][] = [];

export function write(level: Level, message: string): void {
  lines.push([level, message]);
}
