/**
 * {{name}}: a prompt-template plugin. Each template has a JSON Schema of its
 * variables; the host checks the variables against it before `render` sees
 * them, and an MCP client (through `airlock serve`) sees each template as a prompt.
 */
import { definePromptPlugin, ToolError } from '@airlock/sdk';

export default definePromptPlugin({
  templates: {
    'commit-message': {
      description: 'Write a commit message for a diff.',
      variables: {
        type: 'object',
        properties: {
          diff: { type: 'string', description: 'The output of `git diff --staged`' },
          style: { enum: ['conventional', 'plain'], description: 'How the subject line reads' },
        },
        required: ['diff'],
        additionalProperties: false,
      },
      // `diff` is a string and `style` is 'conventional' | 'plain' | undefined: the types follow from the schema.
      render: ({ diff, style = 'plain' }) => {
        if (diff.trim() === '') throw new ToolError('invalid-input', 'the diff is empty: stage some changes first');
        return [
          { role: 'system', content: `You write commit messages: ${style === 'conventional' ? 'a Conventional Commits subject (type(scope): summary)' : 'a short imperative subject'}, a blank line, then why the change was made.` },
          { role: 'user', content: `Write the commit message for this diff:\n\n${diff}` },
        ];
      },
    },
    explain: {
      description: 'Explain a term for a beginner.',
      variables: { type: 'object', properties: { term: { type: 'string' } }, required: ['term'], additionalProperties: false },
      // A string is one user message.
      render: ({ term }) => `Explain "${term}" to someone who has never heard of it, in three sentences.`,
    },
  },
});
