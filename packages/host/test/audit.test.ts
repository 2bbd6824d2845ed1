import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, auditUrl } from '../src/audit.js';

const dirs: string[] = [];
const home = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-unit-'));
  dirs.push(dir);
  return dir;
};
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const use = (target: string, detail?: string) => ({ plugin: 'p', call: 'tool t', capability: 'http' as const, action: 'GET', target, outcome: 'allowed' as const, detail });

describe('AuditLog', () => {
  it('masks secrets, cuts long texts, and keeps what was written after a close', async () => {
    const dir = await home();
    const log = new AuditLog(dir, (t) => t.replaceAll('sk-secret', '[redacted]'), () => {});
    log.record(use('https://api.example.com/sk-secret/x', 'a sk-secret b'));
    log.record(use('x'.repeat(2000)));
    log.close();
    const reopened = new AuditLog(dir, (t) => t, () => {});
    const [first, second] = reopened.query();
    expect(first).toMatchObject({ seq: 1, target: 'https://api.example.com/[redacted]/x', detail: 'a [redacted] b' });
    expect(second!.target).toHaveLength(512);
    reopened.close();
  });

  it('keeps URLs without their query strings and fragments', () => {
    expect(auditUrl(new URL('https://api.example.com/v1/items?api_key=k#frag'))).toBe('https://api.example.com/v1/items');
  });

  it('drops records it cannot write and says so, without throwing at the plugin', async () => {
    const warnings: string[] = [];
    const log = new AuditLog(await home(), (t) => t, (m) => warnings.push(m));
    // A record SQLite refuses (a NOT NULL column left null) fails the whole write.
    log.record({ ...use('x'), plugin: null as unknown as string });
    expect(() => log.flush()).not.toThrow();
    expect(warnings).toEqual([expect.stringContaining('audit records could not be written to audit.db and were dropped')]);
    log.record(use('y'));
    expect(log.query().map((r) => r.target)).toEqual(['y']);
    log.close();
  });
});
