/**
 * {{name}}: a tool plugin. Each tool is a function an LLM agent can call; its
 * arguments are described by a JSON Schema, and the host validates every call
 * against it before `run` sees the arguments.
 */
import { defineTool, defineToolPlugin, ToolError } from '@airlock/sdk';

const slugify = defineTool({
  name: 'slugify',
  description: 'Turn a title into a URL slug: lowercase words joined by dashes.',
  parameters: {
    type: 'object',
    properties: { title: { type: 'string', description: 'The title to turn into a slug' } },
    required: ['title'],
    additionalProperties: false,
  },
  // `title` is typed `string`: the type follows from the schema above.
  run: ({ title }) => ({
    slug: title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, ''),
  }),
});

const repeat = defineTool({
  name: 'repeat',
  description: 'Repeat a text a number of times, separated by a space.',
  parameters: {
    type: 'object',
    properties: {
      text: { type: 'string' },
      times: { type: 'integer', minimum: 1, maximum: 100, description: 'How often (1–100)' },
    },
    required: ['text'],
    additionalProperties: false,
  },
  // Tools may be async; `times` is optional here (`number | undefined`).
  run: async ({ text, times = 2 }) => {
    if (text.trim() === '') throw new ToolError('invalid-input', 'text must not be blank');
    return { text: Array.from({ length: times }, () => text).join(' ') };
  },
});

export default defineToolPlugin({ tools: [slugify, repeat] });
