/**
 * Prompt-template plugins. `definePromptPlugin` turns named templates (a
 * description, a JSON Schema of their variables, a render function) into the
 * `prompt-template` export of the contract, wrapping every call so nothing a
 * template throws can trap the plugin.
 */
import type { FromSchema, ObjectSchema } from './schema.js';
import { ToolError, failWithToolError } from './errors.js';
import { lifecycleExports, type LifecycleExports, type LifecycleHooks } from './lifecycle.js';

const TEMPLATE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** Who a rendered message is from. */
export type PromptRole = 'system' | 'user' | 'assistant';

/** One rendered message. */
export interface PromptMessage {
  role: PromptRole;
  content: string;
}

export interface TemplateDefinition<S extends ObjectSchema = ObjectSchema> {
  /** What the template is for, for the user picking one. */
  description: string;
  /** JSON Schema of the variables object. The host checks variables against it before `render`. */
  variables: S;
  /**
   * Render the messages. A string is one user message. May be async. What it
   * throws reaches the host as the plugin's error (a ToolError keeps its code).
   */
  render: (variables: FromSchema<S>) => string | PromptMessage[] | Promise<string | PromptMessage[]>;
}

/** What `definePromptPlugin` returns; the build exports it as the component's `promptTemplate` interface. */
export interface PromptPlugin {
  readonly kind: 'prompt-template';
  readonly exports: {
    listTemplates(): { name: string; description: string; variables: string }[];
    render(name: string, variables: string): PromptMessage[] | Promise<PromptMessage[]>;
  };
  /** The hooks; the build exports them as the component's `lifecycle` interface. */
  readonly lifecycle: LifecycleExports;
}

/**
 * Define a prompt-template plugin: templates by name (`[a-z][a-z0-9_-]*`).
 * Each template's `render` gets its variables typed from its schema. Export
 * the result as the module's default export.
 *
 * @example
 * export default definePromptPlugin({
 *   templates: {
 *     summarize: {
 *       description: 'Summarize a text',
 *       variables: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
 *       render: ({ text }) => [
 *         { role: 'system', content: 'You write short, faithful summaries.' },
 *         { role: 'user', content: `Summarize:\n\n${text}` },
 *       ],
 *     },
 *   },
 * });
 */
export function definePromptPlugin<const T extends Record<string, ObjectSchema>>(
  plugin: { templates: { [K in keyof T]: TemplateDefinition<T[K]> } } & LifecycleHooks,
): PromptPlugin {
  const templates = plugin.templates as unknown as Record<string, TemplateDefinition>;
  // Checked here too, so a bad name fails the build rather than the first load.
  for (const name of Object.keys(templates)) {
    if (!TEMPLATE_NAME.test(name)) throw new Error(`template name ${JSON.stringify(name)} must match ${TEMPLATE_NAME}`);
  }
  return {
    kind: 'prompt-template',
    lifecycle: lifecycleExports(plugin),
    exports: {
      listTemplates: () => Object.entries(templates).map(([name, t]) => ({ name, description: t.description, variables: JSON.stringify(t.variables) })),
      render: (name, variables) => {
        try {
          const template = Object.hasOwn(templates, name) ? templates[name] : undefined;
          if (!template) throw new ToolError('not-found', `this plugin has no template named ${name}`);
          const rendered = (template.render as (v: unknown) => ReturnType<TemplateDefinition['render']>)(JSON.parse(variables));
          return rendered instanceof Promise ? rendered.then(toMessages).catch(failWithToolError) : toMessages(rendered);
        } catch (e) {
          return failWithToolError(e);
        }
      },
    },
  };
}

function toMessages(rendered: string | PromptMessage[]): PromptMessage[] {
  if (typeof rendered === 'string') return [{ role: 'user', content: rendered }];
  if (!Array.isArray(rendered)) throw new ToolError('invalid-result', 'render must return a string or a list of messages');
  // Only the record's fields cross the boundary: extra properties would make the lowering fail.
  return rendered.map((m) => ({ role: m.role, content: m.content }));
}
