import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIfStale, pluginVariant } from '@airlock/test-utils';
import { main } from '../src/index.js';
import { capture, echoProvider, lines, notes } from './helpers.js';

let home: string;
let configurable: string;
const chat = (...argv: string[]) => ['chat', ...argv, '-p', echoProvider, '--home', home];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-cli-chat-'));
  await buildIfStale(echoProvider, { skipTypecheck: true });
  // The same provider, with a configuration schema to check --config against.
  configurable = await pluginVariant(echoProvider, join(home, 'configurable'), (pkg) => {
    pkg.name = 'configurable';
    pkg.airlock.configSchema = { type: 'object', additionalProperties: false, properties: { greeting: { type: 'string' }, retries: { type: 'integer' } } };
  });
}, 120_000);
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('airlock chat', () => {
  it('streams the answer to stdout as it arrives, and sums up on stderr', async () => {
    const io = capture();
    expect(await main(chat('hello there world'), io)).toBe(0);
    expect(io.out).toBe('echo: hello there world\n');
    expect(io.outWrites).toEqual(['echo: ', 'hello ', 'there ', 'world', '\n']);
    expect(io.err).toContain('1 prompt + 4 completion tokens · stop\n');
    expect(io.err).not.toContain('secret');
  });

  it('shows a spinner on a terminal until the answer starts, and keeps stdout clean', async () => {
    const io = capture({ stderrIsTTY: true });
    expect(await main(chat('hi'), io)).toBe(0);
    expect(io.out).toBe('echo: hi\n');
    expect(io.err).toMatch(/^\r\x1b\[2K\x1b\[2m⠋\x1b\[22m Thinking… 0:00/);
    // Every spinner frame starts a line: one it cleared, or the line below a log line of the plugin
    // (its stream can end, and log, in the same batch as its last events, so that line may come).
    expect(io.err).not.toMatch(/(?<!\r\x1b\[2K|\n)\x1b\[2m\S\x1b\[22m Thinking…/);
    // The spinner's line is cleared after its last frame, and the usage line starts a line.
    const lastFrame = io.err.lastIndexOf(' Thinking…');
    expect(io.err.indexOf('\r\x1b[2K', lastFrame)).toBeGreaterThan(lastFrame);
    expect(io.err).toMatch(/(?:\r\x1b\[2K|\n)\x1b\[2m1 prompt \+ 2 completion tokens · stop\x1b\[22m\n$/);
  });

  it('reads the prompt from stdin for -', async () => {
    const io = capture({ stdin: 'piped in\n' });
    expect(await main(chat('-'), io)).toBe(0);
    expect(io.out).toBe('echo: piped in\n');
  });

  it('offers the loaded tools without breaking a provider that ignores them', async () => {
    const io = capture();
    expect(await main([...chat('a b', '--system', 'Be brief.', '--max-tokens', '20', '--temperature', '0.2'), '-p', notes, '--yes'], io)).toBe(0);
    expect(io.out).toBe('echo: a b\n');
  });

  it('prints every stream event as NDJSON with --json, ending with done', async () => {
    const io = capture();
    expect(await main(chat('one two', '--json', '--model', 'echo'), io)).toBe(0);
    expect(lines(io.out)).toEqual([
      { type: 'text-delta', text: 'echo: ' },
      { type: 'text-delta', text: 'one ' },
      { type: 'text-delta', text: 'two' },
      { type: 'usage', usage: { promptTokens: 1, completionTokens: 3 } },
      { type: 'done', finishReason: 'stop', provider: 'echo-provider', model: 'echo', redactions: 0 },
    ]);
  });

  it('says when secrets were replaced before the prompt left', async () => {
    const io = capture();
    expect(await main(chat('my key is sk-abcdefghijklmnopqrstuvwxyz0123'), io)).toBe(0);
    expect(io.out).toBe('echo: my key is [REDACTED:openai-key]\n');
    expect(io.err).toContain('note: 1 secret was replaced with a marker before the request was sent');
  });

  it('fails with exit 1 and a hint for an unknown provider', async () => {
    const io = capture();
    expect(await main(chat('hi', '--provider', 'nope'), io)).toBe(1);
    expect(io.err).toContain('error: no provider plugin `nope` is loaded');
    expect(io.err).toContain('hint: Loaded providers: echo-provider.');
    expect(io.out).toBe('');
    const json = capture();
    expect(await main(chat('hi', '--provider', 'nope', '--json'), json)).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ error: { code: 'PROVIDER_NOT_FOUND' } });
  });

  it('ends the partial line and reports a provider failing mid-stream', async () => {
    const io = capture();
    expect(await main(chat('a b c', '--model', 'fail'), io)).toBe(1);
    expect(io.out).toBe('echo: \n');
    expect(io.err).toContain('the echo backend went away');
  });

  it('cancels the stream on Ctrl-C and exits 130', async () => {
    const io = capture({ onWrite: (io) => io.outWrites.length === 2 && io.interrupt() });
    expect(await main(chat('one two three four five six', '--model', 'slow'), io)).toBe(130);
    expect(io.out).toBe('echo: one \n');
    expect(io.err).toContain('interrupted');
    expect(io.listening).toBe(0);
  });
});

describe('airlock models', () => {
  it('lists the models as an aligned table and as JSON', async () => {
    const io = capture();
    expect(await main(['models', '-p', echoProvider, '--home', home], io)).toBe(0);
    expect(io.out).toBe(
      ['MODEL  PROVIDER       FEATURES', 'echo   echo-provider  streaming', 'slow   echo-provider  streaming', 'stall  echo-provider  streaming', 'fail   echo-provider  streaming', ''].join('\n'),
    );
    const json = capture();
    expect(await main(['models', '--provider', 'echo-provider', '-p', echoProvider, '--home', home, '--json'], json)).toBe(0);
    const models = JSON.parse(json.out) as { id: string; provider: string; features: Record<string, boolean> }[];
    expect(models.map((m) => m.id)).toEqual(['echo', 'slow', 'stall', 'fail']);
    expect(models[0]).toMatchObject({ provider: 'echo-provider', features: { streaming: true, tools: false } });
  });
});

describe('--config', () => {
  const withConfig = (...flags: string[]) => ['models', '-p', configurable, '--home', home, ...flags.flatMap((f) => ['-c', f])];

  it('passes JSON values as JSON and anything else as a string', async () => {
    const io = capture();
    expect(await main(withConfig('configurable.greeting=hello there', 'configurable.retries=3'), io)).toBe(0);
    expect(io.out).toContain('echo   configurable');
  });

  it('fails with CONFIG_INVALID when the values do not match the schema', async () => {
    // `42` is JSON, so it arrives as a number where the schema wants a string.
    const io = capture();
    expect(await main([...withConfig('configurable.greeting=42'), '--json'], io)).toBe(1);
    expect(JSON.parse(io.out)).toMatchObject({ error: { code: 'CONFIG_INVALID', plugin: 'configurable' } });
    expect(io.err).toContain('hint: set configuration with --config <plugin-id>.<key>=<value>');
    const quoted = capture();
    expect(await main(withConfig('configurable.greeting="42"'), quoted)).toBe(0);
    const unknown = capture();
    expect(await main(withConfig('configurable.colour=red'), unknown)).toBe(1);
    expect(unknown.err).toContain('does not match its configSchema');
  });
});
