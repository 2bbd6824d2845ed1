/**
 * Prompt templates as MCP prompts. An MCP prompt's arguments are the
 * template's top-level variables (with `required`), and MCP passes every
 * argument as a string: each is turned into the type the variables schema
 * gives it (a number, an integer, a boolean, JSON for an object or array)
 * before the host checks the variables against the schema. MCP prompt
 * messages are from the user or the assistant only, so a system message is
 * sent as a user message.
 */
import { ErrorCode, McpError, type GetPromptResult, type Prompt } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError, type PromptInfo, type RenderedPrompt } from '@airlock/host';

type PropertySchema = { type?: unknown; description?: unknown; enum?: unknown[] };

const propertiesOf = (prompt: PromptInfo): Record<string, PropertySchema> =>
  (prompt.variables.properties !== null && typeof prompt.variables.properties === 'object' ? prompt.variables.properties : {}) as Record<string, PropertySchema>;

/** An MCP prompt for a template, under its qualified name `<plugin>.<template>`. */
export function toMcpPrompt(prompt: PromptInfo): Prompt {
  const required = new Set(Array.isArray(prompt.variables.required) ? (prompt.variables.required as string[]) : []);
  return {
    name: prompt.qualifiedName,
    title: `${prompt.name} (${prompt.plugin})`,
    description: prompt.description,
    arguments: Object.entries(propertiesOf(prompt)).map(([name, schema]) => ({
      name,
      ...(typeof schema?.description === 'string' ? { description: schema.description } : {}),
      required: required.has(name),
    })),
    _meta: { 'airlock/plugin': prompt.plugin },
  };
}

/** The types a property may have, as the schema says (`type`, or what its `enum` holds). */
function typesOf(schema: PropertySchema | undefined): Set<string> {
  if (typeof schema?.type === 'string') return new Set([schema.type]);
  if (Array.isArray(schema?.type)) return new Set(schema.type.filter((t): t is string => typeof t === 'string'));
  if (Array.isArray(schema?.enum)) return new Set(schema.enum.map((v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)));
  return new Set();
}

/**
 * MCP's string arguments as the values the template's schema expects. A
 * string that cannot be read as its property's type is left as it is, for the
 * host's schema check to name.
 */
export function coerceArguments(prompt: PromptInfo, args: Record<string, string> = {}): Record<string, unknown> {
  const properties = propertiesOf(prompt);
  return Object.fromEntries(Object.entries(args).map(([name, text]) => [name, coerce(text, typesOf(properties[name]))]));
}

function coerce(text: string, types: Set<string>): unknown {
  if (types.size === 0 || types.has('string')) return text;
  const trimmed = text.trim();
  if ((types.has('number') || types.has('integer')) && trimmed !== '' && Number.isFinite(Number(trimmed))) return Number(trimmed);
  if (types.has('boolean') && (trimmed === 'true' || trimmed === 'false')) return trimmed === 'true';
  if (types.has('null') && trimmed === 'null') return null;
  if (types.has('object') || types.has('array')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** A rendered template as MCP prompt messages. */
export function toGetPromptResult(prompt: PromptInfo, rendered: RenderedPrompt): GetPromptResult {
  return {
    description: prompt.description,
    messages: rendered.messages.map((m) => ({ role: m.role === 'assistant' ? 'assistant' : 'user', content: { type: 'text', text: m.content } })),
  };
}

/** A host error as the JSON-RPC error of a `prompts/get`: the caller's mistakes are invalid params. */
export function promptError(err: unknown): McpError {
  if (!AirlockError.isInstance(err)) return new McpError(ErrorCode.InternalError, (err as Error)?.message ?? String(err));
  const invalid = err.code === 'PROMPT_NOT_FOUND' || err.code === 'PROMPT_AMBIGUOUS' || err.code === 'PROMPT_ARGUMENTS_INVALID';
  return new McpError(invalid ? ErrorCode.InvalidParams : ErrorCode.InternalError, `${err.code}: ${err.message}${err.hint ? ` Hint: ${err.hint}` : ''}`, { code: err.code });
}
