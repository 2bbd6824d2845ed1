/** Colors for the command's output: only on a terminal, and not with NO_COLOR or in CI. */
export const useColor = () => !!process.stderr.isTTY && !process.env.NO_COLOR && !process.env.CI;
const paint = (code: number) => (s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);
export const dim = paint(2);
