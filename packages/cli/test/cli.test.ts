import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type Io } from '../src/index.js';

const notes = new URL('../../../plugins/notes', import.meta.url).pathname;
let home: string;

function capture(): Io & { out: string; err: string } {
  const io = { out: '', err: '', env: {}, isTTY: false } as Io & { out: string; err: string };
  io.stdout = (s) => void (io.out += s);
  io.stderr = (s) => void (io.err += s);
  return io;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-cli-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('airlock', () => {
  it('prints help', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out).toMatchInlineSnapshot(`
      "airlock — run Airlock plugins from a shell

      Usage
        airlock tools list --plugin <dir>...                List the tools of the given plugins
        airlock tools call <tool> [json] --plugin <dir>...  Call a tool with JSON arguments

      Options
        -p, --plugin <dir>   A plugin directory to load (repeatable)
        -y, --yes            Grant every capability the plugins' manifests ask for
            --home <dir>     Host home (default: $AIRLOCK_HOME or ~/.airlock)
            --json           Print one JSON document on stdout
        -h, --help           Show this help
        -v, --version        Show the version

      Examples
        airlock tools list -p plugins/notes --yes
        airlock tools call count_words '{"text":"hello world"}' -p plugins/notes --yes
      "
    `);
  });

  it('exits 2 on a usage error', async () => {
    const io = capture();
    expect(await main(['frobnicate'], io)).toBe(2);
    expect(io.err).toContain('unknown command `frobnicate`');
    const io2 = capture();
    expect(await main(['tools', 'call', 'count_words', '{not json', '-p', notes, '--yes', '--home', home], io2)).toBe(2);
    expect(io2.err).toContain('not valid JSON');
  });

  it('lists tools as an aligned table and as JSON', async () => {
    const io = capture();
    expect(await main(['tools', 'list', '-p', notes, '--yes', '--home', home], io)).toBe(0);
    const lines = io.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TOOL\s+RISK\s+DESCRIPTION$/);
    expect(lines.some((l) => /^notes\.add_note\s+write\s+Save a note/.test(l))).toBe(true);
    const json = capture();
    expect(await main(['tools', 'list', '-p', notes, '--yes', '--home', home, '--json'], json)).toBe(0);
    expect((JSON.parse(json.out) as { qualifiedName: string }[]).map((t) => t.qualifiedName)).toContain('notes.count_words');
  });

  it('calls a tool and prints its result', async () => {
    const io = capture();
    expect(await main(['tools', 'call', 'count_words', '{"text":"a b c"}', '-p', notes, '--yes', '--home', home, '--json'], io)).toBe(0);
    expect(JSON.parse(io.out)).toEqual({ tool: 'count_words', result: { words: 3, characters: 5, lines: 1 } });
  });

  it('fails with exit 1 and the typed error when the tool fails', async () => {
    const io = capture();
    expect(await main(['tools', 'call', 'get_note', '{"id":7}', '-p', notes, '--yes', '--home', home, '--json'], io)).toBe(1);
    expect(JSON.parse(io.out).error).toMatchObject({ code: 'TOOL_FAILED', plugin: 'notes' });
    expect(io.err).toContain('no note with id 7');
  });

  it('refuses to load a plugin without consent and says how to give it', async () => {
    const io = capture();
    expect(await main(['tools', 'list', '-p', notes, '--home', home], io)).toBe(1);
    expect(io.err).toContain('asks for storage');
    expect(io.err).toContain('--yes');
  });
});
