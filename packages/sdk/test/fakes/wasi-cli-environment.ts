// Stands in for `wasi:cli/environment@0.2.12`: what the host shows (only granted variables).
export const state = { env: [] as [string, string][] };

export function getEnvironment(): [string, string][] {
  return state.env;
}
