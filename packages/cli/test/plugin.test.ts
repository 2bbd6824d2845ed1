import { execFile } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIfStale, pluginVariant } from '@airlock/test-utils';
import { airlockAt, homeMaker, notes } from './helpers.js';

let work: string;
const newHome = homeMaker(() => work);
const airlock = airlockAt;

/** A copy of the notes plugin (package.json and component) at `version`, its manifest edited. */
let variants = 0;
function notesAt(version: string, edit: (airlock: Record<string, unknown> & { capabilities: Record<string, unknown> }) => void = () => {}): Promise<string> {
  return pluginVariant(notes, join(work, `notes-${version}-${++variants}`), (pkg) => {
    (pkg as { version?: string }).version = version;
    edit(pkg.airlock as Record<string, unknown> & { capabilities: Record<string, unknown> });
  });
}

/** `airlock plugin list --json`, parsed. */
async function installed(home: string): Promise<Record<string, unknown>[]> {
  const { code, out } = await airlock(home, ['plugin', 'list', '--json']);
  expect(code).toBe(0);
  return JSON.parse(out) as Record<string, unknown>[];
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'airlock-cli-plugin-'));
  await buildIfStale(notes, { skipTypecheck: true });
}, 180_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('airlock plugin add, list, info', () => {
  it('installs a directory with --yes, then lists it, describes it, and serves its tools without --plugin', async () => {
    const home = await newHome();
    const add = await airlock(home, ['plugin', 'add', notes, '--yes']);
    expect(add.code).toBe(0);
    expect(add.out).toBe('✔ Installed notes 0.1.0\nGranted\n    storage  private key-value store, quota 1 MiB\n');
    // Progress, a plain line per step off a terminal; and the host's warning about the missing signature.
    expect(add.err).toContain('› fetched\n');
    expect(add.err).toContain('› committed\n');
    expect(add.err).toContain('[notes] warning: plugin `notes` is not signed; its publisher cannot be verified');

    const list = await installed(home);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'notes', version: '0.1.0', kind: 'tool', enabled: true, source: notes, signature: { status: 'unsigned' }, grant: { storage: { quotaBytes: 1048576 } } });

    const table = await airlock(home, ['plugin', 'list']);
    const [header, row, ...more] = table.out.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+VERSION\s+KIND\s+STATUS\s+SIGNATURE\s+SOURCE$/);
    expect(row).toMatch(new RegExp(`^notes\\s+0\\.1\\.0\\s+tool\\s+enabled\\s+unsigned\\s+${notes}$`));
    expect(more).toEqual([]);

    const info = await airlock(home, ['plugin', 'info', 'notes', '--json']);
    expect(info.code).toBe(0);
    const plugin = JSON.parse(info.out) as { dir: string; componentSha256: string; requires: object; config: object };
    expect(plugin).toMatchObject({ id: 'notes', name: '@airlock/example-notes', requires: {}, config: {}, componentSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((await stat(join(plugin.dir, 'dist/plugin.wasm'))).isFile()).toBe(true);

    const human = await airlock(home, ['plugin', 'info', 'notes']);
    expect(human.out).toContain('notes 0.1.0\n');
    expect(human.out).toContain(`  component  sha256 ${plugin.componentSha256}\n`);
    expect(human.out).toContain('  signature  unsigned\n');
    expect(human.out).toContain('Granted\n    storage  private key-value store, quota 1 MiB\n');

    const tools = await airlock(home, ['tools', 'list', '--json']);
    expect(tools.code).toBe(0);
    expect((JSON.parse(tools.out) as { qualifiedName: string }[]).map((t) => t.qualifiedName)).toContain('notes.count_words');
    const call = await airlock(home, ['tools', 'call', 'count_words', '{"text":"installed and running"}', '--json']);
    expect(call.code).toBe(0);
    expect(JSON.parse(call.out)).toEqual({ tool: 'count_words', result: { words: 3, characters: 21, lines: 1 } });
    // Its storage persists in the home between invocations.
    expect((await airlock(home, ['tools', 'call', 'add_note', '{"title":"kept","body":"between runs"}'])).code).toBe(0);
    expect((await airlock(home, ['tools', 'call', 'list_notes', '--json'])).out).toContain('kept');

    // Already installed: exit 1, and the hint names `plugin update`.
    const again = await airlock(home, ['plugin', 'add', notes, '--yes']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('plugin `notes` 0.1.0 is already installed');
    expect(again.err).toContain('airlock plugin update notes');
  });

  it('--plugin loads only the given directories, not the installed plugins', async () => {
    const home = await newHome();
    const other = await pluginVariant(notes, join(work, 'other'), (pkg) => {
      pkg.airlock.id = 'other';
    });
    expect((await airlock(home, ['plugin', 'add', notes, '--yes'])).code).toBe(0);
    const tools = await airlock(home, ['tools', 'list', '-p', other, '--yes', '--json']);
    const names = (JSON.parse(tools.out) as { qualifiedName: string }[]).map((t) => t.qualifiedName);
    expect(names).toContain('other.count_words');
    expect(names.some((n) => n.startsWith('notes.'))).toBe(false);
  });

  it('without --yes and off a terminal, shows what a directory asks for and installs nothing', async () => {
    const home = await newHome();
    const add = await airlock(home, ['plugin', 'add', notes]);
    expect(add.code).toBe(1);
    expect(add.err).toContain('notes 0.1.0 asks for:\n    storage  private key-value store, quota 1 MiB\n');
    expect(add.err).toContain('error: notes 0.1.0 asks for storage private key-value store, quota 1 MiB; nothing was installed');
    expect(add.err).toContain('hint: Pass --yes to grant it');
    expect(await installed(home)).toEqual([]);
  });

  it('on a terminal, asks before granting, marks the risky capabilities, and takes no for an answer', async () => {
    const home = await newHome();
    const [input, output] = [join(work, 'in'), join(work, 'out')];
    await Promise.all([mkdir(input), mkdir(output)]);
    const risky = await notesAt('0.1.0', (a) => {
      a.capabilities.http = ['https://api.example.com'];
      a.capabilities.env = ['NOTES_TOKEN'];
      a.capabilities.filesystem = [
        { path: input, access: 'read-only' },
        { path: output, access: 'read-write' },
      ];
    });
    const no = await airlock(home, ['plugin', 'add', risky], { stdinIsTTY: true, answers: ['n'] });
    expect(no.code).toBe(1);
    expect(no.io.questions).toEqual(['Grant these? [y/N] ']);
    // No colors: the mark is `!` and the word.
    expect(no.err).toContain(
      [
        '    storage     private key-value store, quota 1 MiB',
        '  ! http        https://api.example.com  (risky)',
        '  ! env         NOTES_TOKEN  (risky)',
        `    filesystem  ${input} (read-only)`,
        `  ! filesystem  ${output} (read-write)  (risky)`,
        '  ! risky: network, environment variables, writable files or a sign-in',
      ].join('\n'),
    );
    expect(no.err).toContain('error: not granted; nothing was installed');
    expect(await installed(home)).toEqual([]);

    // Colors: a yellow `!`, no word.
    const colored = await airlock(home, ['plugin', 'add', risky], { stdinIsTTY: true, stderrIsTTY: true, answers: [''] });
    expect(colored.code).toBe(1);
    expect(colored.err).toContain('  \x1b[33m\x1b[1m!\x1b[22m\x1b[39m http        https://api.example.com\n');
    expect(colored.err).not.toContain('(risky)');

    const yes = await airlock(home, ['plugin', 'add', risky], { stdinIsTTY: true, answers: ['y'] });
    expect(yes.code).toBe(0);
    expect(yes.out).toBe('✔ Installed notes 0.1.0\n');
    expect((await installed(home))[0]).toMatchObject({ grant: { http: ['https://api.example.com'], env: ['NOTES_TOKEN'] } });
  });

  it('shows progress on one updating status line on a terminal', async () => {
    const home = await newHome();
    const add = await airlock(home, ['plugin', 'add', notes, '--yes'], { stderrIsTTY: true, env: { NO_COLOR: '1' } });
    expect(add.code).toBe(0);
    expect(add.err).toMatch(new RegExp(`^\\r\\x1b\\[2K⠋ Installing ${notes} › starting`));
    expect(add.err).toMatch(new RegExp(`\\r\\x1b\\[2K. Installing ${notes} › fetched`));
    expect(add.err).not.toContain('› fetched\n');
    expect(add.err.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('installs a tarball (npm pack); without --yes it says to pass it, since the package is read only once fetched', async () => {
    const home = await newHome();
    const dir = await notesAt('0.3.0');
    const { stdout } = await promisify(execFile)('npm', ['pack', '--json', '--silent', '--pack-destination', work], { cwd: dir });
    const tgz = join(work, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
    const refused = await airlock(home, ['plugin', 'add', tgz]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('plugin `notes` asks for storage, which was not granted; nothing was installed');
    expect(refused.err).toContain(`hint: Run \`airlock plugin add ${tgz} --yes\``);
    expect(refused.err).toContain('› unpacking');
    const add = await airlock(home, ['plugin', 'add', tgz, '--yes', '--json']);
    expect(add.code).toBe(0);
    expect(JSON.parse(add.out)).toMatchObject({ id: 'notes', version: '0.3.0', source: tgz });
  });

  it('passes --config to the plugin, and refuses one for another id', async () => {
    const home = await newHome();
    const configurable = await notesAt('0.1.0', (a) => {
      a.configSchema = { type: 'object', additionalProperties: false, properties: { folder: { type: 'string' } } };
    });
    const wrong = await airlock(home, ['plugin', 'add', configurable, '--yes', '-c', 'weather.units=metric']);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('`--config` names plugin `weather`, but the source holds `notes`; nothing was installed');
    const add = await airlock(home, ['plugin', 'add', configurable, '--yes', '-c', 'notes.folder=work']);
    expect(add.code).toBe(0);
    expect((await installed(home))[0]).toMatchObject({ config: { folder: 'work' } });
  });
});

describe('airlock plugin enable, disable, remove, verify', () => {
  it('a disabled plugin does not load; enabled again, it does', async () => {
    const home = await newHome();
    await airlock(home, ['plugin', 'add', notes, '--yes']);
    const disable = await airlock(home, ['plugin', 'disable', 'notes']);
    expect(disable).toMatchObject({ code: 0, out: '✔ Disabled notes 0.1.0\n' });
    expect((await installed(home))[0]).toMatchObject({ enabled: false });
    expect((await airlock(home, ['plugin', 'list'])).out).toMatch(/notes\s+0\.1\.0\s+tool\s+disabled/);

    const none = await airlock(home, ['tools', 'list', '--json']);
    expect(none.code).toBe(0);
    expect(JSON.parse(none.out)).toEqual([]);
    expect(none.err).toContain('every installed plugin is disabled');
    expect((await airlock(home, ['tools', 'call', 'count_words', '{"text":"x"}'])).code).toBe(1);

    expect(await airlock(home, ['plugin', 'enable', 'notes'])).toMatchObject({ code: 0, out: '✔ Enabled notes 0.1.0\n' });
    expect((await airlock(home, ['tools', 'list'])).out).toMatch(/notes\.count_words/);
  });

  it('removes a plugin', async () => {
    const home = await newHome();
    await airlock(home, ['plugin', 'add', notes, '--yes']);
    expect(await airlock(home, ['plugin', 'remove', 'notes'])).toMatchObject({ code: 0, out: '✔ Removed notes 0.1.0 (it had no stored data)\n' });
    expect(await installed(home)).toEqual([]);
    const info = await airlock(home, ['plugin', 'info', 'notes', '--json']);
    expect(info.code).toBe(1);
    expect(JSON.parse(info.out)).toMatchObject({ error: { code: 'PLUGIN_NOT_INSTALLED' } });
    expect(info.err).toContain('no plugin `notes` is installed');
    const list = await airlock(home, ['plugin', 'list']);
    expect(list.out).toMatch(/^ID\s+VERSION/);
    expect(list.err).toContain('No plugins installed');
    // Nothing installed and no --plugin: no tools, which is an answer, not an error.
    const tools = await airlock(home, ['tools', 'list', '--json']);
    expect(tools).toMatchObject({ code: 0, out: '[]\n' });
    expect(tools.err).toContain('no plugin is installed in');
  });

  it('verifies the installed files, and reports a changed component (exit 1) which then does not load', async () => {
    const home = await newHome();
    await airlock(home, ['plugin', 'add', notes, '--yes']);
    const ok = await airlock(home, ['plugin', 'verify', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toEqual([{ id: 'notes', version: '0.1.0', componentIntact: true, manifestIntact: true, cache: 'intact', cacheIntact: true, signature: { status: 'unsigned' }, ok: true }]);
    const table = await airlock(home, ['plugin', 'verify']);
    expect(table.out).toMatch(/^ID\s+VERSION\s+COMPONENT\s+MANIFEST\s+CACHE\s+SIGNATURE\nnotes\s+0\.1\.0\s+ok\s+ok\s+ok\s+unsigned\n$/);

    const { dir } = JSON.parse((await airlock(home, ['plugin', 'info', 'notes', '--json'])).out) as { dir: string };
    await appendFile(join(dir, 'dist/plugin.wasm'), Buffer.from([0]));

    const bad = await airlock(home, ['plugin', 'verify']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/notes\s+0\.1\.0\s+CHANGED\s+ok\s+/);
    expect(bad.err).toContain('error: 1 plugin fails verification: notes');
    const json = await airlock(home, ['plugin', 'verify', 'notes', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject([{ id: 'notes', componentIntact: false, ok: false }]);

    const tools = await airlock(home, ['tools', 'list', '--json']);
    expect(tools.code).toBe(0);
    expect(JSON.parse(tools.out)).toEqual([]);
    expect(tools.err).toContain('warning: notes not loaded: the component of `notes` changed since it was installed');
    expect(tools.err.match(/not loaded/g)).toHaveLength(1);
  });

  it('reports a changed cache entry of the component (exit 1, with what changed); the next load rebuilds it and runs the plugin\'s own code', async () => {
    const home = await newHome();
    await airlock(home, ['plugin', 'add', notes, '--yes']);
    const { componentSha256 } = JSON.parse((await airlock(home, ['plugin', 'info', 'notes', '--json'])).out) as { componentSha256: string };
    // The transpiled glue runs with the host's privileges in the plugin's worker: an edit there is an edit of what runs.
    const marker = join(home, 'ran');
    const glue = join(home, 'cache', 'components', `${componentSha256}.v3`, 'plugin.js');
    const text = await readFile(glue, 'utf8');
    await writeFile(glue, text.replace('(function (__airlockModuleUrl) {\n', `(function (__airlockModuleUrl) {\nprocess.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x');\n`));

    const bad = await airlock(home, ['plugin', 'verify']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/notes\s+0\.1\.0\s+ok\s+ok\s+CHANGED\s+unsigned\n$/);
    expect(bad.err).toContain('error: 1 plugin fails verification: notes\n  notes: its cached transpiled output changed since it was written: plugin.js is ');
    expect(bad.err).toContain('the next load discards the changed output and rebuilds it from the component');
    const json = JSON.parse((await airlock(home, ['plugin', 'verify', '--json'])).out) as Record<string, unknown>[];
    expect(json).toMatchObject([{ id: 'notes', componentIntact: true, manifestIntact: true, cache: 'tampered', cacheIntact: false, cacheProblem: expect.stringMatching(/^plugin\.js is \d+ bytes long/), ok: false }]);

    const call = await airlock(home, ['tools', 'call', 'count_words', '{"text":"still its own code"}', '--json']);
    expect(call.code).toBe(0);
    expect(JSON.parse(call.out)).toMatchObject({ result: { words: 4 } });
    expect(call.err).toContain('[notes] warning: the cached transpiled output of `notes` changed since it was written');
    await expect(stat(marker)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await airlock(home, ['plugin', 'verify'])).code).toBe(0);
  });
});

describe('signing', () => {
  it('generates a key pair, signs a package, and installs it under --require-signed; an unsigned one is refused', async () => {
    const home = await newHome();
    const keys = join(work, 'keys');
    const generated = await airlock(home, ['keys', 'generate', '--out', keys, '--json']);
    expect(generated.code).toBe(0);
    const { keyId, privateKey, publicKey } = JSON.parse(generated.out) as { keyId: string; privateKey: string; publicKey: string };
    expect(keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(privateKey).toBe(join(keys, 'airlock-signing.key'));
    expect(publicKey).toBe(join(keys, 'airlock-signing.pub'));
    expect((await stat(privateKey)).mode & 0o777).toBe(0o600);
    expect(await readFile(publicKey, 'utf8')).toContain('-----BEGIN PUBLIC KEY-----');
    const before = await readFile(privateKey, 'utf8');

    const again = await airlock(home, ['keys', 'generate', '--out', keys]);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`${privateKey} already exists; not overwriting it`);
    expect(await readFile(privateKey, 'utf8')).toBe(before);

    const signed = await notesAt('0.1.0');
    const sign = await airlock(home, ['sign', signed, '--key', privateKey]);
    expect(sign.code).toBe(0);
    expect(sign.out).toMatch(new RegExp(`^✔ Signed notes 0\\.1\\.0 with key ${keyId}\\n  component  sha256 [0-9a-f]{64}\\n`));
    const signature = JSON.parse(await readFile(join(signed, 'airlock.sig.json'), 'utf8')) as { keyId: string; signed: { componentSha256: string } };
    expect(signature.keyId).toBe(keyId);
    expect(sign.out).toContain(signature.signed.componentSha256);

    const trust = ['--trust-key', publicKey, '--require-signed'];
    const unsigned = await airlock(home, ['plugin', 'add', await notesAt('0.1.0'), '--yes', ...trust]);
    expect(unsigned.code).toBe(1);
    expect(unsigned.err).toContain('plugin `notes` is not signed, and this host requires signed plugins');
    const json = await airlock(home, ['plugin', 'add', await notesAt('0.1.0'), '--yes', '--json', ...trust]);
    expect(JSON.parse(json.out)).toMatchObject({ error: { code: 'SIGNATURE_REQUIRED' } });

    const add = await airlock(home, ['plugin', 'add', signed, '--yes', ...trust]);
    expect(add.code).toBe(0);
    expect(add.err).not.toContain('not signed');
    expect((await installed(home))[0]).toMatchObject({ signature: { status: 'signed', keyId } });
    expect((await airlock(home, ['plugin', 'list'])).out).toContain(`signed by ${keyId}`);
    expect((await airlock(home, ['plugin', 'verify', ...trust])).code).toBe(0);
    // Without the key trusted but signatures required, the same files fail verification.
    const untrusted = await airlock(home, ['plugin', 'verify', '--require-signed']);
    expect(untrusted.code).toBe(1);
    expect(untrusted.out).toContain('untrusted');
  });

  it('takes the trust policy from <home>/config.json', async () => {
    const home = await newHome();
    const generated = JSON.parse((await airlock(home, ['keys', 'generate', '--json'])).out) as { keyId: string; privateKey: string };
    expect(generated.privateKey).toBe(join(home, 'keys', 'airlock-signing.key'));
    await writeFile(join(home, 'config.json'), JSON.stringify({ trust: { keys: ['keys/airlock-signing.pub'], requireSigned: true } }));

    const unsigned = await airlock(home, ['plugin', 'add', await notesAt('0.1.0'), '--yes']);
    expect(unsigned.code).toBe(1);
    expect(unsigned.err).toContain('requires signed plugins');
    const signed = await notesAt('0.1.0');
    expect((await airlock(home, ['sign', signed, '--key', generated.privateKey])).code).toBe(0);
    expect((await airlock(home, ['plugin', 'add', signed, '--yes'])).code).toBe(0);
    expect((await installed(home))[0]).toMatchObject({ signature: { status: 'signed', keyId: generated.keyId } });

    await writeFile(join(home, 'config.json'), '{"trust": {"keys": "nope"}}');
    const invalid = await airlock(home, ['plugin', 'list']);
    expect(invalid.code).toBe(1);
    expect(invalid.err).toContain('has a `trust.keys` that is not a list of strings');
  });
});

describe('airlock plugin update', () => {
  it('refuses an update asking for more without --yes off a terminal, asks on one, applies with --yes', async () => {
    const home = await newHome();
    expect((await airlock(home, ['plugin', 'add', await notesAt('0.1.0'), '--yes'])).code).toBe(0);
    const v2 = await notesAt('0.2.0', (a) => {
      a.capabilities.http = ['https://api.example.com'];
    });

    const refused = await airlock(home, ['plugin', 'update', 'notes', v2]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('notes 0.1.0 → 0.2.0 asks for more than 0.1.0 was granted:\n  ! http  https://api.example.com  (risky)\n');
    expect(refused.err).toContain('error: notes 0.2.0 asks for more than notes 0.1.0 was granted: http https://api.example.com; nothing was changed');
    expect((await installed(home))[0]).toMatchObject({ version: '0.1.0', grant: { storage: { quotaBytes: 1048576 } } });
    expect((await installed(home))[0]!.grant).not.toHaveProperty('http');

    const declined = await airlock(home, ['plugin', 'update', 'notes', v2], { stdinIsTTY: true, answers: ['no'] });
    expect(declined.code).toBe(1);
    expect(declined.io.questions).toEqual(['Grant these? [y/N] ']);
    expect((await installed(home))[0]).toMatchObject({ version: '0.1.0' });

    const updated = await airlock(home, ['plugin', 'update', 'notes', v2, '--yes']);
    expect(updated.code).toBe(0);
    expect(updated.out).toBe('✔ Updated notes 0.1.0 → 0.2.0\n');
    expect((await installed(home))[0]).toMatchObject({ version: '0.2.0', grant: { http: ['https://api.example.com'] } });
    expect((await airlock(home, ['tools', 'call', 'count_words', '{"text":"still works"}', '--json'])).out).toContain('"words":2');

    // Nothing new asked for: no consent needed; from where it was installed when no source is given.
    const v3 = await notesAt('0.3.0', (a) => {
      a.capabilities.http = ['https://api.example.com'];
    });
    const quiet = await airlock(home, ['plugin', 'update', 'notes', v3, '--json']);
    expect(quiet.code).toBe(0);
    expect(JSON.parse(quiet.out)).toMatchObject({ from: '0.2.0', to: '0.3.0', plugin: { version: '0.3.0', source: v3 } });
    const same = await airlock(home, ['plugin', 'update', 'notes']);
    expect(same.code).toBe(1);
    expect(same.err).toContain('already installed with this exact content');
  });

  it('asks on a terminal and applies on yes', async () => {
    const home = await newHome();
    await airlock(home, ['plugin', 'add', await notesAt('0.1.0'), '--yes']);
    const v2 = await notesAt('0.2.0', (a) => {
      a.capabilities.env = ['NOTES_*'];
    });
    const yes = await airlock(home, ['plugin', 'update', 'notes', v2], { stdinIsTTY: true, answers: ['y'] });
    expect(yes.code).toBe(0);
    expect(yes.err).toContain('  ! env  NOTES_*  (risky)');
    expect((await installed(home))[0]).toMatchObject({ version: '0.2.0', grant: { env: ['NOTES_*'] } });
  });
});

describe('airlock grant and revoke', () => {
  it('adds to and takes from the recorded grant, and says when the plugin would no longer load', async () => {
    const home = await newHome();
    await airlock(home, ['plugin', 'add', notes, '--yes']);
    const grant = async (...argv: string[]) => JSON.parse((await airlock(home, [...argv, '--json'])).out) as { changed: boolean; grant: Record<string, unknown> };

    const http = await airlock(home, ['grant', 'notes', 'http', 'https://api.example.com/v1/x']);
    expect(http.code).toBe(0);
    expect(http.out).toBe(
      '✔ Granted http https://api.example.com to notes\nnotes may now use\n    storage  private key-value store, quota 1 MiB\n  ! http     https://api.example.com  (risky)\n  ! risky: network, environment variables, writable files or a sign-in\n',
    );
    expect(await grant('grant', 'notes', 'http', 'https://api.example.com')).toMatchObject({ changed: false });
    expect(await grant('grant', 'notes', 'env', 'NOTES_*')).toMatchObject({ changed: true, grant: { env: ['NOTES_*'] } });
    expect(await grant('grant', 'notes', 'filesystem', '/tmp/notes:read-write')).toMatchObject({ grant: { filesystem: [{ path: '/tmp/notes', access: 'read-write' }] } });
    expect(await grant('grant', 'notes', 'credentials', 'auth-device-flow')).toMatchObject({ grant: { credentials: ['auth-device-flow'] } });
    expect(await grant('grant', 'notes', 'storage', '2MiB')).toMatchObject({ grant: { storage: { quotaBytes: 2 * 1024 * 1024 } } });
    expect(await grant('grant', 'notes', 'hooks', 'before-tool-call')).toMatchObject({ changed: true, grant: { hooks: ['before-tool-call'] } });
    expect((await airlock(home, ['grant', 'notes', 'hooks', 'before-call'])).err).toContain('`before-call` is not a hook point');
    expect((await grant('revoke', 'notes', 'hooks', 'before-tool-call')).grant).not.toHaveProperty('hooks');

    expect(await grant('revoke', 'notes', 'filesystem', '/tmp/notes:read-write')).toMatchObject({ grant: { filesystem: [{ path: '/tmp/notes', access: 'read-only' }] } });
    expect((await grant('revoke', 'notes', 'filesystem', '/tmp/notes')).grant).not.toHaveProperty('filesystem');
    expect((await grant('revoke', 'notes', 'http', 'https://api.example.com')).grant).not.toHaveProperty('http');
    expect((await grant('revoke', 'notes', 'env', 'NOTES_*')).grant).not.toHaveProperty('env');
    expect((await grant('revoke', 'notes', 'credentials', 'auth-device-flow')).grant).not.toHaveProperty('credentials');
    const unchanged = await airlock(home, ['revoke', 'notes', 'env', 'HOME']);
    expect(unchanged).toMatchObject({ code: 0 });
    expect(unchanged.out).toContain('= notes: env HOME was not granted; nothing changed');

    // Without storage, which it asks for, it does not load: revoke says so, and tools list warns.
    const revoked = await airlock(home, ['revoke', 'notes', 'storage']);
    expect(revoked.code).toBe(0);
    expect(revoked.out).toContain('notes may now use\n    (nothing)\n');
    expect(revoked.err).toContain('warning: notes asks for storage, which is not granted: it will not load until it is');
    const tools = await airlock(home, ['tools', 'list']);
    expect(tools.err).toContain('warning: notes not loaded: plugin `notes` asks for storage, which was not granted');
    expect(tools.err).toContain('hint: Grant it with `airlock grant notes <capability> [value]`');
    expect((await grant('grant', 'notes', 'storage')).grant).toEqual({ storage: {} });
    expect((await airlock(home, ['tools', 'list'])).out).toContain('notes.count_words');
  });
});

describe('airlock grant of a credential bound to origins', () => {
  it('shows it as injected, and grants the binding the manifest asks for when given only the auth plugin id', async () => {
    const home = await newHome();
    const bound = { plugin: 'auth-device-flow', inject: ['https://api.example.com'] };
    const dir = await notesAt('0.1.0', (a) => Object.assign(a.capabilities, { http: ['https://api.example.com'], credentials: [bound] }));
    const add = await airlock(home, ['plugin', 'add', dir, '--yes']);
    expect(add.code).toBe(0);
    expect(add.out).toContain('    credentials  sign-in of auth-device-flow, added by the host to requests to https://api.example.com (the plugin never sees the token)\n');
    expect((await installed(home))[0]).toMatchObject({ grant: { credentials: [bound] } });
    const grant = async (...argv: string[]) => JSON.parse((await airlock(home, [...argv, '--json'])).out) as { changed: boolean; grant: Record<string, unknown> };
    expect((await grant('revoke', 'notes', 'credentials', 'auth-device-flow')).grant).not.toHaveProperty('credentials');
    const again = await airlock(home, ['grant', 'notes', 'credentials', 'auth-device-flow']);
    expect(again.out).toContain('✔ Granted credentials auth-device-flow (injected for https://api.example.com) to notes');
    expect((await installed(home))[0]).toMatchObject({ grant: { credentials: [bound] } });
    expect(await grant('grant', 'notes', 'credentials', 'auth-device-flow')).toMatchObject({ changed: false });
  });
});

describe('usage errors', () => {
  it.each([
    [['plugin'], '`airlock plugin` needs a subcommand: list, info, add, update, remove, enable, disable, verify'],
    [['plugin', 'install', 'x'], 'unknown command `plugin install`'],
    [['plugin', 'add'], 'name what to install: airlock plugin add <source>'],
    [['plugin', 'add', 'a', 'b'], 'unexpected argument `b`'],
    [['plugin', 'add', 'a', '-c', 'x.k=1', '-c', 'y.k=2'], '`--config` names several plugins (x, y)'],
    [['plugin', 'info'], 'name the plugin: airlock plugin info <id>'],
    [['plugin', 'remove', 'a', 'b'], 'unexpected argument `b`'],
    [['plugin', 'update'], 'name the plugin: airlock plugin update <id> [<source>]'],
    [['plugin', 'list', '-p', 'x'], '`--plugin` does not apply to `airlock plugin list`'],
    [['plugin', 'enable', 'notes', '--force'], '`--force` does not apply to `airlock plugin enable`'],
    [['grant', 'notes'], 'name a capability; `airlock grant <id> <capability> [value]` takes storage, http, env, filesystem, credentials'],
    [['grant', 'notes', 'network', 'x'], 'unknown capability `network`; `airlock grant <id> <capability> [value]` takes storage, http, env, filesystem, credentials'],
    [['grant', 'notes', 'http'], '`http` needs a value; expected http <origin>'],
    [['grant', 'notes', 'http', 'ftp://x'], '`ftp://x` is not an origin'],
    [['grant', 'notes', 'env', 'A-B'], '`A-B` is not an environment variable name'],
    [['grant', 'notes', 'storage', 'lots'], '`lots` is not a quota'],
    [['revoke', 'notes', 'credentials', 'Not An Id'], '`Not An Id` is not a plugin id'],
    [['keys'], '`airlock keys` needs a subcommand: generate'],
    [['keys', 'generate', 'now'], 'unexpected argument `now`'],
    [['sign', 'dir'], 'give the private key: airlock sign <dir> --key <file>'],
    [['sign', '--key', 'k'], 'name the plugin directory'],
    [['tools', 'list', '--out', 'x'], '`--out` does not apply to `airlock tools list`'],
  ])('exits 2 for %j', async (argv, message) => {
    const home = await newHome();
    const run = await airlock(home, argv);
    expect(run.code).toBe(2);
    expect(run.err).toContain(message);
    expect(run.out).toBe('');
  });
});
