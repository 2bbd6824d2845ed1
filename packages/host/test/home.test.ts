import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHost } from '../src/index.js';
import { rejected, snapshot } from './helpers.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-home-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});



describe('the home', () => {
  it('is created, with its parents, by default', async () => {
    const home = join(root, 'a', 'b', 'home');
    const host = await createHost({ home, logger: () => {} });
    await host.close();
    expect(existsSync(join(home, 'state.db'))).toBe(true);
  });

  it('is not created when create is false: HOME_NOT_FOUND names it and says how to get one', async () => {
    const home = join(root, 'missing');
    const err = await rejected(createHost({ home, create: false, logger: () => {} }));
    expect(err.code).toBe('HOME_NOT_FOUND');
    expect(err.message).toContain(home);
    expect(err.hint).toMatch(/install a plugin first/);
    expect(existsSync(home)).toBe(false);
  });

  it('opens an existing home when create is false', async () => {
    await (await createHost({ home: root, logger: () => {} })).close();
    await (await createHost({ home: root, create: false, logger: () => {} })).close();
  });

  it('refuses a file as the home with HOME_UNUSABLE', async () => {
    const file = join(root, 'file');
    await writeFile(file, 'x');
    const err = await rejected(createHost({ home: file, logger: () => {} }));
    expect(err.code).toBe('HOME_UNUSABLE');
    expect(err.message).toBe(`cannot use ${file} for the Airlock home: it exists and is not a directory`);
    expect(err.hint).toContain('--home');
    expect(await readFile(file, 'utf8')).toBe('x');
  });

  it.runIf(existsSync('/proc/self'))('refuses a home under /proc with HOME_UNUSABLE instead of retrying mkdir forever', async () => {
    const err = await rejected(createHost({ home: '/proc/airlock-home/x', logger: () => {} }));
    expect(err.code).toBe('HOME_UNUSABLE');
    expect(err.message).toMatch(/^cannot use \/proc\/airlock-home for the Airlock home: /);
  });

  for (const file of ['state.db', 'storage.db']) {
    it(`refuses a ${file} that is not a database with DATABASE_CORRUPT, naming it, and changes nothing in the home`, async () => {
      await writeFile(join(root, file), 'this is not a database, just a text file that ended up here\n'.repeat(100));
      const before = await snapshot(root);
      const err = await rejected(createHost({ home: root, logger: () => {} }));
      expect(err.code).toBe('DATABASE_CORRUPT');
      expect(err.message).toMatch(new RegExp(`^${join(root, file)} is not a readable SQLite database \\(it should hold `));
      expect(err.hint).toContain(`mv ${join(root, file)} ${join(root, file)}.broken`);
      expect(err.hint).toContain('Nothing was changed.');
      expect(await snapshot(root)).toEqual(before);
    });
  }

  it('refuses a state.db whose header is right but whose pages are garbage, with DATABASE_CORRUPT', async () => {
    const garbage = Buffer.alloc(8192, 0xa5);
    garbage.write('SQLite format 3\0', 0, 'latin1');
    await writeFile(join(root, 'state.db'), garbage);
    const err = await rejected(createHost({ home: root, logger: () => {} }));
    expect(err.code).toBe('DATABASE_CORRUPT');
    expect(err.message).toContain(join(root, 'state.db'));
  });
});
