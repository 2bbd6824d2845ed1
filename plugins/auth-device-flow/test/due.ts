/** Wait until `token` is due for a refresh: a quarter of its lifetime before it expires (for tokens of 1 s with a larger margin), and a little more. */
export const untilDue = (token: { expiresAt?: number }): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, token.expiresAt! - 250 - Date.now()) + 20));
