/**
 * Environment variables the user granted (manifest `capabilities.env`).
 * Anything not granted is simply absent: the host never shows it.
 */
/// <reference path="../types/wasi.d.ts" />
import { getEnvironment } from 'wasi:cli/environment@0.2.12';

/** The granted environment, read from the host on each call (never at build time). */
function read(): Map<string, string> {
  return new Map(getEnvironment());
}

export const env = {
  /** The value of a granted variable, or undefined when it is unset or not granted. */
  get(name: string): string | undefined {
    return read().get(name);
  },
  /** Every variable this plugin may see. */
  all(): Record<string, string> {
    return Object.fromEntries(read());
  },
};
