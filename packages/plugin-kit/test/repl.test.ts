/**
 * The REPL of `airlock-plugin dev`, end to end: the built command runs in a
 * pseudo-terminal made by util-linux `script`, and each test types into it
 * and reads the screen it draws (the output with carriage returns, cursor
 * moves and erases applied), so output that garbles the prompt fails here.
 *
 * The plugins are the harness fixtures built by test/global-setup.ts. `dev`
 * makes development builds: the first of each kind componentizes its engine
 * and stores it in the fixtures' build cache, so later runs find it there; an
 * edit only bundles. Type checking is off (`--no-typecheck`): it is not what is
 * tested here, and build.test.ts runs `dev` with it.
 *
 * The componentize step runs in a child process whose scripts exist only in
 * dist/, so this file runs the built package (`pnpm --filter @airlock/plugin-kit... build`).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { linkSdk } from './global-setup.js';

const pkgDir = resolve(fileURLToPath(new URL('..', import.meta.url)));
const bin = join(pkgDir, 'bin/airlock-plugin.js');
const fixtures = join(pkgDir, 'test', 'fixtures');

/** Why no pseudo-terminal can be had here, if none can. */
function ptyProblem(): string | undefined {
  const probe = spawnSync('script', ['-qfec', 'true', '/dev/null'], { stdio: 'ignore', timeout: 10_000 });
  if ((probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return 'util-linux `script` is not installed';
  if (probe.error || probe.status !== 0) return `\`script -qfec true /dev/null\` failed (${probe.error?.message ?? `exit code ${probe.status}`}), so it cannot give the command a terminal`;
  return undefined;
}
const noPty = ptyProblem();
if (noPty) console.warn(`skipping the tests of the dev REPL: ${noPty}`);

/**
 * What a terminal shows after printing `raw`: its rows, with carriage
 * returns, cursor moves (CSI A B C D G) and erases (CSI J K) applied. Colors
 * and other escapes change no text.
 */
function render(raw: string): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  const line = () => (rows[row] ??= []);
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\x1b') {
      const csi = /^\x1b\[([0-9;?]*)([@-~])/.exec(raw.slice(i, i + 32));
      if (!csi) {
        i++; // A two-character escape.
        continue;
      }
      i += csi[0].length - 1;
      const n = Number(csi[1]!.split(';')[0]) || 0;
      switch (csi[2]) {
        case 'A':
          row = Math.max(0, row - (n || 1));
          break;
        case 'B':
          row += n || 1;
          break;
        case 'C':
          col += n || 1;
          break;
        case 'D':
          col = Math.max(0, col - (n || 1));
          break;
        case 'G':
          col = Math.max(0, (n || 1) - 1);
          break;
        case 'K':
          if (n === 0) line().length = Math.min(line().length, col);
          else if (n === 2) line().length = 0;
          break;
        case 'J':
          if (n === 0) {
            line().length = Math.min(line().length, col);
            rows.length = row + 1;
          }
          break;
      }
    } else if (ch === '\r') col = 0;
    else if (ch === '\n') {
      // The terminal turns each \n into \r\n.
      row++;
      col = 0;
    } else if (ch === '\b') col = Math.max(0, col - 1);
    else if (ch >= ' ') {
      const cells = line();
      while (cells.length < col) cells.push(' ');
      cells[col++] = ch;
    }
  }
  return Array.from({ length: Math.max(rows.length, row + 1) }, (_, r) => (rows[r] ?? []).join(''));
}

/** `airlock-plugin dev <args>` on a terminal, typed into and read from. */
class DevTerminal {
  readonly prompt: string;
  readonly exited: Promise<number | null>;
  #child: ChildProcessWithoutNullStreams;
  #raw = '';
  #changed: (() => void) | undefined;

  constructor(id: string, args: string[], env: Record<string, string> = {}) {
    this.prompt = `${id}> `;
    const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    // `exec`, so the command leads the terminal's session: should `script` die, it gets SIGHUP.
    const command = `exec ${[process.execPath, bin, 'dev', ...args].map(quote).join(' ')}`;
    this.#child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...process.env, NO_COLOR: '1', TERM: 'xterm', SHELL: '/bin/sh', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const seen = (text: string) => {
      this.#raw += text;
      this.#changed?.();
    };
    this.#child.stdout.setEncoding('utf8').on('data', seen);
    this.#child.stderr.setEncoding('utf8').on('data', seen);
    // Typing after an exit: the exit is what gets reported.
    this.#child.stdin.on('error', () => {});
    this.exited = new Promise((r) =>
      this.#child.on('exit', (code) => {
        r(code);
        this.#changed?.();
      }),
    );
  }

  /** The terminal's rows. */
  get screen(): string[] {
    return render(this.#raw);
  }

  get #ended(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  /** Wait until `check(screen)` returns something, and return it. */
  async until<T>(what: string, check: (screen: string[]) => T | undefined, ms = 120_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const screen = this.screen;
      const found = check(screen);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (this.#ended || left <= 0) {
        const why = this.#ended ? `the command exited (${this.#child.exitCode ?? this.#child.signalCode})` : `${ms / 1000} s passed`;
        throw new Error(`waiting for ${what}, ${why}; the screen:\n${screen.slice(-40).join('\n')}`);
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.#changed = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  }

  /** Wait until the prompt is shown with nothing typed after it. */
  ready(): Promise<string[]> {
    return this.until('the prompt', (s) => (s.at(-1) === this.prompt ? s : undefined));
  }

  /** Type without pressing Enter. */
  type(text: string): void {
    this.#child.stdin.write(text);
  }

  /**
   * Type `input` and Enter; the rows the command printed, once the prompt is
   * back. `typed`: what was typed after the prompt before.
   */
  async run(input: string, typed = ''): Promise<string[]> {
    const from = this.screen.length - 1;
    this.type(`${input}\r`);
    return this.until(`\`${typed}${input}\` to finish`, (s) => {
      const at = s.lastIndexOf(this.prompt + typed + input);
      return at >= from && at < s.length - 1 && s.at(-1) === this.prompt ? s.slice(at + 1, -1) : undefined;
    });
  }

  /** `.exit`, and the exit code. */
  async exit(): Promise<number | null> {
    this.type('.exit\r');
    return this.exited;
  }

  /** Stop the command if it still runs (a failed test). */
  async stop(): Promise<void> {
    if (this.#ended) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** An HTTP server on the loopback interface; its base URL. */
async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void | Promise<void>): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => void handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let servers: ReturnType<typeof createServer>[] = [];
let scratch: string;
let term: DevTerminal | undefined;

beforeAll(async () => {
  expect(existsSync(join(pkgDir, 'dist/cli/bin.js')), 'build @airlock/plugin-kit before running this test').toBe(true);
  // Under test/, at the fixtures' depth: a copied fixture bundles to the same bytes, so its cache serves the copy.
  scratch = await mkdtemp(join(pkgDir, 'test', '.tmp-repl-'));
  await linkSdk(scratch);
});
afterEach(async () => {
  await term?.stop();
  term = undefined;
  for (const server of servers) server.close();
  servers = [];
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A row of the `.help` table: two spaces, the usage, padding, the description. */
const helpRow = (rows: string[], usage: string) => rows.find((r) => r.startsWith(`  ${usage} `));

describe.skipIf(!!noPty)('the dev REPL', () => {
  it('drives a tool plugin: .help, call, tools, a tool that does not exist; an edit reloads it under the prompt', { timeout: 300_000 }, async () => {
    // A copy, since the test edits it, whose builds go to the fixture's cache.
    const dir = join(scratch, 'harness-tool');
    await cp(join(fixtures, 'harness-tool', 'package.json'), join(dir, 'package.json'));
    await cp(join(fixtures, 'harness-tool', 'src'), join(dir, 'src'), { recursive: true });
    const api = await serve((req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`pong ${req.url}`);
    });
    term = new DevTerminal('harness-tool', [dir, '--no-typecheck', '--home', join(scratch, 'home-tool'), '--config', `baseUrl=${api}`], {
      AIRLOCK_BUILD_CACHE: join(fixtures, 'harness-tool', 'node_modules', '.cache', 'airlock-plugin'),
    });
    const start = await term.ready();
    expect(start).toContain('loaded harness-tool into a dev host (home ' + join(scratch, 'home-tool') + ')');
    expect(start).toContain('REPL for harness-tool: .help lists the helpers (rebuild, call, tools); .exit or Ctrl-D to stop');

    const help = await term.run('.help');
    expect(help[0]).toBe('Plugin harness-tool (tool), loaded into `host` (an @airlock/host Host).');
    expect(helpRow(help, "await call('name', { …args })")).toMatch(/ {2}Call a tool of harness-tool and return its result$/);
    expect(helpRow(help, 'tools()')).toMatch(/ {2}The tools harness-tool offers, with their descriptions$/);
    expect(helpRow(help, 'await rebuild()')).toMatch(/ {2}Build and reload now, without waiting for a change$/);
    expect(helpRow(help, 'plugin')).toMatch(/ {2}The plugin id$/);
    expect(helpRow(help, 'host')).toMatch(/ {2}The host: host\.plugins\(\), host\.reload\(plugin\), …$/);
    expect(helpRow(help, '.exit')).toBeDefined();
    expect(helpRow(help, '.help')).toMatch(/ {2}Show this help$/);

    expect(await term.run("await call('version')")).toEqual(['{ version: 1 }']);
    expect(await term.run('plugin')).toEqual(["'harness-tool'"]);

    const tools = (await term.run('tools()')).join('\n');
    expect(tools).toContain("name: 'version',\n    description: 'Which build of the plugin is running.',\n    risk: 'read-only'");
    expect(tools).toContain("name: 'storage_set',");

    // The plugin logs while the call runs: the line goes above the result, and the prompt only after it.
    expect(await term.run(`await call('fetch_text', { url: '${api}/ping' })`)).toEqual([
      `[harness-tool] info: fetching ${api}/ping`,
      '{',
      '  status: 200,',
      "  contentType: 'text/plain',",
      '  header: null,',
      "  body: 'pong /ping'",
      '}',
    ]);

    // An error shows its code, message and hint, not the host's Node.js frames.
    const missing = await term.run("await call('nope', {})");
    expect(missing.slice(0, 2)).toEqual(['Uncaught:', 'TOOL_NOT_FOUND: no loaded plugin offers a tool `harness-tool.nope`']);
    expect(missing.join('\n')).toMatch(/^hint: .*Available tools: harness-tool\.fetch_text/m);
    expect(missing.join('\n')).not.toMatch(/dist\/|node:internal/);

    // A plugin error shows the plugin's own frames, in its sources; not the SDK's or the host's.
    const refused = (await term.run("await call('fetch_text', { url: 'https://elsewhere.example.com/x' })")).join('\n');
    expect(refused).toContain('TOOL_FAILED: plugin `harness-tool` failed: https://elsewhere.example.com/x: ');
    expect(refused).toContain('(the host refused GET https://elsewhere.example.com: plugin `harness-tool` holds no http grant for this origin)');
    expect(refused).toMatch(/^ {4}at fetchText\S* \(src\/index\.ts:\d+:\d+\)$/m);
    expect(refused).toMatch(/^hint: Add "https:\/\/elsewhere\.example\.com" to "capabilities\.http"/m);
    expect(refused).not.toMatch(/node_modules|sdk\/dist|host\/dist|plugin\.js:|initializer\.js|airlock-dev-engine\.js/);
    expect(await term.run('host.plugins().map((p) => p.id)')).toEqual(["[ 'harness-tool' ]"]);

    // Half a command typed, then the source changes: the build's lines go above
    // the prompt, which comes back with what was typed.
    const typed = "await call('vers";
    term.type(typed);
    await term.until('the typed text', (s) => (s.at(-1) === term!.prompt + typed ? true : undefined));
    const mark = term.screen.length - 1;
    const source = join(dir, 'src/index.ts');
    await writeFile(source, (await readFile(source, 'utf8')).replace('const VERSION = 1;', 'const VERSION = 2;'));
    const rebuilt = /^rebuilt in [\d.]+ m?s \(development build\), reloaded in [\d.]+ m?s \(src\/index\.ts\)$/;
    const after = await term.until('the reload', (s) => (s.some((r) => rebuilt.test(r)) && s.at(-1) === term!.prompt + typed ? s.slice(mark) : undefined));
    // Nothing but the build's lines, each on a row of its own, then the prompt.
    expect(after.slice(0, -1).filter((r) => r !== '  componentizing…' && !rebuilt.test(r))).toEqual([]);
    expect(await term.run("ion')", typed)).toEqual(['{ version: 2 }']);

    // rebuild() while a command runs: its line is the command's output.
    expect(await term.run('await rebuild()')).toEqual([expect.stringMatching(/^rebuilt in [\d.]+ m?s \(development build\), reloaded in [\d.]+ m?s$/)]);
    expect(await term.run("await call('version')")).toEqual(['{ version: 2 }']);

    expect(await term.exit()).toBe(0);
    expect(term.screen.filter((r) => r !== '').at(-1)).toBe('stopped');
  });

  it('drives a provider plugin: chat streams the answer (an error cut into it starts its own row), models lists them', { timeout: 180_000 }, async () => {
    const asked: unknown[] = [];
    const llm = await serve(async (req, body, res) => {
      if (req.url !== '/stream') return void res.writeHead(404).end();
      const request = JSON.parse(body) as { messages: { content: string }[] };
      asked.push(request);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // In pieces, a moment apart, as a model streams.
      for (const text of ['Hel', 'lo from', ' the fake', ' model']) {
        res.write(`data: ${JSON.stringify({ text })}\n\n`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // Asked to, the stream breaks off before its end.
      res.end(request.messages[0]!.content === 'break off' ? undefined : 'data: [DONE]\n\n');
    });
    term = new DevTerminal('harness-provider', [join(fixtures, 'harness-provider'), '--no-typecheck', '--home', join(scratch, 'home-provider'), '--config', `baseUrl=${llm}`]);
    await term.ready();

    const help = await term.run('.help');
    expect(helpRow(help, "await chat('text', { model })")).toMatch(/ {2}Ask harness-provider; the answer streams to stdout$/);
    expect(helpRow(help, 'await models()')).toMatch(/ {2}The models harness-provider offers$/);
    expect(helpRow(help, 'await rebuild()')).toBeDefined();

    // The plugin logs `stream closed` when its stream ends, which may come after the result.
    const closed = '[harness-provider] info: stream closed';
    const chat = await term.run("await chat('hi')");
    // The answer on a row of its own, then the result.
    expect(chat.filter((r) => r !== closed)).toEqual(['Hello from the fake model', "{ finishReason: 'stop', model: 'fake-1' }"]);
    expect(asked).toEqual([{ model: 'fake-1', messages: [{ role: 'user', content: 'hi' }] }]);
    await term.until('the stream to close', (s) => s.includes(closed) || undefined);

    // A stream that fails halfway: the error starts a row of its own.
    const broken = (await term.run("await chat('break off')")).filter((r) => r !== closed);
    expect(broken[0]).toBe('Hello from the fake model');
    expect(broken.slice(1, 3)).toEqual(['Uncaught:', 'PROVIDER_UNAVAILABLE: provider `harness-provider` stream: the stream ended without [DONE]']);
    // Where the plugin threw, in its source: the stream's generator.
    expect(broken.join('\n')).toMatch(/^ {4}at streamChat\S* \(src\/index\.ts:\d+:\d+\)$/m);

    const models = (await term.run('await models()')).join('\n');
    expect(models).toContain("id: 'fake-1',");
    expect(models).toContain("provider: 'harness-provider',");

    expect(await term.exit()).toBe(0);
    expect(term.screen.filter((r) => r !== '').at(-1)).toBe('stopped');
  });

  it('drives an auth plugin: status, login with the code shown while it waits, token, logout', { timeout: 180_000 }, async () => {
    const auth = await serve((req, body, res) => {
      const json = (value: unknown) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.url === '/device') json({ device_code: 'dc-1', user_code: 'WXYZ-1234', verification_uri: `${auth}/activate`, expires_in: 600, interval: 1 });
      else if (req.url === '/token' && new URLSearchParams(body).get('device_code') === 'dc-1') json({ access_token: 'at-0123456789', account: 'ada' });
      else res.writeHead(400).end();
    });
    term = new DevTerminal('harness-auth', [join(fixtures, 'harness-auth'), '--no-typecheck', '--home', join(scratch, 'home-auth'), '--config', `server=${auth}`]);
    await term.ready();

    const help = await term.run('.help');
    for (const usage of ['await login()', 'await token()', 'await status()', 'await logout()', 'await rebuild()']) expect(helpRow(help, usage), usage).toBeDefined();

    expect((await term.run('await status()')).join('\n')).toMatch(/^\{\n {2}signedIn: false,\n[^]*\}$/);
    // The code is shown while login() waits, as a row of the command's output.
    const login = await term.run('await login()');
    expect(login[0]).toBe(`Open ${auth}/activate and enter WXYZ-1234`);
    expect(login.slice(1).join('\n')).toMatch(/^\{\n {2}signedIn: true,\n {2}account: 'ada',\n[^]*\}$/);
    expect((await term.run('(await token()).accessToken')).at(-1)).toBe("'at-0123456789'");
    expect(await term.run('await logout()')).toEqual([]);
    expect(await term.run('(await status()).signedIn')).toEqual(['false']);

    expect(await term.exit()).toBe(0);
    expect(term.screen.filter((r) => r !== '').at(-1)).toBe('stopped');
  });
});
