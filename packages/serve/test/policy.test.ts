/** The serve policy in `<home>/config.json`: defaults, what it says, and clear errors for what it cannot mean. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolInfo } from '@airlock/host';
import { needsConfirmation, readToolPolicy } from '../src/index.js';

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-policy-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const tool = (risk: ToolInfo['risk'], name = 'wipe', plugin = 'files'): ToolInfo => ({ name, plugin, qualifiedName: `${plugin}.${name}`, description: '', parameters: { type: 'object' }, risk });
const config = (json: unknown) => writeFile(join(home, 'config.json'), typeof json === 'string' ? json : JSON.stringify(json));

describe('the tool policy', () => {
  it('asks before dangerous tools only, by default, and without a config file', async () => {
    const policy = await readToolPolicy(join(home, 'nowhere'));
    expect(needsConfirmation(policy, tool('dangerous'))).toBe(true);
    expect(needsConfirmation(policy, tool('risky'))).toBe(false);
    expect(needsConfirmation(policy, tool('read-only'))).toBe(false);
  });

  it('reads confirm and allow from the serve section', async () => {
    await config({ trust: { keys: [] }, serve: { confirm: ['risky', 'dangerous'], allow: ['files.wipe', 'backup.*'] } });
    const policy = await readToolPolicy(home);
    expect(policy.source).toBe(join(home, 'config.json'));
    expect(needsConfirmation(policy, tool('risky', 'publish'))).toBe(true);
    expect(needsConfirmation(policy, tool('dangerous'))).toBe(false);
    expect(needsConfirmation(policy, tool('dangerous', 'restore', 'backup'))).toBe(false);
    expect(needsConfirmation(policy, tool('dangerous', 'drop', 'db'))).toBe(true);
  });

  it('refuses a section it cannot read, saying which file and what it should look like', async () => {
    await config({ serve: { confirm: ['scary'] } });
    await expect(readToolPolicy(home)).rejects.toMatchObject({ code: 'HOST_OPTIONS_INVALID', message: expect.stringContaining('serve.confirm') });
    await config({ serve: { allow: ['not a tool'] } });
    await expect(readToolPolicy(home)).rejects.toMatchObject({ message: expect.stringContaining('serve.allow'), hint: expect.stringContaining('"serve"') });
    await config('{"serve": ');
    await expect(readToolPolicy(home)).rejects.toMatchObject({ message: expect.stringContaining('is not valid JSON') });
  });
});
