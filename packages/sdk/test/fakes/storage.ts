// Stands in for `airlock:plugin/storage@0.2.0`: an in-memory map, and a way
// to make the next calls throw what a failing host import throws.
export const state = {
  data: new Map<string, Uint8Array>(),
  /** When set, every call throws this value. */
  failWith: undefined as unknown,
};

function check(): void {
  if (state.failWith !== undefined) throw state.failWith;
}

export function get(key: string): Uint8Array | undefined {
  check();
  return state.data.get(key);
}

export function set(key: string, value: Uint8Array): void {
  check();
  state.data.set(key, value);
}

function _delete(key: string): boolean {
  check();
  return state.data.delete(key);
}
export { _delete as delete };

export function list(prefix: string): string[] {
  check();
  return [...state.data.keys()].filter((k) => k.startsWith(prefix)).sort();
}
