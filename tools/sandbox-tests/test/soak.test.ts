/**
 * The soak suite in its shortened form: every scenario of `soak/run.mjs`
 * (trivial calls, calls that hit the memory cap, traps, deadline kills,
 * reloads under load), each in a fresh process, must stay flat. `pnpm soak`
 * runs the full counts. Nothing here measures time.
 */
import { describe, expect, it } from 'vitest';
import { SCENARIOS, describe as line, passed, runSoak } from '../soak/run.mjs';

describe('a host under a plugin that keeps misbehaving (soak, shortened)', () => {
  for (const name of Object.keys(SCENARIOS)) {
    it(`stays flat: ${name}`, async () => {
      const r = (await runSoak({ scenarios: [name] }))[0]!;
      const summary = line(r);
      // Every call did what it should: the ordinary ones answered, the misbehaving ones failed as they must.
      expect(r.unexpected, summary).toEqual([]);
      expect(r.counts.ok, summary).toBe(r.calls);
      if (name === 'reloads') expect(r.counts.reloads, summary).toBe(r.calls / 1_000);
      else expect(r.counts.misbehaved, summary).toBe(r.misbehaving);
      expect(r.calls, summary).toBeGreaterThanOrEqual(20_000);
      // No discarded instance outlived a collection, and memory ended where its first tenth did.
      expect(r.retainedMemories, summary).toBe(0);
      expect(r.rss.growth, summary).toBeLessThanOrEqual(r.rss.allowed);
      expect(r.workerHeap.growth, summary).toBeLessThanOrEqual(r.workerHeap.allowed);
      expect(passed(r), summary).toBe(true);
    }, 900_000);
  }
});
