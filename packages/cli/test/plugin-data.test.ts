// Stored data on the command line: it belongs to the package that wrote it,
// so another package added under the same id starts empty and is told whose
// data is kept; --keep-data hands it over (asking on a terminal); `plugin
// list` and `plugin info` show data kept for an id; `plugin remove --purge`
// deletes it, installed or not.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, signPackage } from '@airlock/host';
import { buildIfStale, pluginVariant } from '@airlock/test-utils';
import { airlockAt, homeMaker, notes } from './helpers.js';

const NOTES = '@airlock/example-notes';
let work: string;
let variants = 0;
const newHome = homeMaker(() => work);
const airlock = airlockAt;

/** The notes plugin as package `name` (manifest id `notes`), at `version`, signed with `key` when given. */
async function notesPackage(name: string, version = '1.0.0', key?: string): Promise<string> {
  const dir = await pluginVariant(notes, join(work, `notes-${++variants}`), (pkg) => {
    pkg.name = name;
    (pkg as { version?: string }).version = version;
  });
  if (key) await signPackage(dir, key);
  return dir;
}

/** Add `dir` and store one note through the installed plugin. */
async function addWithNote(home: string, dir: string, title: string): Promise<void> {
  expect((await airlock(home, ['plugin', 'add', dir, '--yes'])).code).toBe(0);
  expect((await airlock(home, ['tools', 'call', 'add_note', JSON.stringify({ title, body: '' })])).code).toBe(0);
}

async function titles(home: string): Promise<string[]> {
  const call = await airlock(home, ['tools', 'call', 'list_notes', '--json']);
  expect(call.code).toBe(0);
  return (JSON.parse(call.out) as { result: { title: string }[] }).result.map((n) => n.title);
}

const SIZE = /2 keys \(\d+ B\)/;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'airlock-cli-data-'));
  // Built by `turbo run test`; built here only when missing, so that running this file alone works.
  if (!existsSync(join(notes, 'dist/plugin.wasm'))) await buildIfStale(notes, { skipTypecheck: true });
}, 180_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('another package added under the same id', () => {
  it('starts with empty storage, and says whose data is kept and how to hand it over or delete it', async () => {
    const home = await newHome();
    await addWithNote(home, await notesPackage(NOTES), 'secret');
    const removed = await airlock(home, ['plugin', 'remove', 'notes']);
    expect(removed.code).toBe(0);
    expect(removed.out).toMatch(new RegExp(`^✔ Removed notes 1\\.0\\.0; its stored data is kept for @airlock/example-notes \\(unsigned\\): ${SIZE.source} — \`airlock plugin remove notes --purge\` deletes it\\n$`));

    const add = await airlock(home, ['plugin', 'add', await notesPackage('@evil/notes'), '--yes']);
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/^✔ Installed notes 1\.0\.0\nGranted\n/);
    expect(add.err).toMatch(new RegExp(`note: notes starts with empty storage: ${SIZE.source} stored under \`notes\` belong to @airlock/example-notes \\(unsigned\\), not to @evil/notes \\(unsigned\\), and stay kept for it\\.`));
    expect(add.err).toContain('then add it again with --keep-data. `airlock plugin remove notes --purge` deletes them.');
    expect(await titles(home)).toEqual([]);
    expect((await airlock(home, ['tools', 'call', 'get_note', '{"id":1}'])).code).toBe(1);

    // The original, added again, finds its data.
    expect((await airlock(home, ['plugin', 'remove', 'notes'])).code).toBe(0);
    const again = await airlock(home, ['plugin', 'add', await notesPackage(NOTES), '--yes']);
    expect(again.out).toMatch(new RegExp(`^✔ Installed notes 1\\.0\\.0\\nIts stored data was found: ${SIZE.source}\\n`));
    expect(again.err).not.toContain('note:');
    expect(await titles(home)).toEqual(['secret']);
  });

  it('a different signing key is another package', async () => {
    const home = await newHome();
    const publisher = generateKeyPair();
    const other = generateKeyPair();
    await addWithNote(home, await notesPackage(NOTES, '1.0.0', publisher.privateKey), 'signed');
    expect((await airlock(home, ['plugin', 'remove', 'notes'])).code).toBe(0);
    const add = await airlock(home, ['plugin', 'add', await notesPackage(NOTES, '1.0.0', other.privateKey), '--yes']);
    expect(add.err).toContain(`belong to @airlock/example-notes (key ${publisher.keyId}), not to @airlock/example-notes (key ${other.keyId})`);
    expect(await titles(home)).toEqual([]);
  });

  it('gets the data with --keep-data: said whose it is, and on a terminal asked first', async () => {
    const home = await newHome();
    await addWithNote(home, await notesPackage(NOTES), 'handed');
    expect((await airlock(home, ['plugin', 'remove', 'notes'])).code).toBe(0);

    // On a terminal, "no": installed with empty storage, the data stays kept.
    const declined = await airlock(home, ['plugin', 'add', await notesPackage('@acme/notes'), '--keep-data'], { stdinIsTTY: true, answers: ['y', 'n'] });
    expect(declined.code).toBe(0);
    expect(declined.io.questions).toEqual(['Grant these? [y/N] ', 'Hand them over? [y/N] ']);
    expect(declined.err).toMatch(new RegExp(`notes: ${SIZE.source} stored under this id belong to @airlock/example-notes \\(unsigned\\); --keep-data hands them to @acme/notes \\(unsigned\\)\\.`));
    expect(declined.err).toContain('Not handed over; @acme/notes starts with empty storage, and the data stays kept for @airlock/example-notes (unsigned).');
    expect(declined.out).not.toContain('handed');
    expect(await titles(home)).toEqual([]);
    expect((await airlock(home, ['plugin', 'remove', 'notes'])).code).toBe(0);

    const asked = await airlock(home, ['plugin', 'add', await notesPackage('@acme/notes'), '--keep-data'], { stdinIsTTY: true, answers: ['y', 'y'] });
    expect(asked.code).toBe(0);
    expect(asked.io.questions).toEqual(['Grant these? [y/N] ', 'Hand them over? [y/N] ']);
    expect(asked.out).toMatch(new RegExp(`^✔ Installed notes 1\\.0\\.0\\nIt was handed the data kept for @airlock/example-notes \\(unsigned\\): ${SIZE.source}\\n`));
    expect(await titles(home)).toEqual(['handed']);
  });

  it('with --yes, --keep-data is the answer', async () => {
    const home = await newHome();
    await addWithNote(home, await notesPackage(NOTES), 'handed');
    expect((await airlock(home, ['plugin', 'remove', 'notes'])).code).toBe(0);
    const add = await airlock(home, ['plugin', 'add', await notesPackage('@acme/notes'), '--yes', '--keep-data', '--json'], { stdinIsTTY: true, answers: [] });
    expect(add.code).toBe(0);
    expect(add.io.questions).toEqual([]);
    expect(JSON.parse(add.out)).toMatchObject({ id: 'notes', name: '@acme/notes', storedData: [{ owner: { package: '@acme/notes', keyId: null }, inUse: true, keys: 2 }] });
    expect(await titles(home)).toEqual(['handed']);
  });
});

describe('updates to another package', () => {
  it('leave the data with its owner unless --keep-data', async () => {
    const home = await newHome();
    const publisher = generateKeyPair();
    const other = generateKeyPair();
    await addWithNote(home, await notesPackage(NOTES, '1.0.0', publisher.privateKey), 'published');

    const moved = await airlock(home, ['plugin', 'update', 'notes', await notesPackage(NOTES, '2.0.0', other.privateKey)]);
    expect(moved.code).toBe(0);
    expect(moved.err).toContain(`warning: notes 2.0.0 is another package than 1.0.0: @airlock/example-notes (key ${publisher.keyId}) → @airlock/example-notes (key ${other.keyId})`);
    expect(moved.err).toMatch(new RegExp(`note: its stored data \\(${SIZE.source}\\) stays kept for @airlock/example-notes \\(key ${publisher.keyId}\\); notes 2\\.0\\.0 does not get it\\.`));
    expect(await titles(home)).toEqual([]);

    const back = await airlock(home, ['plugin', 'update', 'notes', await notesPackage(NOTES, '3.0.0', publisher.privateKey)]);
    expect(back.code).toBe(0);
    expect(await titles(home)).toEqual(['published']);

    const handed = await airlock(home, ['plugin', 'update', 'notes', await notesPackage('@acme/notes', '4.0.0', publisher.privateKey), '--keep-data', '--json']);
    expect(handed.code).toBe(0);
    expect(JSON.parse(handed.out)).toMatchObject({ from: '3.0.0', to: '4.0.0', ownerChanged: true, dataHandedOver: true });
    expect(await titles(home)).toEqual(['published']);
  });
});

describe('plugin list and plugin info', () => {
  it('show data kept for an id, installed or not, in text and --json', async () => {
    const home = await newHome();
    await addWithNote(home, await notesPackage(NOTES), 'kept');
    expect((await airlock(home, ['plugin', 'remove', 'notes'])).code).toBe(0);

    const list = await airlock(home, ['plugin', 'list']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(new RegExp(`\\nKept stored data\\n  notes: not installed, ${SIZE.source} kept for @airlock/example-notes \\(unsigned\\) — \`airlock plugin remove notes --purge\` deletes it\\n$`));
    const listJson = JSON.parse((await airlock(home, ['plugin', 'list', '--json'])).out) as unknown[];
    expect(listJson).toEqual([
      { id: 'notes', installed: false, storedData: [{ id: 'notes', namespace: 'notes', owner: { package: NOTES, keyId: null }, inUse: false, keptSince: expect.any(Number), keys: 2, bytes: expect.any(Number) }] },
    ]);

    const info = await airlock(home, ['plugin', 'info', 'notes']);
    expect(info.code).toBe(0);
    expect(info.out).toMatch(new RegExp(`^notes: not installed\\n  kept       ${SIZE.source} for @airlock/example-notes \\(unsigned\\), since \\d{4}-\\d\\d-\\d\\dT`));
    expect(info.out).toContain('`airlock plugin remove notes --purge` deletes it.\n');
    expect(JSON.parse((await airlock(home, ['plugin', 'info', 'notes', '--json'])).out)).toMatchObject({ id: 'notes', installed: false, storedData: [{ owner: { package: NOTES }, keys: 2 }] });

    // Installed again by another package: its own (empty) data, and the first one's kept beside it.
    expect((await airlock(home, ['plugin', 'add', await notesPackage('@acme/notes'), '--yes'])).code).toBe(0);
    const both = await airlock(home, ['plugin', 'list']);
    expect(both.out).toMatch(/^ID\s+VERSION.*\nnotes\s+1\.0\.0\s+tool\s+enabled/);
    expect(both.out).toMatch(new RegExp(`  notes: ${SIZE.source} kept for @airlock/example-notes \\(unsigned\\), not the installed package — `));
    const bothJson = JSON.parse((await airlock(home, ['plugin', 'list', '--json'])).out) as Record<string, unknown>[];
    expect(bothJson).toHaveLength(1);
    expect(bothJson[0]).toMatchObject({ id: 'notes', name: '@acme/notes', installed: true, storedData: [{ owner: { package: '@acme/notes' }, inUse: true, keys: 0 }, { owner: { package: NOTES }, inUse: false, keys: 2 }] });
    const installedInfo = await airlock(home, ['plugin', 'info', 'notes']);
    expect(installedInfo.out).toContain('  data       (none stored)\n');
    expect(installedInfo.out).toMatch(new RegExp(`  kept       ${SIZE.source} for @airlock/example-notes \\(unsigned\\), not this package, since `));
  });
});

describe('plugin remove', () => {
  it('--purge deletes the data: the plugin added again starts empty', async () => {
    const home = await newHome();
    await addWithNote(home, await notesPackage(NOTES), 'doomed');
    const purged = await airlock(home, ['plugin', 'remove', 'notes', '--purge']);
    expect(purged.code).toBe(0);
    expect(purged.out).toMatch(new RegExp(`^✔ Removed notes 1\\.0\\.0 and deleted its stored data \\(${SIZE.source}\\)\\n$`));
    expect(JSON.parse((await airlock(home, ['plugin', 'list', '--json'])).out)).toEqual([]);
    expect((await airlock(home, ['plugin', 'info', 'notes'])).code).toBe(1);
    expect((await airlock(home, ['plugin', 'add', await notesPackage(NOTES), '--yes'])).out).not.toContain('stored data was found');
    expect(await titles(home)).toEqual([]);
  });

  it('--purge of an id that is no longer installed deletes the data kept for it; without --purge it says how', async () => {
    const home = await newHome();
    await addWithNote(home, await notesPackage(NOTES), 'kept');
    expect((await airlock(home, ['plugin', 'remove', 'notes'])).code).toBe(0);

    const refused = await airlock(home, ['plugin', 'remove', 'notes']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(new RegExp(`error: no plugin \`notes\` is installed, but data is kept for it: ${SIZE.source} of @airlock/example-notes \\(unsigned\\)`));
    expect(refused.err).toContain('hint: `airlock plugin remove notes --purge` deletes it.');

    const purged = await airlock(home, ['plugin', 'remove', 'notes', '--purge', '--json']);
    expect(purged.code).toBe(0);
    expect(JSON.parse(purged.out)).toMatchObject({ id: 'notes', installed: false, purged: [{ owner: { package: NOTES }, keys: 2 }] });
    expect(JSON.parse((await airlock(home, ['plugin', 'list', '--json'])).out)).toEqual([]);
    const nothing = await airlock(home, ['plugin', 'remove', 'notes', '--purge']);
    expect(nothing.code).toBe(1);
    expect(nothing.err).toContain('no plugin `notes` is installed');
  });

  it('says when there was no data to keep', async () => {
    const home = await newHome();
    expect((await airlock(home, ['plugin', 'add', await notesPackage(NOTES), '--yes'])).code).toBe(0);
    expect(await airlock(home, ['plugin', 'remove', 'notes'])).toMatchObject({ code: 0, out: '✔ Removed notes 1.0.0 (it had no stored data)\n' });
    expect(JSON.parse((await airlock(home, ['plugin', 'list', '--json'])).out)).toEqual([]);
  });

  it('--purge and --keep-data apply only where they mean something', async () => {
    const home = await newHome();
    expect((await airlock(home, ['plugin', 'list', '--purge'])).err).toContain('`--purge` does not apply to `airlock plugin list`');
    expect((await airlock(home, ['plugin', 'remove', 'notes', '--keep-data'])).err).toContain('`--keep-data` does not apply to `airlock plugin remove`');
  });
});
