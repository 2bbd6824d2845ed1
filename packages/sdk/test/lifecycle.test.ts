// The `lifecycle` export every define*Plugin builds, and `events.publish`. The host interfaces
// resolve to the fakes in test/fakes (see vitest.config.ts).
import { beforeEach, describe, expect, it } from 'vitest';
import { defineAuthPlugin, defineProviderPlugin, defineToolPlugin, events, HostError } from '../src/index.js';
import * as fakeEvents from './fakes/events.js';
import * as fakeLog from './fakes/log.js';
import { thrownBy } from './helpers.js';

beforeEach(() => {
  fakeEvents.published.length = 0;
  fakeEvents.refused.clear();
});

describe('lifecycle hooks', () => {
  it('hand init the parsed configuration, events their parsed payload, and run shutdown', async () => {
    const seen: unknown[] = [];
    const plugin = defineToolPlugin({
      tools: [],
      init: (config) => void seen.push(['init', config]),
      onEvent: async (topic, payload) => void seen.push(['event', topic, payload]),
      shutdown: () => void seen.push(['shutdown']),
    });
    await plugin.lifecycle.init('{"region":"eu"}');
    await plugin.lifecycle.onEvent('notes.saved', '{"id":3}');
    await plugin.lifecycle.shutdown();
    expect(seen).toEqual([['init', { region: 'eu' }], ['event', 'notes.saved', { id: 3 }], ['shutdown']]);
  });

  it('turn what init throws into the WIT error string (an Error would trap the component)', async () => {
    const plugin = defineProviderPlugin({
      info: async () => ({ name: 'x', defaultModel: undefined }),
      models: async () => [],
      chat: async () => {
        throw new Error('unused');
      },
      init: () => {
        throw new Error('region must be set');
      },
    } as unknown as Parameters<typeof defineProviderPlugin>[0]);
    await expect(plugin.lifecycle.init('{}')).rejects.toBe('region must be set');
  });

  it('log what onEvent and shutdown throw, instead of trapping the instance', async () => {
    fakeLog.lines.length = 0;
    const plugin = defineToolPlugin({
      tools: [],
      onEvent: () => {
        throw new Error('bad event');
      },
      shutdown: async () => {
        throw new Error('could not flush');
      },
    });
    await expect(plugin.lifecycle.onEvent('notes.saved', '{}')).resolves.toBeUndefined();
    await expect(plugin.lifecycle.shutdown()).resolves.toBeUndefined();
    expect(fakeLog.lines.map(([level, text]) => [level, text.split('\n')[0]])).toEqual([
      ['warn', 'onEvent failed on notes.saved: Error: bad event'],
      ['warn', 'shutdown failed: Error: could not flush'],
    ]);
  });

  it('do nothing when left out', async () => {
    const plugin = defineAuthPlugin({
      status: async () => ({ signedIn: false, account: undefined, expiresAt: undefined, scopes: [], method: undefined }),
      getToken: async () => {
        throw new Error('unused');
      },
      logout: async () => {},
    } as unknown as Parameters<typeof defineAuthPlugin>[0]);
    await expect(plugin.lifecycle.init('{}')).resolves.toBeUndefined();
    await expect(plugin.lifecycle.onEvent('t', 'null')).resolves.toBeUndefined();
    await expect(plugin.lifecycle.shutdown()).resolves.toBeUndefined();
  });
});

describe('events.publish', () => {
  it('sends the payload as JSON text', () => {
    events.publish('notes.saved', { id: 3, title: 'x' });
    events.publish('notes.cleared');
    expect(fakeEvents.published).toEqual([
      { topic: 'notes.saved', payload: '{"id":3,"title":"x"}' },
      { topic: 'notes.cleared', payload: 'null' },
    ]);
  });

  it('throws a HostError with the case and the host\'s message when the topic is not granted', () => {
    fakeEvents.refused.add('secrets.leaked');
    const err = thrownBy(() => events.publish('secrets.leaked', {}));
    expect(err).toBeInstanceOf(HostError);
    expect(err).toMatchObject({ code: 'denied', message: expect.stringContaining('no events grant to publish on `secrets.leaked`') });
  });
});
