/**
 * Events between the host and plugins. A plugin publishes on the topics its
 * grant names (`events.publish`) and receives, through its `on-event` hook,
 * what is published on the topics it subscribes to (`events.subscribe`); the
 * host publishes to plugins and subscribes to theirs (`host.publish`,
 * `host.subscribe`). Topics are dot-separated names (`notes.saved`); an entry
 * may end in `.*` to cover every topic under a prefix. Only the host
 * publishes `airlock.*`.
 *
 * Delivery: each subscribing plugin has one queue, served one event at a time
 * as a call into the plugin (so in publishing order, per topic and across
 * topics). Publishing never waits for a subscriber: a queue that reaches its
 * bound drops its oldest event, counts it, and says so in the log. An event a
 * plugin publishes while handling an event is one hop further along; past
 * `MAX_HOPS` a publish is refused, which ends a cycle between subscribers.
 */
import { AirlockError } from '../errors.js';
import { TOPIC, TOPIC_PATTERN, topicPatternProblem } from '../manifest.js';
import type { HostReply } from '../sandbox/protocol.js';
import type { CapabilitySpec, ItemOf } from './spec.js';

export type Direction = 'publish' | 'subscribe';

/** Whether topic pattern `pattern` (`notes.saved`, `notes.*`) covers topic or pattern `asked`. */
export function topicCovers(pattern: string, asked: string): boolean {
  if (pattern === asked) return true;
  if (!pattern.endsWith('.*')) return false;
  const prefix = pattern.slice(0, -1); // `notes.`
  return asked.startsWith(prefix) && asked.length > prefix.length;
}

const DIRECTIONS: readonly Direction[] = ['publish', 'subscribe'];

export const eventsCapability: CapabilitySpec<'events'> = {
  name: 'events',
  form: 'events publish:<topic> or events subscribe:<topic> (a topic such as notes.saved, or a prefix notes.*)',
  items: (events) => DIRECTIONS.flatMap((direction) => (events[direction] ?? []).map((topic) => ({ capability: 'events' as const, direction, topic }))),
  covers: (granted, item) => granted?.[item.direction]?.some((p) => topicCovers(p, item.topic)) ?? false,
  add: (granted, item) => {
    const next = { ...granted };
    next[item.direction] = [...new Set([...(granted?.[item.direction] ?? []), item.topic])];
    return next;
  },
  remove: (granted, item) => {
    const next = { ...granted };
    const kept = (granted?.[item.direction] ?? []).filter((t) => t !== item.topic);
    if (kept.length) next[item.direction] = kept;
    else delete next[item.direction];
    return next.publish || next.subscribe ? next : undefined;
  },
  parse: (value) => {
    const m = /^(publish|subscribe):(.+)$/.exec(value ?? '');
    if (!m) return { problem: `\`${value}\` does not say publish:<topic> or subscribe:<topic>` };
    const problem = topicPatternProblem(m[2]!);
    return problem ? { problem: `\`${m[2]}\` ${problem}` } : { capability: 'events', direction: m[1] as Direction, topic: m[2]! };
  },
  describe: (item) => `events ${item.direction}:${item.topic}`,
  show: (item) => ({ value: item.direction === 'publish' ? `publish on ${item.topic}` : `receive ${item.topic}`, risky: false }),
};

export type EventsItem = ItemOf<'events'>;

/** An event as the host hands it to its subscribers. */
export interface PublishedEvent {
  topic: string;
  /** The payload, parsed from JSON. */
  payload: unknown;
  /** The plugin that published it, or `host`. */
  from: string;
}

/** What the bus needs of a subscribing plugin. */
export interface EventTarget {
  /** Deliver one event: a call into the plugin, resolved when its `on-event` returns. `hops` is how many publishes led to it. */
  deliver(topic: string, payload: string, hops: number): Promise<void>;
  /** Counts of events delivered and dropped (the plugin's metrics). */
  meter?: { delivered(): void; dropped(): void };
}

export interface EventBusOptions {
  /** Events a subscriber may have waiting before its oldest are dropped. Default 256. */
  maxQueued?: number;
  /** Largest payload, in bytes of JSON text. Default 64 KiB. */
  maxPayloadBytes?: number;
  log: (level: 'warn' | 'debug', message: string, plugin?: string) => void;
}

/** How many publishes in a row, each made while handling the event before, a chain of events may have. */
export const MAX_HOPS = 8;

interface Queued {
  topic: string;
  payload: string;
  hops: number;
}

interface Subscriber {
  patterns: readonly string[];
  target: EventTarget;
  queue: Queued[];
  running: boolean;
  /** Drops since the log last said so. */
  unreported: number;
}

export class EventBus {
  readonly #plugins = new Map<string, Subscriber>();
  readonly #handlers = new Set<{ pattern: string; handler: (event: PublishedEvent) => void }>();
  readonly #maxQueued: number;
  readonly maxPayloadBytes: number;
  readonly #log: EventBusOptions['log'];

  constructor(options: EventBusOptions) {
    this.#maxQueued = options.maxQueued ?? 256;
    this.maxPayloadBytes = options.maxPayloadBytes ?? 64 * 1024;
    this.#log = options.log;
  }

  /** Deliver events on `patterns` to plugin `id` from now on; a plugin attached again (a reload) keeps the events waiting for it. */
  attach(id: string, patterns: readonly string[], target: EventTarget): void {
    const known = this.#plugins.get(id);
    if (known) Object.assign(known, { patterns, target });
    else this.#plugins.set(id, { patterns, target, queue: [], running: false, unreported: 0 });
  }

  /** Stop delivering to plugin `id`; what was waiting for it is dropped. */
  detach(id: string): void {
    const known = this.#plugins.get(id);
    if (!known) return;
    known.queue.length = 0;
    this.#plugins.delete(id);
  }

  /** Hear events on topics `pattern` covers, from plugins (and the host). Returns the way to stop. */
  subscribe(pattern: string, handler: (event: PublishedEvent) => void): () => void {
    if (typeof pattern !== 'string' || !TOPIC_PATTERN.test(pattern)) throw invalidEvent(`\`${String(pattern)}\` ${topicPatternProblem(String(pattern))}`);
    const entry = { pattern, handler };
    this.#handlers.add(entry);
    return () => void this.#handlers.delete(entry);
  }

  /** Publish as the host. */
  publish(topic: string, payload: unknown): void {
    if (typeof topic !== 'string' || !TOPIC.test(topic)) throw invalidEvent(`\`${String(topic)}\` is not a topic (dot-separated lowercase words, such as \`notes.saved\`)`);
    const text = JSON.stringify(payload ?? null);
    if (text === undefined) throw invalidEvent(`the payload of \`${topic}\` cannot be written as JSON`);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxPayloadBytes) throw invalidEvent(`the payload of \`${topic}\` is ${bytes} bytes, over the limit of ${this.maxPayloadBytes}`);
    this.#dispatch('host', topic, text, 0, payload ?? null);
  }

  /**
   * Serve `events.publish` for plugin `id`, which may publish on `granted`;
   * `hops` is how many publishes led to the call it is in. Refusals say what
   * to grant.
   */
  publishFrom(id: string, granted: readonly string[] | undefined, topic: unknown, payload: unknown, hops: number): HostReply & { outcome: 'allowed' | 'refused'; detail?: string } {
    const refuse = (tag: 'denied' | 'invalid', why: string) => ({ err: { tag, val: why }, outcome: 'refused' as const, detail: why });
    if (typeof topic !== 'string' || !TOPIC.test(topic)) return refuse('invalid', `\`${String(topic).slice(0, 140)}\` is not a topic: use dot-separated lowercase words, such as \`notes.saved\``);
    if (!granted?.some((p) => topicCovers(p, topic))) {
      return refuse('denied', `plugin \`${id}\` holds no events grant to publish on \`${topic}\`: list "${topic}" in "capabilities.events.publish" of its manifest, and have the user grant it`);
    }
    if (typeof payload !== 'string' || Buffer.byteLength(payload) > this.maxPayloadBytes) {
      return refuse('invalid', `the payload of \`${topic}\` is over the limit of ${this.maxPayloadBytes} bytes`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return refuse('invalid', `the payload of \`${topic}\` is not JSON text`);
    }
    if (hops >= MAX_HOPS) return refuse('invalid', `\`${topic}\` would be hop ${hops + 1} of a chain of events published while handling events (at most ${MAX_HOPS} hops): a cycle between subscribers?`);
    this.#dispatch(id, topic, payload, hops + 1, parsed);
    return { ok: undefined, outcome: 'allowed' };
  }

  #dispatch(from: string, topic: string, text: string, hops: number, parsed: unknown): void {
    for (const { pattern, handler } of this.#handlers) {
      if (!topicCovers(pattern, topic)) continue;
      try {
        // Each handler gets its own copy: one cannot change what the next sees.
        handler({ topic, payload: structuredClone(parsed), from });
      } catch (err) {
        this.#log('warn', `a host subscriber to \`${pattern}\` threw on \`${topic}\`: ${(err as Error)?.message ?? String(err)}`);
      }
    }
    for (const [id, sub] of this.#plugins) {
      // A plugin does not hear its own events.
      if (id === from || !sub.patterns.some((p) => topicCovers(p, topic))) continue;
      if (sub.queue.length >= this.#maxQueued) {
        sub.queue.shift();
        sub.target.meter?.dropped();
        if (sub.unreported++ === 0) this.#log('warn', `events for \`${id}\` arrive faster than it handles them: its oldest waiting events are dropped (at most ${this.#maxQueued} wait)`, id);
      }
      sub.queue.push({ topic, payload: text, hops });
      if (!sub.running) void this.#pump(id, sub);
    }
  }

  /** Serve one subscriber's queue, one event at a time. */
  async #pump(id: string, sub: Subscriber): Promise<void> {
    sub.running = true;
    try {
      for (let next = sub.queue.shift(); next !== undefined; next = sub.queue.shift()) {
        try {
          await sub.target.deliver(next.topic, next.payload, next.hops);
          sub.target.meter?.delivered();
        } catch (err) {
          this.#log('warn', `\`${id}\` failed to handle an event on \`${next.topic}\`: ${(err as Error)?.message ?? String(err)}`, id);
        }
        if (sub.queue.length === 0 && sub.unreported > 0) {
          this.#log('warn', `\`${id}\` caught up; ${sub.unreported} of its events were dropped`, id);
          sub.unreported = 0;
        }
      }
    } finally {
      sub.running = false;
    }
  }

  /** Events waiting for plugin `id`. */
  queued(id: string): number {
    return this.#plugins.get(id)?.queue.length ?? 0;
  }

  /** Drop everything: the host is closing. */
  close(): void {
    for (const sub of this.#plugins.values()) sub.queue.length = 0;
    this.#plugins.clear();
    this.#handlers.clear();
  }
}

const invalidEvent = (message: string) => new AirlockError('EVENT_INVALID', message, { hint: 'Topics are dot-separated lowercase words (`notes.saved`); a subscription may end in `.*` (`notes.*`). Payloads must be JSON, at most 64 KiB.' });
