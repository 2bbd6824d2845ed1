/**
 * Errors a plugin throws on purpose. Any thrown value becomes a WIT error the
 * host receives with its message and, for an Error, its stack (never a trap);
 * a ToolError also carries a stable `code` the host and the model can act on.
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

/**
 * What a WIT error carries for any thrown value: the message (an Error's
 * message, or its name when it has none; a thrown string as it is; anything
 * else as JSON text) and, for an Error, its stack as `details`.
 */
export function failureOf(thrown: unknown): { message: string; details: string | undefined } {
  if (thrown instanceof Error) return { message: thrown.message || thrown.name, details: thrown.stack };
  return { message: typeof thrown === 'string' ? thrown : safeJson(thrown), details: undefined };
}

/** The WIT `tool-error` record for any thrown value. */
export function toToolError(thrown: unknown): { code: string; message: string; details: string | undefined } {
  const { message, details } = failureOf(thrown);
  if (thrown instanceof ToolError) return { code: thrown.code, message, details };
  if (thrown instanceof HostError) return { code: `host-${thrown.code}`, message, details };
  return { code: 'error', message, details };
}

/**
 * Throw the WIT `tool-error` record for `thrown`: what an export whose
 * result errs with that record throws (a thrown Error would trap the
 * component). Used by the tool, prompt-template and context kinds.
 */
export function failWithToolError(thrown: unknown): never {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the WIT `result` error case is the record itself
  throw toToolError(thrown);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    try {
      return String(value);
    } catch {
      // No usable toString (e.g. a throwing toJSON on a null-prototype object).
      return Object.prototype.toString.call(value);
    }
  }
}
