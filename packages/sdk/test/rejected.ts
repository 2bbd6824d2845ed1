/** Await a promise that must reject, and return what it rejected with. */
export async function rejected(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}
