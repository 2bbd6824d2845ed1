// The event bus on its own, with plugins stood in for by functions: who gets
// what, in which order, what a slow subscriber loses, what a cycle is stopped by.
import { describe, expect, it } from 'vitest';
import { EventBus, MAX_HOPS, topicCovers, type EventTarget } from '../../src/capabilities/events.js';
import { AirlockError } from '../../src/errors.js';

/** A subscriber whose deliveries wait until `release()`; what it got, in order. */
function subscriber() {
  const got: { topic: string; payload: unknown; hops: number }[] = [];
  const counts = { delivered: 0, dropped: 0 };
  let open: (() => void) | undefined;
  let gate = Promise.resolve();
  const target: EventTarget = {
    deliver: async (topic, payload, hops) => {
      await gate;
      got.push({ topic, payload: JSON.parse(payload), hops });
    },
    meter: { delivered: () => void counts.delivered++, dropped: () => void counts.dropped++ },
  };
  return {
    target,
    got,
    counts,
    hold: () => void (gate = new Promise<void>((resolve) => (open = resolve))),
    release: () => open?.(),
  };
}

const logs: string[] = [];
const bus = (options: { maxQueued?: number } = {}) => new EventBus({ ...options, log: (_level, message) => void logs.push(message) });
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('topicCovers', () => {
  it.each([
    ['notes.saved', 'notes.saved', true],
    ['notes.*', 'notes.saved', true],
    ['notes.*', 'notes.v2.saved', true],
    ['notes.*', 'notes.v2.*', true],
    ['notes.*', 'notes', false],
    ['notes.*', 'notesx.saved', false],
    ['notes.saved', 'notes.saved.x', false],
  ])('%s covers %s: %s', (pattern, topic, expected) => {
    expect(topicCovers(pattern, topic)).toBe(expected);
  });
});

describe('EventBus', () => {
  it('delivers to the plugins and host handlers whose topics match, in order, never back to the publisher', async () => {
    const b = bus();
    const notes = subscriber();
    const files = subscriber();
    const heard: unknown[] = [];
    b.attach('notes', ['notes.*'], notes.target);
    b.attach('files', ['files.changed', 'notes.saved'], files.target);
    b.subscribe('notes.*', (e) => heard.push(e));
    b.publish('notes.saved', { n: 1 });
    b.publish('files.changed', { n: 2 });
    b.publish('notes.deleted', { n: 3 });
    expect(b.publishFrom('notes', ['notes.*'], 'notes.saved', '{"n":4}', 0)).toEqual({ ok: undefined, outcome: 'allowed' });
    await settled();
    expect(notes.got.map((e) => e.payload)).toEqual([{ n: 1 }, { n: 3 }]);
    expect(files.got).toEqual([
      { topic: 'notes.saved', payload: { n: 1 }, hops: 0 },
      { topic: 'files.changed', payload: { n: 2 }, hops: 0 },
      { topic: 'notes.saved', payload: { n: 4 }, hops: 1 },
    ]);
    expect(heard).toEqual([
      { topic: 'notes.saved', payload: { n: 1 }, from: 'host' },
      { topic: 'notes.deleted', payload: { n: 3 }, from: 'host' },
      { topic: 'notes.saved', payload: { n: 4 }, from: 'notes' },
    ]);
  });

  it('never makes the publisher wait: a subscriber that falls behind loses its oldest events, and the log says so once per burst', async () => {
    logs.length = 0;
    const b = bus({ maxQueued: 4 });
    const slow = subscriber();
    b.attach('slow', ['tick'], slow.target);
    slow.hold();
    for (let i = 0; i < 20; i++) b.publish('tick', i);
    expect(b.queued('slow')).toBe(4);
    expect(slow.counts.dropped).toBe(15);
    slow.release();
    await settled();
    // The first was on its way when the rest came; of those, the newest four waited.
    expect(slow.got.map((e) => e.payload)).toEqual([0, 16, 17, 18, 19]);
    expect(slow.counts).toEqual({ delivered: 5, dropped: 15 });
    expect(logs).toEqual([
      'events for `slow` arrive faster than it handles them: its oldest waiting events are dropped (at most 4 wait)',
      '`slow` caught up; 15 of its events were dropped',
    ]);
  });

  it('refuses a publish without a grant, naming what to grant, and malformed topics and payloads', () => {
    const b = bus();
    expect(b.publishFrom('notes', ['notes.*'], 'files.changed', '{}', 0)).toMatchObject({
      outcome: 'refused',
      err: { tag: 'denied', val: 'plugin `notes` holds no events grant to publish on `files.changed`: list "files.changed" in "capabilities.events.publish" of its manifest, and have the user grant it' },
    });
    expect(b.publishFrom('notes', undefined, 'notes.saved', '{}', 0)).toMatchObject({ err: { tag: 'denied' } });
    expect(b.publishFrom('notes', ['notes.*'], 'Notes Saved', '{}', 0)).toMatchObject({ err: { tag: 'invalid' } });
    expect(b.publishFrom('notes', ['notes.*'], 'notes.saved', '{not json', 0)).toMatchObject({ err: { tag: 'invalid', val: 'the payload of `notes.saved` is not JSON text' } });
    expect(b.publishFrom('notes', ['notes.*'], 'notes.saved', JSON.stringify('x'.repeat(70_000)), 0)).toMatchObject({ err: { tag: 'invalid' } });
    for (const bad of [() => b.publish('Bad', {}), () => b.publish('ok', { big: 'x'.repeat(70_000) }), () => b.subscribe('*', () => {})]) {
      expect(bad).toThrow(AirlockError);
      try {
        bad();
      } catch (e) {
        expect((e as AirlockError).code).toBe('EVENT_INVALID');
      }
    }
  });

  it('ends a chain of events published while handling events after MAX_HOPS', () => {
    const b = bus();
    expect(b.publishFrom('a', ['x'], 'x', '{}', MAX_HOPS - 1)).toMatchObject({ outcome: 'allowed' });
    expect(b.publishFrom('a', ['x'], 'x', '{}', MAX_HOPS)).toMatchObject({ outcome: 'refused', err: { tag: 'invalid', val: expect.stringContaining('a cycle between subscribers?') } });
  });

  it('keeps what waits for a plugin across a reload (attached again), and drops it when the plugin goes', async () => {
    const b = bus();
    const old = subscriber();
    b.attach('p', ['t'], old.target);
    old.hold();
    b.publish('t', 1);
    b.publish('t', 2);
    const fresh = subscriber();
    b.attach('p', ['t'], fresh.target);
    old.release();
    await settled();
    expect(old.got.map((e) => e.payload)).toEqual([1]);
    expect(fresh.got.map((e) => e.payload)).toEqual([2]);
    b.detach('p');
    b.publish('t', 3);
    await settled();
    expect(fresh.got.map((e) => e.payload)).toEqual([2]);
  });

  it('gives each host handler its own copy, and a handler that throws does not stop the others', () => {
    const b = bus();
    const seen: unknown[] = [];
    b.subscribe('t', (e) => {
      (e.payload as { n: number }).n = 99;
      throw new Error('handler bug');
    });
    b.subscribe('t', (e) => seen.push(e.payload));
    b.publish('t', { n: 1 });
    expect(seen).toEqual([{ n: 1 }]);
  });
});
