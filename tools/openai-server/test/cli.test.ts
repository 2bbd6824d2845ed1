/**
 * The CLI: main() with a fake Io, and the bin file as a real process.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HELP, main, type Io } from '../src/cli.js';

function fakeIo(stop: Promise<void> = Promise.resolve()) {
  const out = { stdout: '', stderr: '' };
  const io: Io = {
    stdout: (s) => void (out.stdout += s),
    stderr: (s) => void (out.stderr += s),
    stopped: () => stop,
  };
  return { io, out };
}

describe('main', () => {
  it('prints help', async () => {
    const { io, out } = fakeIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(out.stdout).toBe(HELP);
    expect(HELP).toMatch(/--port[\s\S]*--api-key[\s\S]*--chunk-delay/);
  });

  it.each([[['--nope']], [['--port', 'abc']], [['--port', '70000']], [['--chunk-delay', '-1']], [['extra']]])('rejects %j with exit code 2', async (argv) => {
    const { io, out } = fakeIo();
    expect(await main(argv, io)).toBe(2);
    expect(out.stderr).toContain('--help');
  });

  it('serves with the given key and chunk delay until stopped', async () => {
    let stop!: () => void;
    const { io, out } = fakeIo(new Promise((resolve) => (stop = resolve)));
    const exit = main(['--api-key', 'sk-cli', '--chunk-delay', '1', '-m', 'cli-model'], io);
    await expect.poll(() => out.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\n$/);
    const url = out.stdout.trim();
    const models = await fetch(`${url}/models`, { headers: { authorization: 'Bearer sk-cli' } });
    const { data } = (await models.json()) as { data: Array<{ id: string }> };
    expect(data.map((model) => model.id)).toEqual(['cli-model']);
    expect((await fetch(`${url}/models`, { headers: { authorization: 'Bearer sk-test' } })).status).toBe(401);
    stop();
    expect(await exit).toBe(0);
  });
});

describe('bin', () => {
  const bin = fileURLToPath(new URL('../bin/airlock-openai-server.js', import.meta.url));

  it('prints the base URL and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [bin, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const url = line.toString().trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect((await fetch(`${url}/models`, { headers: { authorization: 'Bearer sk-test' } })).status).toBe(200);
    child.kill('SIGINT');
    expect(await once(child, 'exit')).toEqual([0, null]);
  });
});
