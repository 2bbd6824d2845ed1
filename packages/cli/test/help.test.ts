import { describe, expect, it } from 'vitest';
import { COMMAND_HELP, HELP, main } from '../src/index.js';
import { capture } from './helpers.js';

describe('airlock <command> --help', () => {
  it('prints help for every command and group, each with its usage, options and an example', async () => {
    const texts: Record<string, string> = {};
    for (const topic of Object.keys(COMMAND_HELP).sort()) {
      for (const flag of ['--help', '-h']) {
        const io = capture();
        expect(await main([...topic.split(' '), flag], io), topic).toBe(0);
        expect(io.out).toBe(COMMAND_HELP[topic]);
        expect(io.err).toBe('');
      }
      const text = COMMAND_HELP[topic]!;
      expect(text).toMatch(new RegExp(`^Usage: airlock ${topic}`));
      if (topic.includes(' ') || !text.includes('Commands\n')) expect(text, topic).toMatch(/\nOptions\n[\s\S]*\nExamples?\n {2}airlock /);
      texts[topic] = text;
    }
    expect(texts).toMatchSnapshot();
  });

  it('covers every command the global help lists', () => {
    const listed = [...HELP.matchAll(/^ {2}airlock ([a-z]+(?: [a-z]+)?)/gm)].map((m) => m[1]!.split(' ').filter((w) => w in COMMAND_HELP || `${m[1]}` in COMMAND_HELP));
    for (const words of listed) expect(words.length, String(words)).toBeGreaterThan(0);
    const commands = Object.keys(COMMAND_HELP).filter((t) => !COMMAND_HELP[t]!.includes('\nCommands\n'));
    for (const command of commands) expect(HELP, command).toContain(`airlock ${command}`);
  });

  it('prints the command help wherever --help appears, even with other arguments', async () => {
    const io = capture();
    expect(await main(['plugin', 'add', './x', '--yes', '--help'], io)).toBe(0);
    expect(io.out).toBe(COMMAND_HELP['plugin add']);
  });

  it('exits 2 for --help on an unknown command', async () => {
    const io = capture();
    expect(await main(['plugin', 'frob', '--help'], io)).toBe(2);
    expect(io.err).toContain('unknown command `plugin frob`');
  });
});
