/**
 * Errors a plugin throws on purpose. Any thrown value becomes a WIT error the
 * host receives with its message (never a trap); a ToolError also carries a
 * stable `code` the host and the model can act on.
 */
export class ToolError extends Error {
  readonly code: string;

  /**
   * @example throw new ToolError('not-found', `no note with id ${id}`)
   */
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ToolError';
    this.code = code;
  }
}

/** A host interface refused an operation (the WIT error case is in `code`, e.g. `quota-exceeded`). */
export class HostError extends Error {
  readonly code: string;
  readonly interface: string;

  constructor(iface: string, code: string, message: string) {
    super(`${iface}: ${code}: ${message}`);
    this.name = 'HostError';
    this.interface = iface;
    this.code = code;
  }
}

/** Turn whatever a host import threw into a HostError. */
export function hostError(iface: string, thrown: unknown): HostError {
  const payload = (thrown !== null && typeof thrown === 'object' && 'payload' in thrown ? (thrown as { payload: unknown }).payload : thrown) as
    | { tag?: string; val?: unknown }
    | undefined;
  if (payload && typeof payload === 'object' && typeof payload.tag === 'string') {
    return new HostError(iface, payload.tag, typeof payload.val === 'string' ? payload.val : JSON.stringify(payload.val ?? ''));
  }
  return new HostError(iface, 'error', thrown instanceof Error ? thrown.message : String(thrown));
}

/** The WIT `tool-error` record for any thrown value. */
export function toToolError(thrown: unknown): { code: string; message: string; details: string | undefined } {
  if (thrown instanceof ToolError) return { code: thrown.code, message: thrown.message, details: thrown.stack };
  if (thrown instanceof HostError) return { code: `host-${thrown.code}`, message: thrown.message, details: thrown.stack };
  if (thrown instanceof Error) return { code: 'error', message: thrown.message || thrown.name, details: thrown.stack };
  return { code: 'error', message: typeof thrown === 'string' ? thrown : safeJson(thrown), details: undefined };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
