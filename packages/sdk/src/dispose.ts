/** `Symbol.dispose`, where the engine has it; jco and componentize-js fall back to the registered symbol. */
export const dispose: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('dispose');

/** Drop a resource handle now rather than when it is collected. */
export function close(resource: object): void {
  const f = (resource as Record<symbol, unknown>)[dispose];
  if (typeof f === 'function') f.call(resource);
}
