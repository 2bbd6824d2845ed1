import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIfStale } from '@airlock/test-utils';
import { main } from '../src/index.js';
import { capture } from './helpers.js';

const prompts = new URL('../../../plugins/prompts', import.meta.url).pathname;
const notesContext = new URL('../../../plugins/notes-context', import.meta.url).pathname;
const documents = JSON.stringify([
  { source: 'rotate.md', text: 'Rotate the API key from the settings page.' },
  { source: 'scopes.md', text: 'Each API key has scopes.' },
  { source: 'billing.md', text: 'Invoices are sent monthly.' },
]);

let home: string;

beforeAll(async () => {
  await buildIfStale(prompts);
  await buildIfStale(notesContext);
  home = await mkdtemp(join(tmpdir(), 'airlock-cli-prompt-'));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const run = async (argv: string[]) => {
  const io = capture();
  const code = await main(argv, io);
  return { code, out: io.out, err: io.err };
};

describe('airlock prompt', () => {
  it('lists the templates as a table, optional variables in brackets, and as JSON', async () => {
    const table = await run(['prompt', 'list', '-p', prompts, '--yes', '--home', home]);
    expect(table.code).toBe(0);
    const lines = table.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PROMPT\s+VARIABLES\s+DESCRIPTION$/);
    expect(lines.find((l) => l.startsWith('prompts.code-review'))).toMatch(/language code \[focus\]/);
    const json = await run(['prompt', 'list', '-p', prompts, '--yes', '--home', home, '--json']);
    expect(JSON.parse(json.out).map((p: { qualifiedName: string }) => p.qualifiedName).sort()).toEqual(['prompts.code-review', 'prompts.summarize']);
  });

  it('renders with --var values and with --vars JSON', async () => {
    const text = await run(['prompt', 'render', 'summarize', '--var', 'text=A long story.', '--var', 'style=tldr', '-p', prompts, '--yes', '--home', home]);
    expect(text.code).toBe(0);
    expect(text.out).toContain('── system ──');
    expect(text.out).toContain('Summarize this:\n\nA long story.');
    const json = await run(['prompt', 'render', 'prompts.code-review', '--vars', '{"language":"Go","code":"x := 1"}', '-p', prompts, '--yes', '--home', home, '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.out);
    expect(parsed.prompt).toBe('prompts.code-review');
    expect(parsed.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user']);
  });

  it('fails with the typed error for variables the schema refuses, and is a usage error for malformed flags', async () => {
    const bad = await run(['prompt', 'render', 'summarize', '--var', 'style=haiku', '-p', prompts, '--yes', '--home', home, '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out).error).toMatchObject({ code: 'PROMPT_ARGUMENTS_INVALID' });
    expect((await run(['prompt', 'render', 'summarize', '--var', 'novalue', '-p', prompts, '--yes', '--home', home])).code).toBe(2);
    expect((await run(['prompt', 'render', 'summarize', '--vars', '[1]', '-p', prompts, '--yes', '--home', home])).err).toContain('JSON object');
    expect((await run(['prompt', 'render', '-p', prompts, '--yes', '--home', home])).err).toContain('name the template');
  });
});

describe('airlock context', () => {
  const config = ['-c', `notes-context.documents=${documents}`];

  it('prints the items that fit the budget, best first, with a summary on stderr', async () => {
    const r = await run(['context', 'rotate', 'api', 'key', '--budget', '1000', '-p', notesContext, '--yes', ...config, '--home', home]);
    expect(r.code).toBe(0);
    expect(r.out.indexOf('rotate.md')).toBeLessThan(r.out.indexOf('scopes.md'));
    expect(r.out).not.toContain('billing.md');
    expect(r.err).toMatch(/2 items, \d+ of 1000 tokens/);
  });

  it('keeps to --budget and --max-items, and prints JSON', async () => {
    const r = await run(['context', 'rotate api key', '--budget', '1000', '--max-items', '1', '-p', notesContext, '--yes', ...config, '--home', home, '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result.items).toEqual([expect.objectContaining({ source: 'rotate.md', plugin: 'notes-context' })]);
    // The plugin itself returns no more than maxItems, so nothing is left out.
    expect(result).toMatchObject({ dropped: 0, failures: [] });
    const tight = JSON.parse((await run(['context', 'rotate api key', '--budget', '8', '-p', notesContext, '--yes', ...config, '--home', home, '--json'])).out);
    expect(tight.items.map((i: { source: string }) => i.source)).toEqual(['scopes.md']);
  });

  it('is a usage error without a query or a valid budget', async () => {
    expect((await run(['context', '--budget', '10', '-p', notesContext, '--yes', '--home', home])).err).toContain('say what to find context for');
    const missing = await run(['context', 'x', '-p', notesContext, '--yes', '--home', home]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--budget <tokens>` is required');
    expect((await run(['context', 'x', '--budget', '0', '-p', notesContext, '--yes', '--home', home])).err).toContain('`--budget` must be an integer');
  });
});
