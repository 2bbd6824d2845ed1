// Stands in for `airlock:plugin/config@0.2.0`: values are JSON texts, as the host passes them.
export const state = { values: {} as Record<string, string> };

export function get(key: string): string | undefined {
  return state.values[key];
}

export function getAll(): string {
  return `{${Object.entries(state.values)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(',')}}`;
}
