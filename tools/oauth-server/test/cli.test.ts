import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEVICE_CODE_GRANT, HELP, main, type CliIo } from '../src/index.js';
import { postForm } from './helpers.js';

const bin = fileURLToPath(new URL('../bin/airlock-oauth-server.js', import.meta.url));

/** An io that records output and stops when `stop()` is called. */
function capture(): CliIo & { out: string; err: string; stop: () => void; printed: (text: string) => Promise<void> } {
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const io = {
    out: '',
    err: '',
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
    untilStopped: () => stopped,
    stop: () => stop(),
    /** Resolves once stdout contains `text`. */
    printed: async (text: string) => {
      while (!io.out.includes(text)) await new Promise((resolve) => setTimeout(resolve, 5));
    },
  };
  return io;
}

describe('airlock-oauth-server', () => {
  it('prints help', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out).toBe(HELP);
    expect(HELP).toContain('--auto-approve');
  });

  it('exits 2 on usage errors', async () => {
    for (const argv of [['--port', 'eighty'], ['--interval', '0'], ['--interval', ''], ['--frobnicate'], ['extra']]) {
      const io = capture();
      expect(await main(argv, io)).toBe(2);
      expect(io.err).toMatch(/^error: .+\nRun `airlock-oauth-server --help` for usage\.\n$/);
    }
  });

  it('serves until stopped, printing the endpoints and each request', async () => {
    const io = capture();
    const exit = main(['--interval', '0.05', '--auto-approve', '--client', 'my-app', '--client', 'other-app'], io);
    await io.printed('Press Ctrl-C to stop.');
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.out)?.[1];
    expect(url).toBeDefined();
    expect(io.out).toContain(`  token                 ${url}/token\n`);
    expect(io.out).toContain('clients: my-app, other-app · polling interval: 0.05 s · auto-approve');

    const auth = await postForm(`${url}/device/code`, { client_id: 'my-app' });
    const tokens = await postForm(`${url}/token`, { grant_type: DEVICE_CODE_GRANT, device_code: auth.body.device_code as string, client_id: 'my-app' });
    expect(tokens.status).toBe(200);
    await io.printed('POST /token 200 grant_type=urn:ietf:params:oauth:grant-type:device_code\n');

    io.stop();
    expect(await exit).toBe(0);
    expect(io.out).toMatch(/stopped\n$/);
    await expect(fetch(url!)).rejects.toThrow();
  });

  it('exits 1 when the port is taken', async () => {
    const first = capture();
    const running = main([], first);
    await first.printed('listening on');
    const port = /127\.0\.0\.1:(\d+)/.exec(first.out)?.[1] ?? '';
    const second = capture();
    expect(await main(['--port', port], second)).toBe(1);
    expect(second.err).toContain('EADDRINUSE');
    first.stop();
    await running;
  });

  it('runs from its bin and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [bin, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    while (!out.includes('Press Ctrl-C')) await once(child.stdout, 'data');
    const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
    expect((await fetch(`${url}/.well-known/oauth-authorization-server`)).status).toBe(200);
    child.kill('SIGINT');
    expect(await once(child, 'exit')).toEqual([0, null]);
    expect(out).toContain('GET /.well-known/oauth-authorization-server 200\nstopped\n');
  });
});
