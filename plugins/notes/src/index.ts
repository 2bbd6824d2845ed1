/**
 * Notes: a sample tool plugin. Notes live in the plugin's private storage, so
 * they survive host restarts; `count_words` needs no capability at all.
 */
import { defineTool, defineToolPlugin, log, storage, ToolError } from '@airlock/sdk';

interface Note {
  id: number;
  title: string;
  body: string;
  tags: string[];
  createdAt: string;
}

const noteKey = (id: number) => `note:${String(id).padStart(10, '0')}`;

function loadNote(id: number): Note {
  const note = storage.getJson<Note>(noteKey(id));
  if (!note) throw new ToolError('not-found', `no note with id ${id}`);
  return note;
}

const countWords = defineTool({
  name: 'count_words',
  description: 'Count the words, characters and lines in a text.',
  parameters: {
    type: 'object',
    properties: { text: { type: 'string', description: 'The text to count' } },
    required: ['text'],
    additionalProperties: false,
  },
  run: ({ text }) => ({
    words: text.split(/\s+/).filter(Boolean).length,
    characters: [...text].length,
    lines: text === '' ? 0 : text.split('\n').length,
  }),
});

const addNote = defineTool({
  name: 'add_note',
  description: 'Save a note with a title, a body and optional tags. Returns its id.',
  risk: 'write',
  parameters: {
    type: 'object',
    properties: {
      title: { type: 'string', minLength: 1, maxLength: 200 },
      body: { type: 'string', maxLength: 100_000 },
      tags: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9-]+$' }, maxItems: 20 },
    },
    required: ['title', 'body'],
    additionalProperties: false,
  },
  run: ({ title, body, tags = [] }) => {
    const id = (storage.getJson<number>('meta:last-id') ?? 0) + 1;
    const note: Note = { id, title, body, tags, createdAt: new Date().toISOString() };
    storage.setJson(noteKey(id), note);
    storage.setJson('meta:last-id', id);
    log.info(`added note ${id}: ${title}`);
    return { id, title };
  },
});

const getNote = defineTool({
  name: 'get_note',
  description: 'Read one note by id.',
  parameters: {
    type: 'object',
    properties: { id: { type: 'integer', minimum: 1 } },
    required: ['id'],
    additionalProperties: false,
  },
  run: ({ id }) => loadNote(id),
});

const listNotes = defineTool({
  name: 'list_notes',
  description: 'List saved notes (id, title, tags), oldest first, optionally only those with a tag.',
  parameters: {
    type: 'object',
    properties: { tag: { type: 'string' } },
    additionalProperties: false,
  },
  run: ({ tag }) =>
    storage
      .list('note:')
      .map((key) => storage.getJson<Note>(key)!)
      .filter((note) => tag === undefined || note.tags.includes(tag))
      .map(({ id, title, tags }) => ({ id, title, tags })),
});

const deleteNote = defineTool({
  name: 'delete_note',
  description: 'Delete a note by id.',
  risk: 'write',
  parameters: {
    type: 'object',
    properties: { id: { type: 'integer', minimum: 1 } },
    required: ['id'],
    additionalProperties: false,
  },
  run: ({ id }) => {
    if (!storage.delete(noteKey(id))) throw new ToolError('not-found', `no note with id ${id}`);
    return { deleted: id };
  },
});

export default defineToolPlugin({ tools: [countWords, addNote, getNote, listNotes, deleteNote] });
