/**
 * Notes context: a sample context plugin. Notes live in the plugin's storage
 * (`doc:<source>` → `{ source, text }`); the configuration's `documents` are
 * stored when an instance starts. A query is answered with the notes that
 * share words with it, scored by the share of the query's words they hold.
 *
 * It returns up to `maxItems` notes whatever their length: keeping what fits
 * the token budget is the host's job, done the same way for every plugin.
 */
import { defineContextPlugin, storage, type ContextItem } from '@airlock/sdk';

interface Doc {
  source: string;
  text: string;
}

const PREFIX = 'doc:';

/**
 * Lower-case words of two characters or more. (The component's JavaScript
 * engine is built without Unicode property classes: no `\p{L}`.)
 */
const words = (text: string): Set<string> => new Set(text.toLowerCase().split(/[^a-z0-9\u00c0-\uffff]+/).filter((w) => w.length >= 2));

export default defineContextPlugin({
  init: (config) => {
    for (const doc of (config.documents ?? []) as Doc[]) storage.setJson(`${PREFIX}${doc.source}`, doc);
  },
  retrieve: ({ query, maxItems }) => {
    const wanted = words(query);
    if (wanted.size === 0) return [];
    const items: ContextItem[] = [];
    for (const key of storage.list(PREFIX)) {
      const doc = storage.getJson<Doc>(key);
      if (!doc) continue;
      const have = words(doc.text);
      let shared = 0;
      for (const w of wanted) if (have.has(w)) shared++;
      if (shared > 0) items.push({ text: doc.text, source: doc.source, score: shared / wanted.size });
    }
    return items.sort((a, b) => b.score - a.score).slice(0, maxItems);
  },
});
