// Stands in for `wasi:filesystem/preopens@0.2.12`. Tests put the host's real
// filesystem implementation behind it (see fs.test.ts).
export const state = { directories: [] as [unknown, string][] };

export function getDirectories(): [unknown, string][] {
  return state.directories;
}
