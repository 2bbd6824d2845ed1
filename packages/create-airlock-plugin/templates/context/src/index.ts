/**
 * {{name}}: a context plugin. Given what the user asked, it returns the pieces
 * of text worth adding to the prompt, each with a source and a score; the
 * host ranks them with other plugins' items and keeps what fits the token
 * budget. This one searches a few notes kept in the code; a real one would
 * read them from storage, files or an API (ask for that capability).
 */
import { defineContextPlugin } from '@airlock/sdk';

const NOTES = [
  { source: 'faq/install.md', text: 'Install the CLI with npm install -g @airlock/cli, then run airlock --help.' },
  { source: 'faq/plugins.md', text: 'A plugin runs in a sandbox and gets only the capabilities its user granted.' },
  { source: 'faq/support.md', text: 'For support, open an issue with the output of airlock doctor.' },
];

/** Lower-case words of two characters or more. */
const words = (text: string) => new Set(text.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length >= 2));

export default defineContextPlugin({
  // May be async; `budgetTokens` and `maxItems` say how much the host will keep.
  retrieve: ({ query, maxItems }) => {
    const wanted = words(query);
    return NOTES.map((note) => {
      const have = words(note.text);
      const shared = [...wanted].filter((w) => have.has(w)).length;
      return { text: note.text, source: note.source, score: wanted.size ? shared / wanted.size : 0 };
    })
      .filter((item) => item.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, maxItems);
  },
});
