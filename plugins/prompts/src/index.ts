/**
 * Prompts: a sample prompt-template plugin. It needs no capability: a
 * template is a function of its variables, which the host has already checked
 * against the template's schema.
 */
import { definePromptPlugin, log } from '@airlock/sdk';

const STYLES = {
  bullets: 'as three to five bullet points',
  paragraph: 'as one short paragraph',
  tldr: 'in one sentence',
} as const;

export default definePromptPlugin({
  templates: {
    'code-review': {
      description: 'Review a piece of code for bugs, readability and security.',
      variables: {
        type: 'object',
        properties: {
          language: { type: 'string', description: 'The language the code is written in', minLength: 1 },
          code: { type: 'string', description: 'The code to review', minLength: 1 },
          focus: { type: 'string', description: 'What to look at first (optional)' },
        },
        required: ['language', 'code'],
        additionalProperties: false,
      },
      render: ({ language, code, focus }) => {
        log.debug(`rendering code-review for ${language}`);
        return [
          {
            role: 'system',
            content: `You are a careful ${language} reviewer. Point out bugs first, then security problems, then readability. Quote the lines you mean. Say so when the code is fine.`,
          },
          { role: 'user', content: `${focus ? `Focus on ${focus}.\n\n` : ''}Review this ${language} code:\n\n\`\`\`${language.toLowerCase()}\n${code}\n\`\`\`` },
        ];
      },
    },
    summarize: {
      description: 'Summarize a text in a chosen style.',
      variables: {
        type: 'object',
        properties: {
          text: { type: 'string', description: 'The text to summarize', minLength: 1 },
          style: { enum: ['bullets', 'paragraph', 'tldr'], description: 'How the summary reads', default: 'paragraph' },
        },
        required: ['text'],
        additionalProperties: false,
      },
      render: ({ text, style = 'paragraph' }) => [
        { role: 'system', content: `You write faithful summaries ${STYLES[style]}. Add nothing the text does not say.` },
        { role: 'user', content: `Summarize this:\n\n${text}` },
      ],
    },
  },
});
