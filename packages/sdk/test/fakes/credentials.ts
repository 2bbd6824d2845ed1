// Stands in for `airlock:plugin/credentials@0.2.0`.
import type { Token } from 'airlock:plugin/credentials@0.2.0';

export type { Token };

export const state = {
  token: undefined as Token | undefined,
  requested: [] as string[],
  /** When set, getToken throws this value. */
  failWith: undefined as unknown,
};

export function getToken(authPlugin: string): Token {
  state.requested.push(authPlugin);
  if (state.failWith !== undefined) throw state.failWith;
  if (!state.token) throw new Error('no token configured in the fake');
  return state.token;
}

export function signedIn(authPlugin: string): boolean {
  state.requested.push(authPlugin);
  if (state.failWith !== undefined) throw state.failWith;
  return state.token !== undefined;
}
