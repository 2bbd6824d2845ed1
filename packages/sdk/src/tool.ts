/**
 * Tool plugins. `defineTool` types a tool's arguments from its JSON Schema;
 * `defineToolPlugin` turns a list of tools into the `tool` export of the
 * contract, wrapping every call so nothing a tool throws can trap the plugin.
 */
import type { FromSchema, ObjectSchema } from './schema.js';
import { ToolError, failWithToolError } from './errors.js';
import { lifecycleExports, type LifecycleExports, type LifecycleHooks } from './lifecycle.js';

export type RiskLevel = 'read-only' | 'write' | 'risky' | 'dangerous';

export interface ToolDefinition<S extends ObjectSchema = ObjectSchema, R = unknown> {
  /** `[a-z][a-z0-9_-]*`, unique within the plugin. */
  name: string;
  /** What the tool does, written for the model. */
  description: string;
  /** JSON Schema of the arguments object. The host validates arguments against it before `run`. */
  parameters: S;
  /** How much harm a call can do. Default `read-only`. */
  risk?: RiskLevel;
  /** Do the work. May be async. The result must be JSON-serializable. */
  run: (args: FromSchema<S>) => R | Promise<R>;
}

/** A tool whose argument type is erased, for lists of tools. */
export interface AnyTool {
  name: string;
  description: string;
  parameters: ObjectSchema;
  risk?: RiskLevel;
  run: (args: never) => unknown;
}

/**
 * Define a tool. The arguments of `run` are typed from `parameters`.
 *
 * @example
 * defineTool({
 *   name: 'count_words',
 *   description: 'Count the words in a text',
 *   parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
 *   run: ({ text }) => ({ words: text.split(/\s+/).filter(Boolean).length }),
 * })
 */
export function defineTool<const S extends ObjectSchema, R>(tool: ToolDefinition<S, R>): ToolDefinition<S, R> {
  return tool;
}

/** What `defineToolPlugin` returns; the build exports it as the component's `tool` interface. */
export interface ToolPlugin {
  readonly kind: 'tool';
  readonly exports: {
    listTools(): { name: string; description: string; parameters: string; risk: RiskLevel }[];
    callTool(name: string, args: string): string | Promise<string>;
  };
  /** The hooks; the build exports them as the component's `lifecycle` interface. */
  readonly lifecycle: LifecycleExports;
}

const settle = <T>(f: () => T | Promise<T>, onErr: (e: unknown) => never): T | Promise<T> => {
  let result: T | Promise<T>;
  try {
    result = f();
  } catch (e) {
    return onErr(e);
  }
  return result instanceof Promise ? result.catch(onErr) : result;
};

/**
 * Define a tool plugin. Export the result as the module's default export.
 *
 * @example
 * export default defineToolPlugin({ tools: [countWords, addNote] });
 */
export function defineToolPlugin(plugin: { tools: readonly AnyTool[] } & LifecycleHooks): ToolPlugin {
  const byName = new Map<string, AnyTool>();
  for (const t of plugin.tools) {
    if (byName.has(t.name)) throw new Error(`two tools are named ${t.name}`);
    byName.set(t.name, t);
  }
  return {
    kind: 'tool',
    lifecycle: lifecycleExports(plugin),
    exports: {
      listTools: () =>
        plugin.tools.map((t) => ({ name: t.name, description: t.description, parameters: JSON.stringify(t.parameters), risk: t.risk ?? 'read-only' })),
      callTool: (name, args) =>
        settle(() => {
          const tool = byName.get(name);
          if (!tool) throw new ToolError('unknown-tool', `this plugin has no tool named ${name}`);
          const result = (tool.run as (a: unknown) => unknown)(JSON.parse(args));
          return result instanceof Promise ? result.then(toJson) : toJson(result);
        }, failWithToolError),
    },
  };
}

function toJson(value: unknown): string {
  const text = JSON.stringify(value === undefined ? null : value);
  if (text === undefined) throw new ToolError('invalid-result', 'the tool returned a value that cannot be encoded as JSON');
  return text;
}
